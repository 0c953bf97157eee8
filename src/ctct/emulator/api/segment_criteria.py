"""Segment criteria (``segment_criteria``, single-string escaped JSON): validated and
compiled to SQL over the ``contacts`` table, so a segment is evaluated on the emulated
contacts whenever it is read (segments are dynamic, as at CC).

Pure logic: a criteria string in, a ``Criteria`` out (or CC's 400 naming every problem);
``Criteria.sql`` gives one SQL condition and its parameters.

The shape is CC's (the contract's example is
``{"version":"1.0.0","criteria":{"type":"and","group":[{"source":"tracking",
"field":"not_opened","op":"contains-any","const_value":"last-n-campaigns","param":"5"}]}}``)::

    {"version": "1.0.0", "criteria": GROUP}
    GROUP     = {"type": "and" | "or", "group": [GROUP | CONDITION, ...]}   (top level: "and")
    CONDITION = {"source": ..., "field": ..., "op": ..., ...}

CC documents the four sources but publishes the grammar of only the tracking example,
so the rest is the emulator's choice (docs/emulator.md lists it):

- ``tracking``: ``field`` is ``sent``, ``opened``, ``not_opened`` (sent, not opened),
  ``clicked``, ``not_clicked``, ``bounced``, ``opted_out`` or ``forwarded``; ``op``
  ``contains-any`` (the contact has that event for at least one of the campaign
  activities chosen) or ``contains-all`` (for every one of them); the activities are
  chosen by ``const_value``: ``last-n-campaigns`` (``param``: N, 1-500, the N most
  recently sent), ``last-n-days`` (``param``: days, 1-1825) or ``campaign-activities``
  (``param``: comma-separated campaign activity ids, up to 500).
- ``contact``: ``field`` is a contact property (``first_name``, ``last_name``,
  ``job_title``, ``company_name``, ``email_address``, ``birthday_month``,
  ``birthday_day``, ``anniversary``, ``permission_to_send``, ``street_addresses.city``,
  ``.state``, ``.postal_code``, ``.country``, or ``custom_fields.<custom_field_id>``);
  ``op`` ``eq``, ``ne``, ``contains``, ``not-contains``, ``starts-with``, ``is-empty``,
  ``is-not-empty``; ``value`` the string compared (case-insensitively; a street-address
  field matches when any of the contact's addresses does, ``ne``/``not-contains`` when
  none does).
- ``list_membership``: ``field`` ``list_id``, ``op`` ``contains-any``, ``value`` an array
  (or comma-separated string) of list ids: members of any of them.
- ``tags``: ``field`` ``tag_id``, ``op`` ``contains-any`` or ``not-contains-any``,
  ``value`` tag ids as for lists.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from ctct.emulator.api import errors
from ctct.emulator.api.contact_input import SCALAR_FIELDS, is_uuid
from ctct.emulator.api.params import whole_number

AREA: Final = "segments"
VERSION: Final = "1.0.0"
MAX_LENGTH: Final = 20_000
MAX_CAMPAIGNS: Final = 500
MAX_DAYS: Final = 1825
MAX_DEPTH: Final = 5
MAX_IDS: Final = 500

# The tracking events a field names: (event kind, whether the contact must lack it).
TRACKING_FIELDS: Final = {
    "sent": ("send", None),
    "opened": ("open", None),
    "not_opened": ("send", "open"),
    "clicked": ("click", None),
    "not_clicked": ("send", "click"),
    "bounced": ("bounce", None),
    "opted_out": ("optout", None),
    "forwarded": ("forward", None),
}
TRACKING_OPS: Final = ("contains-any", "contains-all")
CAMPAIGN_CHOICES: Final = ("last-n-campaigns", "last-n-days", "campaign-activities")
CONTACT_SCALARS: Final = SCALAR_FIELDS  # first_name ... anniversary
ADDRESS_FIELDS: Final = ("city", "state", "postal_code", "country")
CONTACT_OPS: Final = (
    "eq",
    "ne",
    "contains",
    "not-contains",
    "starts-with",
    "is-empty",
    "is-not-empty",
)
# Negated ops and the positive test they negate (for conditions over several values).
_POSITIVE: Final = {"ne": "eq", "not-contains": "contains", "is-empty": "is-not-empty"}


@dataclass
class _Problems:
    messages: list[str] = field(default_factory=list)

    def add(self, message: str) -> None:
        self.messages.append(message)


@dataclass(frozen=True)
class Criteria:
    """Validated criteria: the tree as sent (for the response) and its SQL."""

    text: str
    tree: dict[str, Any]

    def sql(self, alias: str, account_id: str, now: float) -> tuple[str, list[Any]]:
        """One SQL condition over ``contacts`` (named ``alias`` in the query) and its
        parameters; ``now`` (the emulator's clock) anchors ``last-n-days``."""
        return _Compiler(alias, account_id, now).group(self.tree["criteria"])


def parse(text: object) -> Criteria:
    """Validate ``segment_criteria``; CC's 400 listing every problem otherwise."""
    if not isinstance(text, str) or not text.strip():
        raise errors.validation(AREA, "segment_criteria is required: single-string escaped JSON.")
    if len(text) > MAX_LENGTH:
        raise errors.validation(
            AREA, f"segment_criteria must be at most {MAX_LENGTH:,} characters."
        )
    try:
        tree = json.loads(text)
    except ValueError as exc:
        raise errors.validation(
            AREA, f"segment_criteria is not valid JSON ({exc}); send it as one escaped string."
        ) from None
    problems = _Problems()
    if not isinstance(tree, dict):
        problems.add("segment_criteria must be a JSON object with version and criteria.")
    else:
        if tree.get("version") != VERSION:
            problems.add(f'segment_criteria.version must be "{VERSION}".')
        for key in tree:
            if key not in ("version", "criteria"):
                problems.add(f"segment_criteria.{key} is not a criteria property.")
        top = tree.get("criteria")
        if not isinstance(top, dict) or top.get("type") != "and":
            problems.add('segment_criteria.criteria must be a group whose type is "and".')
        else:
            _check_group(top, "criteria", 1, problems)
    if problems.messages:
        raise errors.validation(AREA, *problems.messages)
    assert isinstance(tree, dict)
    return Criteria(text, tree)


def _check_group(group: dict[str, Any], where: str, depth: int, problems: _Problems) -> None:
    if depth > MAX_DEPTH:
        problems.add(f"{where}: groups nest at most {MAX_DEPTH} deep.")
        return
    if group.get("type") not in ("and", "or"):
        problems.add(f'{where}.type must be "and" or "or".')
    items = group.get("group")
    if not isinstance(items, list) or not items:
        problems.add(f"{where}.group must be a non-empty array of conditions or groups.")
        return
    for index, item in enumerate(items):
        at = f"{where}.group[{index}]"
        if not isinstance(item, dict):
            problems.add(f"{at} must be an object.")
        elif "group" in item:
            _check_group(item, at, depth + 1, problems)
        else:
            _check_condition(item, at, problems)


def _check_condition(cond: dict[str, Any], where: str, problems: _Problems) -> None:
    source = cond.get("source")
    checks: dict[str, Callable[[dict[str, Any], str, _Problems], None]] = {
        "tracking": _check_tracking,
        "contact": _check_contact,
        "list_membership": _check_ids_condition("list_id", ("contains-any",)),
        "tags": _check_ids_condition("tag_id", ("contains-any", "not-contains-any")),
    }
    check = checks.get(source) if isinstance(source, str) else None
    if check is None:
        problems.add(f"{where}.source must be one of {', '.join(checks)}.")
        return
    check(cond, where, problems)


def _check_tracking(cond: dict[str, Any], where: str, problems: _Problems) -> None:
    if cond.get("field") not in TRACKING_FIELDS:
        problems.add(f"{where}.field must be one of {', '.join(TRACKING_FIELDS)}.")
    if cond.get("op") not in TRACKING_OPS:
        problems.add(f"{where}.op must be one of {', '.join(TRACKING_OPS)}.")
    choice, param = cond.get("const_value"), cond.get("param")
    if choice not in CAMPAIGN_CHOICES:
        problems.add(f"{where}.const_value must be one of {', '.join(CAMPAIGN_CHOICES)}.")
    elif choice == "campaign-activities":
        ids = _id_list(param)
        if ids is None or not 1 <= len(ids) <= MAX_CAMPAIGNS:
            problems.add(
                f"{where}.param must list 1 to {MAX_CAMPAIGNS} campaign activity ids, "
                "comma-separated."
            )
    else:
        limit = MAX_CAMPAIGNS if choice == "last-n-campaigns" else MAX_DAYS
        number = _whole(param)
        if number is None or not 1 <= number <= limit:
            unit = "campaigns" if choice == "last-n-campaigns" else "days"
            problems.add(f"{where}.param must be a whole number of {unit} from 1 to {limit}.")


def _contact_field_ok(name: object) -> bool:
    if not isinstance(name, str):
        return False
    if name in (*CONTACT_SCALARS, "email_address", "permission_to_send"):
        return True
    prefix, _, rest = name.partition(".")
    if prefix == "street_addresses":
        return rest in ADDRESS_FIELDS
    return prefix == "custom_fields" and is_uuid(rest)


def _check_contact(cond: dict[str, Any], where: str, problems: _Problems) -> None:
    if not _contact_field_ok(cond.get("field")):
        problems.add(
            f"{where}.field must be a contact property ({', '.join(CONTACT_SCALARS)}, "
            "email_address, permission_to_send, street_addresses.<city|state|postal_code|"
            "country> or custom_fields.<custom_field_id>)."
        )
    op = cond.get("op")
    if op not in CONTACT_OPS:
        problems.add(f"{where}.op must be one of {', '.join(CONTACT_OPS)}.")
    elif op not in ("is-empty", "is-not-empty"):
        value = cond.get("value")
        if not isinstance(value, str | int) or isinstance(value, bool) or str(value) == "":
            problems.add(f"{where}.value must be a non-empty string for op {op}.")


def _check_ids_condition(
    field_name: str, ops: tuple[str, ...]
) -> Callable[[dict[str, Any], str, _Problems], None]:
    def check(cond: dict[str, Any], where: str, problems: _Problems) -> None:
        if cond.get("field") != field_name:
            problems.add(f'{where}.field must be "{field_name}".')
        if cond.get("op") not in ops:
            problems.add(f"{where}.op must be one of {', '.join(ops)}.")
        ids = _id_list(cond.get("value"))
        if ids is None or not 1 <= len(ids) <= MAX_IDS:
            problems.add(f"{where}.value must list 1 to {MAX_IDS} ids (UUIDs).")

    return check


def _id_list(raw: object) -> list[str] | None:
    """UUIDs from an array or a comma-separated string; None if any is not a UUID."""
    if isinstance(raw, str):
        items: list[object] = [part.strip() for part in raw.split(",") if part.strip()]
    elif isinstance(raw, list):
        items = list(raw)
    else:
        return None
    if not all(is_uuid(i) for i in items):
        return None
    return list(dict.fromkeys(str(i).lower() for i in items))


def _whole(raw: object) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str):
        return whole_number(raw)
    return None


