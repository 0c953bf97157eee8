"""V2-to-V3 id cross-references: ``GET /v3/contacts/contact_id_xrefs`` and
``GET /v3/contact_lists/list_id_xrefs`` (``?sequence_ids=`` up to 500, comma-separated).
Scope ``contact_data``; privileges ``contacts:read`` / ``contacts:lists:read``.

The emulator never had a V2 API, so it chooses the V2 ids: an account's n-th contact
(in creation order, deleted ones included) has V2 id ``n``, and likewise for lists (the
default "General Interest" list is ``1``). Rows are never removed, so these ids never
change. Ids that match nothing are left out of ``xrefs``, as unknown ids are at CC.

These routes must come before ``/contacts/{contact_id}`` and ``/contact_lists/{list_id}``,
which would otherwise take ``contact_id_xrefs`` for a malformed id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from starlette.requests import Request
from starlette.responses import Response

from ctct.emulator.api import errors
from ctct.emulator.api.gateway import Caller, Operation, Resource
from ctct.emulator.api.params import whole_number

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator

MAX_IDS: Final = 500
_SCOPE: Final = ("contact_data",)
# (table, id column, response key, error area) per resource.
_TABLES: Final = {
    "contacts": ("contacts", "contact_id", "contacts"),
    "lists": ("contact_lists", "list_id", "lists"),
}


def resources(emu: Emulator) -> list[Resource]:
    def xrefs(kind: str) -> Operation:
        table, column, area = _TABLES[kind]

        async def handler(request: Request, caller: Caller) -> Response:
            wanted = _sequence_ids(request.query_params.get("sequence_ids"), area)
            marks = ",".join("?" * len(wanted))
            rows = emu.db.query(
                f"SELECT {column} AS v3, n FROM (SELECT {column}, "  # noqa: S608
                f"ROW_NUMBER() OVER (ORDER BY seq) AS n FROM {table} WHERE account_id = ?) "
                f"WHERE n IN ({marks})",
                (caller.account_id, *wanted),
            )
            found = {int(r["n"]): str(r["v3"]) for r in rows}
            items = [{"sequence_id": str(n), column: found[n]} for n in wanted if n in found]
            return errors.json_response({"xrefs": items})

        privilege = "contacts:read" if kind == "contacts" else "contacts:lists:read"
        return Operation("GET", handler, _SCOPE, privilege)

    return [
        Resource("/contacts/contact_id_xrefs", (xrefs("contacts"),)),
        Resource("/contact_lists/list_id_xrefs", (xrefs("lists"),)),
    ]


def _sequence_ids(raw: str | None, area: str) -> list[int]:
    parts = [p.strip() for p in (raw or "").split(",") if p.strip()]
    if not parts:
        raise errors.validation(
            area, "sequence_ids is required: up to 500 comma-separated V2 ids, e.g. 1,2,3."
        )
    if len(parts) > MAX_IDS:
        raise errors.validation(area, f"sequence_ids takes at most {MAX_IDS} ids.")
    numbers = [whole_number(p) for p in parts]
    bad = [p for p, n in zip(parts, numbers, strict=True) if n is None]
    if bad:
        raise errors.validation(area, f"sequence_ids must be V2 ids (digits); got {bad[0]!r}.")
    return list(dict.fromkeys(n for n in numbers if n is not None))
