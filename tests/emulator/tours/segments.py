"""Tour of Segments (and ``GET /contacts?segment_id=``)."""

from __future__ import annotations

import json

from tests.emulator.api_support import seed
from tests.emulator.tours import Tour

TAGS = ("Segments",)
ACTIVITY = "3f1c6a9e-0000-4000-8000-00000000c0de"
NOT_OPENED = json.dumps(
    {
        "version": "1.0.0",
        "criteria": {
            "type": "and",
            "group": [
                {
                    "source": "tracking",
                    "field": "not_opened",
                    "op": "contains-any",
                    "const_value": "last-n-campaigns",
                    "param": "5",
                }
            ],
        },
    }
)


def tour(t: Tour) -> None:
    seed(
        t.running,
        username="alice@example.com",
        contacts=[{"email": "opener@example.com"}, {"email": "sleeper@example.com"}],
        tracking=[
            {"campaign_activity_id": ACTIVITY, "contact": "opener@example.com", "kind": "open"},
            {"campaign_activity_id": ACTIVITY, "contact": "sleeper@example.com", "kind": "send"},
        ],
    )
    body = {"name": "Sleepers", "segment_criteria": NOT_OPENED}
    segment = t.call("POST", "/segments", 201, json=body).json()
    t.call("POST", "/segments", 409, json=body)
    t.call("POST", "/segments", 400, json={"name": "Bad", "segment_criteria": "{not json"})
    path = {"segment_id": segment["segment_id"]}
    members = t.call("GET", "/contacts", params={"segment_id": segment["segment_id"]}).json()
    assert [c["email_address"]["address"] for c in members["contacts"]] == ["sleeper@example.com"]
    t.call("GET", "/segments", params={"sort_by": "name"})
    t.call("GET", "/segments", 400, params={"sort_by": "size"})
    t.call("GET", "/segments/{segment_id}", path=path)
    t.call("GET", "/segments/{segment_id}", 404, path={"segment_id": 999_999})
    t.call("PUT", "/segments/{segment_id}", path=path, json={**body, "name": "Still asleep"})
    t.call("PUT", "/segments/{segment_id}", 400, path=path, json={"name": "No criteria"})
    t.call("PATCH", "/segments/{segment_id}/name", path=path, json={"name": "Dozing"})
    missing = {"segment_id": 999_999}
    t.call("PATCH", "/segments/{segment_id}/name", 404, path=missing, json={"name": "x"})
    t.call("DELETE", "/segments/{segment_id}", 204, path=path)
    t.call("DELETE", "/segments/{segment_id}", 404, path=path)
    # Deleted segments still show by id.
    t.call("GET", "/segments/{segment_id}", path=path)
