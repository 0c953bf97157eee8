"""Automations: ``/v3/automations/workflows`` (GET, POST) and
``/v3/automations/workflows/{automation_flow_id}`` (GET, PUT). Scope ``campaign_data``;
privileges ``customer-journey:read`` / ``:create`` / ``:update``.

As the contract says, listing answers **209** (not 200), and an unknown workflow is a
400 (it declares no 404). A trigger (``TriggerDefDto``) is checked: ``type`` ``Action``
or ``Date`` need ``action_name``; ``list_ids`` parameters must name the account's lists;
``segment_join`` needs one of its segments; ``Date`` triggers name contact fields with
the ``record.`` prefix; ``bounds`` are ISO-8601 day periods (``P-7D``). The contract's
``parameter_value`` (a string or array) is answered in the deprecated but declared
``parameter_string_value`` / ``parameter_list_value``; ``RULE`` parameters (engagement
rules) are refused: the emulator does not evaluate them.

PUT takes ``{"automation_flow": {...}}``: ``name``, ``description``, ``status``
(``DRAFT``, ``ACTIVE``: promote the draft, ``PAUSED``) and
``draft_definition.trigger.trigger_def``; the read-only parts of a GET's body may be
sent back unchanged.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import Response

from ctct.emulator.api import errors
from ctct.emulator.api.automation_store import (
    AREA,
    STATUSES,
    campaign_body,
    new_automation,
    promote,
    summary_body,
)
from ctct.emulator.api.contact_input import is_uuid
from ctct.emulator.api.gateway import Caller, Operation, Resource, read_json
from ctct.emulator.api.segments import parse_segment_id

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator

LIST_STATUS: Final = 209  # what the contract declares for the listing
TRIGGER_TYPES: Final = ("Action", "Date", "segment_join")
PARAMETER_TYPES: Final = ("STRING", "LIST", "WEB_TRACKING")
MAX_NAME: Final = 255
_SCOPE: Final = ("campaign_data",)
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_PERIOD = re.compile(r"^P-?\d{1,4}D$")
_TRIGGER_KEYS: Final = (
    "parameters",
    "action_name",
    "bounds",
    "engagement_level",
    "segment_id",
    "trigger_date",
    "type",
    "unique_by",
)
_FLOW_READ_ONLY: Final = frozenset(
    {"id", "structured_tags", "active_definition", "name_explicitly_set"}
)


def resources(emu: Emulator) -> list[Resource]:
    store = emu.accounts.automations

    def check_trigger(caller: Caller, body: object) -> dict[str, Any]:
        trigger, lists, segment = _trigger(body)
        with emu.db.transaction() as conn:
            missing = emu.accounts.lists.missing_ids(conn, caller.account_id, lists)
        problems = [f"parameters: list {m} does not exist." for m in missing]
        if segment is not None and emu.accounts.segments.live(caller.account_id, segment) is None:
            problems.append(f"segment_id: segment {segment} does not exist.")
        if problems:
            raise errors.validation(AREA, *problems)
        return trigger

    async def list_flows(request: Request, caller: Caller) -> Response:
        query = request.query_params
        problems: list[str] = []
        direction = (query.get("sort_direction") or "DESC").upper()
        if direction not in ("ASC", "DESC"):
            problems.append("sort_direction must be ASC or DESC.")
        channel = query.get("channel")
        if channel not in (None, "", "email", "sms"):
            problems.append("channel must be email or sms.")
        created_from = query.get("created_from")
        if created_from not in (None, "", "SCRATCH", "TEMPLATE"):
            problems.append("created_from must be SCRATCH or TEMPLATE.")
        if problems:
            raise errors.validation(AREA, *problems)
        goals = {g.strip() for g in (query.get("goals") or "").split(",") if g.strip()}
        name = query.get("name")
        summaries = []
        for row in store.rows(caller.account_id, newest_first=direction == "DESC"):
            summary = summary_body(row)
            # Every emulated workflow is an email workflow built from scratch.
            if channel == "sms" or created_from == "TEMPLATE":
                continue
            if name and summary["name"] != name:
                continue
            tags = {t["value"] for t in summary["structured_tags"] if t.get("key") == "GOAL"}
            if goals and not goals & tags:
                continue
            summaries.append(summary)
        return errors.json_response({"flow_summaries": summaries}, LIST_STATUS)

    async def create_flow(request: Request, caller: Caller) -> Response:
        trigger = check_trigger(caller, await read_json(request, AREA))
        given = request.query_params.get("workflowName")
        if given is not None and (not given.strip() or len(given) > MAX_NAME):
            raise errors.validation(AREA, f"workflowName must be 1 to {MAX_NAME} characters.")
        label = trigger.get("action_name") or trigger["type"]
        name = given or f"Autogenerated {label}: Basic {store.count(caller.account_id) + 1}"
        description = f"Starts when a contact's trigger ({label}) fires."
        data = new_automation(name, given is not None, trigger, description)
        row = store.create(caller.account_id, data, caller.user.platform_user_id, emu.clock.now())
        return errors.json_response(campaign_body(row), 201)

    def flow_row(request: Request, caller: Caller) -> Any:
        flow_id = str(request.path_params["automation_flow_id"]).lower()
        if not is_uuid(flow_id):
            raise errors.validation(AREA, "automation_flow_id must be a workflow id (UUID).")
        return store.require(caller.account_id, flow_id)

    async def get_flow(request: Request, caller: Caller) -> Response:
        return errors.json_response(campaign_body(flow_row(request, caller)))

    async def put_flow(request: Request, caller: Caller) -> Response:
        row = flow_row(request, caller)
        body = await read_json(request, AREA)
        flow = body.get("automation_flow") if isinstance(body, dict) else None
        if not isinstance(flow, dict) or set(body) != {"automation_flow"}:
            raise errors.validation(AREA, 'Send {"automation_flow": {...}}: the workflow to save.')
        data = campaign_body(row)
        problems: list[str] = []
        for key, value in flow.items():
            if key in _FLOW_READ_ONLY:
                continue
            if key in ("name", "description"):
                if not isinstance(value, str) or (key == "name" and not value.strip()):
                    problems.append(f"automation_flow.{key} must be a non-empty string.")
                elif len(value) > MAX_NAME and key == "name":
                    problems.append(f"automation_flow.name must be at most {MAX_NAME} characters.")
                else:
                    data[key] = value
                    if key == "name":
                        data["name_explicitly_set"] = True
                        data["draft_definition"]["workflow"]["workflow_def"]["parameters"][
                            "automation_flow_name"
                        ] = value
            elif key == "status":
                if value not in STATUSES:
                    problems.append(f"automation_flow.status must be one of {', '.join(STATUSES)}.")
                else:
                    data["status"] = value
            elif key == "draft_definition":
                trigger = _draft_trigger(value, problems)
                if trigger is not None:
                    data["draft_definition"]["trigger"]["trigger_def"] = check_trigger(
                        caller, trigger
                    )
            else:
                problems.append(f"automation_flow.{key} is not a workflow property.")
        if problems:
            raise errors.validation(AREA, *problems)
        if data["status"] == "ACTIVE":
            promote(data)
        data["draft_definition"]["state"] = "DRAFT" if data["status"] == "DRAFT" else "PROMOTED"
        saved = store.save(row, data, emu.clock.now())
        return errors.json_response(campaign_body(saved))

    read, create, update = (
        "customer-journey:read",
        "customer-journey:create",
        "customer-journey:update",
    )
    return [
        Resource(
            "/automations/workflows",
            (
                Operation("GET", list_flows, _SCOPE, read),
                Operation("POST", create_flow, _SCOPE, create),
            ),
        ),
        Resource(
            "/automations/workflows/{automation_flow_id}",
            (
                Operation("GET", get_flow, _SCOPE, read),
                Operation("PUT", put_flow, _SCOPE, update),
            ),
        ),
    ]


def _draft_trigger(value: object, problems: list[str]) -> object | None:
    """The ``trigger_def`` inside a PUT's ``draft_definition`` (None: not changed)."""
    trigger = value.get("trigger") if isinstance(value, dict) else None
    if not isinstance(value, dict) or (trigger is not None and not isinstance(trigger, dict)):
        problems.append("automation_flow.draft_definition must be an object.")
        return None
    if trigger is None:
        return None
    return trigger.get("trigger_def")


