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
        time.sleep(0.01)


def control(running: Running, action: str) -> Any:
    response = running.client.post(f"/__emulator/activities/{action}")
    assert response.status_code == 200, response.text
    return response.json()
