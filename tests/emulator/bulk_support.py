"""Helpers for tests of bulk activities: waiting for an activity through the API, and
driving the activity worker through the control API."""

from __future__ import annotations

import time
from typing import Any

from tests.conftest import Running
from tests.emulator.api_support import ok

# A safety net so a broken worker fails the test instead of hanging it; not a speed check.
WAIT_SECONDS = 60.0


def activity(running: Running, headers: dict[str, str], activity_id: str) -> Any:
    response = running.client.get(f"/v3/activities/{activity_id}", headers=headers)
    return ok(response, "Activity")


def wait_done(running: Running, headers: dict[str, str], activity_id: str) -> Any:
    """Poll ``GET /v3/activities/{id}`` until the activity is no longer pending."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        body = activity(running, headers, activity_id)
        if body["state"] not in ("initialized", "processing"):
            return body
        assert time.monotonic() < deadline, f"activity still {body['state']}: {body}"
        time.sleep(0.05)


def control(running: Running, action: str) -> Any:
    response = running.client.post(f"/__emulator/activities/{action}", json={})
    assert response.status_code == 200, response.text
    return response.json()


def upload(
    running: Running,
    headers: dict[str, str],
    csv_text: str | bytes,
    list_ids: list[str],
    filename: str = "contacts.csv",
    file_type: str = "text/csv",
    **fields: str,
) -> Any:
    """``POST /v3/activities/contacts_file_import`` as multipart, as an HTTP library sends it.

    The request is read before sending: the in-process transport needs the (streamed)
    multipart body in memory.
    """
    content = csv_text.encode("utf-8") if isinstance(csv_text, str) else csv_text
    request = running.client.build_request(
        "POST",
        "/v3/activities/contacts_file_import",
        headers=headers,
        files={"file": (filename, content, file_type)},
        data={"list_ids": ",".join(list_ids), **fields},
    )
    request.read()
    return running.client.send(request)


def default_list(running: Running, headers: dict[str, str]) -> str:
    response = running.client.get("/v3/contact_lists", headers=headers)
    list_id: str = ok(response, "ContactListArray")["lists"][0]["list_id"]
    return list_id