def _trigger(body: object) -> tuple[dict[str, Any], list[str], int | None]:
    """A validated ``TriggerDefDto`` (normalized), the list ids and segment it names."""
    if not isinstance(body, dict):
        raise errors.validation(AREA, "The trigger must be a JSON object (TriggerDefDto).")
    problems: list[str] = [
        f"{k} is not a trigger property." for k in body if k not in _TRIGGER_KEYS
    ]
    kind = body.get("type")
    if kind not in TRIGGER_TYPES:
        problems.append(f"type is required: one of {', '.join(TRIGGER_TYPES)}.")
    action = body.get("action_name")
    if kind in ("Action", "Date") and (not isinstance(action, str) or not _NAME.match(action)):
        problems.append(f"action_name is required for {kind} triggers, e.g. list_join.")
    trigger: dict[str, Any] = {"type": kind}
    if isinstance(action, str):
        trigger["action_name"] = action
    lists: list[str] = []
    parameters = body.get("parameters", [])
    if not isinstance(parameters, list):
        problems.append("parameters must be an array.")
        parameters = []
    trigger["parameters"] = [_parameter(p, i, lists, problems) for i, p in enumerate(parameters)]
    if action == "list_join" and not lists:
        problems.append("a list_join trigger needs a list_ids parameter naming its lists.")
    segment: int | None = None
    if kind == "segment_join" or body.get("segment_id") is not None:
        raw = body.get("segment_id")
        segment = parse_segment_id(str(raw)) if raw is not None else None
        if segment is None:
            problems.append("segment_id is required for segment_join triggers: a segment's id.")
        else:
            trigger["segment_id"] = str(segment)
    if kind == "Date" or body.get("trigger_date") is not None:
        trigger["trigger_date"] = _trigger_date(body.get("trigger_date"), problems)
    if body.get("bounds") is not None:
        trigger["bounds"] = _bounds(body["bounds"], problems)
    for key in ("engagement_level", "unique_by"):
        if body.get(key) is not None:
            if not isinstance(body[key], str):
                problems.append(f"{key} must be a string.")
            else:
                trigger[key] = body[key]
    if problems:
        raise errors.validation(AREA, *problems)
    return trigger, list(dict.fromkeys(lists)), segment