class _Compiler:
    """Turns a validated tree into SQL. Tracking conditions read ``email_tracking``."""

    def __init__(self, alias: str, account_id: str, now: float) -> None:
        self.alias = alias
        self.account_id = account_id
        self.now = now

    def group(self, group: dict[str, Any]) -> tuple[str, list[Any]]:
        parts, params = [], []
        for item in group["group"]:
            sql, item_params = self.group(item) if "group" in item else self.condition(item)
            parts.append(f"({sql})")
            params.extend(item_params)
        joiner = " AND " if group["type"] == "and" else " OR "
        return joiner.join(parts), params

    def condition(self, cond: dict[str, Any]) -> tuple[str, list[Any]]:
        source = cond["source"]
        if source == "tracking":
            return self.tracking(cond)
        if source == "contact":
            return self.contact(cond)
        ids = _id_list(cond["value"]) or []
        marks = ",".join("?" * len(ids))
        if source == "list_membership":
            sql = (
                f"{self.alias}.contact_id IN (SELECT lm.contact_id FROM list_memberships lm "  # noqa: S608
                f"WHERE lm.list_id IN ({marks}))"
            )
            return sql, ids
        exists = (
            f"EXISTS (SELECT 1 FROM json_each({self.alias}.data, '$.taggings') tg "  # noqa: S608
            f"WHERE tg.value IN ({marks}))"
        )
        return (exists if cond["op"] == "contains-any" else f"NOT {exists}"), ids

    def campaigns(self, cond: dict[str, Any]) -> tuple[str, list[Any]]:
        """SQL selecting the campaign activity ids the condition is about."""
        choice, param = cond["const_value"], cond["param"]
        if choice == "campaign-activities":
            ids = _id_list(param) or []
            return "VALUES " + ",".join(["(?)"] * len(ids)), ids
        sent = (
            "SELECT campaign_activity_id FROM email_tracking WHERE account_id = ? "
            "AND kind = 'send' GROUP BY campaign_activity_id"
        )
        number = _whole(param) or 0
        if choice == "last-n-campaigns":
            return f"{sent} ORDER BY MIN(occurred_at) DESC LIMIT ?", [self.account_id, number]
        return f"{sent} HAVING MIN(occurred_at) >= ?", [self.account_id, self.now - number * 86_400]

    def tracking(self, cond: dict[str, Any]) -> tuple[str, list[Any]]:
        kind, lacking = TRACKING_FIELDS[cond["field"]]
        chosen, chosen_params = self.campaigns(cond)
        event = (
            f"SELECT ev.campaign_activity_id FROM email_tracking ev "  # noqa: S608
            f"WHERE ev.contact_id = {self.alias}.contact_id AND ev.kind = ? "
            f"AND ev.campaign_activity_id IN ({chosen})"
        )
        params: list[Any] = [kind, *chosen_params]
        if lacking is not None:
            event += (
                " AND NOT EXISTS (SELECT 1 FROM email_tracking lk WHERE lk.contact_id = "
                "ev.contact_id AND lk.campaign_activity_id = ev.campaign_activity_id "
                "AND lk.kind = ?)"
            )
            params.append(lacking)
        if cond["op"] == "contains-any":
            return f"EXISTS ({event})", params
        # contains-all: every chosen activity (and there is at least one).
        count_chosen = f"(SELECT COUNT(*) FROM ({chosen}))"  # noqa: S608
        sql = (
            f"(SELECT COUNT(DISTINCT campaign_activity_id) FROM ({event})) = {count_chosen} "  # noqa: S608
            f"AND {count_chosen} > 0"
        )
        return sql, [*params, *chosen_params, *chosen_params]

    def contact(self, cond: dict[str, Any]) -> tuple[str, list[Any]]:
        name: str = cond["field"]
        op: str = cond["op"]
        value = str(cond.get("value", "")).lower()
        data = f"{self.alias}.data"
        if name.startswith("street_addresses."):
            # Any address matching; a negated op means no address matches its opposite.
            positive = _POSITIVE.get(op, op)
            test, params = _text_test("lower(sa.value ->> ?)", positive, value)
            exists = (
                f"EXISTS (SELECT 1 FROM json_each({data}, '$.street_addresses') sa "  # noqa: S608
                f"WHERE {test})"
            )
            sql = f"NOT {exists}" if op in _POSITIVE else exists
            return sql, [name.partition(".")[2], *params]
        if name.startswith("custom_fields."):
            expr = (
                "(SELECT lower(cf.value ->> 'value') FROM "  # noqa: S608
                f"json_each({data}, '$.custom_fields') cf "
                "WHERE cf.value ->> 'custom_field_id' = ? LIMIT 1)"
            )
            test, params = _text_test(expr, op, value)
            return test, [name.partition(".")[2].lower(), *params]  # expr comes first
        path = {
            "email_address": "$.email_address.address",
            "permission_to_send": "$.email_address.permission_to_send",
        }.get(name, f"$.{name}")
        return _text_test(f"lower(CAST(json_extract({data}, '{path}') AS TEXT))", op, value)


def _text_test(expr: str, op: str, value: str) -> tuple[str, list[Any]]:
    """``expr`` compared with ``value`` by ``op`` (NULL, i.e. absent, counts as empty)."""
    if op == "eq":
        return f"{expr} = ?", [value]
    if op == "ne":
        return f"COALESCE({expr}, '') != ?", [value]
    if op == "contains":
        return f"instr({expr}, ?) > 0", [value]
    if op == "not-contains":
        return f"COALESCE(instr({expr}, ?), 0) = 0", [value]
    if op == "starts-with":
        return f"substr({expr}, 1, ?) = ?", [len(value), value]
    if op == "is-empty":
        return f"COALESCE({expr}, '') = ''", []
    return f"COALESCE({expr}, '') != ''", []
