"""Contact imports: ``POST /v3/activities/contacts_json_import`` (JSON) and
``POST /v3/activities/contacts_file_import`` (multipart CSV upload). Both answer 201 with
an ``ActivityImport`` whose work runs afterwards (``import_job``). Scope ``contact_data``;
privilege ``contacts:write``.

The file endpoint takes ``multipart/form-data`` only: a JSON body, or a Content-Type set
by hand without the multipart boundary, gets CC's 415 (from the gateway); so does a file
that is not CSV (by name or part type).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from ctct.emulator.api import errors
from ctct.emulator.api.activity_store import Activity
from ctct.emulator.api.custom_field_store import CustomFieldStore
from ctct.emulator.api.gateway import MULTIPART, Caller, Operation, Resource
from ctct.emulator.api.import_input import (
    AREA,
    MAX_BYTES,
    ImportBatch,
    parse_csv_import,
    parse_json_import,
)

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator

# ActivityImport's status declares these counters (not items_completed_count).
IMPORT_STATUS: Final = (
    "items_total_count",
    "person_count",
    "error_count",
    "correctable_count",
    "cannot_add_to_list_count",
)
_CSV_TYPES: Final = frozenset({"text/csv", "application/csv", "application/vnd.ms-excel"})
_SCOPE: Final = ("contact_data",)


def resources(emu: Emulator) -> list[Resource]:
    def queue(batch: ImportBatch, kind: str, account_id: str) -> Activity:
        with emu.db.transaction() as conn:
            missing = emu.accounts.lists.missing_ids(conn, account_id, batch.list_ids)
            known = CustomFieldStore.ids_by_name(conn, account_id)
        problems = [f"list_ids: list {m} does not exist." for m in missing]
        unknown = sorted({n for n in batch.custom_field_names if n.lower() not in known})
        problems += [f"cf:{n}: no custom field is named {n!r}; create it first." for n in unknown]
        if problems:
            raise errors.validation(AREA, *problems)
        used = {n.lower(): known[n.lower()] for n in batch.custom_field_names}
        payload: dict[str, Any] = {
            "columns": batch.columns,
            "rows": batch.rows,
            "list_ids": batch.list_ids,
            "custom_fields": used,
            "sms_permission": batch.sms_permission,
            "header_rows": batch.header_rows,
        }
        status = {
            "items_total_count": len(batch.rows) + batch.header_rows,
            "items_completed_count": 0,
            "person_count": len(batch.rows),
            "error_count": 0,
            "correctable_count": 0,
            "cannot_add_to_list_count": 0,
            "list_count": len(batch.list_ids),
        }
        activity = emu.accounts.activities.create(
            account_id, kind, payload, status, batch.source_file_name
        )
        emu.accounts.runner.wake()
        return activity

    def answer(activity: Activity) -> Response:
        return errors.json_response(activity.render(status_keys=IMPORT_STATUS), 201)

    async def json_import(request: Request, caller: Caller) -> Response:
        raw = await request.body()

        def parse_and_queue() -> Activity:
            body: object = None
            if len(raw) < MAX_BYTES:  # a larger payload is refused unread
                try:
                    body = json.loads(raw) if raw.strip() else None
                except (ValueError, UnicodeDecodeError) as exc:
                    raise errors.validation(
                        AREA, f"The request body is not valid JSON ({exc})."
                    ) from None
            batch = parse_json_import(raw, body)
            return queue(batch, "contacts_json_import", caller.account_id)

        # Off the event loop: 40,000 contacts take a moment to check and store.
        return answer(await run_in_threadpool(parse_and_queue))

    async def file_import(request: Request, caller: Caller) -> Response:
        try:
            form = await request.form(max_files=1, max_fields=20)
        except Exception as exc:  # Starlette's parser errors differ by kind; all mean 400
            raise errors.validation(
                AREA, f"The multipart body could not be read ({exc}); send the CSV as a file part."
            ) from None
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise errors.validation(
                AREA, "file is required: upload the CSV as a multipart file part named 'file'."
            )
        filename = upload.filename or ""
        part_type = (upload.content_type or "").split(";")[0].strip().lower()
        if not filename.lower().endswith(".csv") and part_type not in _CSV_TYPES:
            raise errors.ApiError(
                415,
                [
                    (
                        "unsupported_media_type",
                        "Wrong file format: upload a CSV file (name ending in .csv or part "
                        "type text/csv).",
                    )
                ],
            )
        content = await upload.read()
        list_ids = [str(v) for v in form.getlist("list_ids")]
        sms = form.get("sms_permission_to_send")
        sms_text = sms if isinstance(sms, str) else None

        def parse_and_queue() -> Activity:
            batch = parse_csv_import(content, filename or "contacts.csv", list_ids, sms_text)
            return queue(batch, "contacts_file_import", caller.account_id)

        return answer(await run_in_threadpool(parse_and_queue))

    return [
        Resource(
            "/activities/contacts_json_import",
            (Operation("POST", json_import, _SCOPE, "contacts:write"),),
        ),
        Resource(
            "/activities/contacts_file_import",
            (Operation("POST", file_import, _SCOPE, "contacts:write", MULTIPART),),
        ),
    ]