def _parameter(raw: object, index: int, lists: list[str], problems: list[str]) -> dict[str, Any]:
    where = f"parameters[{index}]"
    if not isinstance(raw, dict):
        problems.append(f"{where} must be an object.")
        return {}
    name, kind = raw.get("parameter_name"), raw.get("type", "STRING")
    if not isinstance(name, str) or not name:
        problems.append(f"{where}.parameter_name is required.")
    if raw.get("rule") not in (None, {}) or kind == "RULE":
        problems.append(f"{where}: RULE parameters are not supported by the emulator.")
        return {}
    if kind not in PARAMETER_TYPES:
        problems.append(f"{where}.type must be one of {', '.join(PARAMETER_TYPES)}.")
    value = raw.get("parameter_value")
    if value is None:
        value = raw.get("parameter_list_value", raw.get("parameter_string_value"))
    result: dict[str, Any] = {"parameter_name": name, "type": kind}
    if raw.get("operator") is not None:
        result["operator"] = str(raw["operator"])
    if kind == "LIST":
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            problems.append(f"{where}: a LIST parameter's value is a non-empty array of strings.")
            return result
        result["parameter_list_value"] = value
        if name == "list_ids":
            bad = [v for v in value if not is_uuid(v)]
            if bad:
                problems.append(f"{where}: list_ids must be list ids (UUIDs); got {bad[0]!r}.")
            lists.extend(v.lower() for v in value if is_uuid(v))
    else:
        if not isinstance(value, str):
            problems.append(f"{where}: a {kind} parameter's value is a string.")
            return result
        result["parameter_string_value"] = value
    return result


def _trigger_date(raw: object, problems: list[str]) -> dict[str, str]:
    if not isinstance(raw, dict):
        problems.append("trigger_date is required for Date triggers: which contact fields.")
        return {}
    result: dict[str, str] = {}
    for key in ("date_field", "day_field", "month_field", "type"):
        value = raw.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or (key != "type" and not value.startswith("record.")):
            problems.append(f"trigger_date.{key} must be a contact field like record.{key[:-6]}.")
        else:
            result[key] = value
    if "date_field" not in result and not {"day_field", "month_field"} <= set(result):
        problems.append("trigger_date needs date_field, or day_field and month_field.")
    return result


def _bounds(raw: object, problems: list[str]) -> dict[str, str]:
    if not isinstance(raw, dict) or set(raw) - {"after", "before"}:
        problems.append("bounds must be an object with after and before.")
        return {}
    result = {}
    for key, value in raw.items():
        if not isinstance(value, str) or not _PERIOD.match(value):
            problems.append(f"bounds.{key} must be an ISO-8601 day period such as P0D or P-7D.")
        else:
            result[key] = value
    return result
