"""Tour of Automations."""

from __future__ import annotations

from tests.emulator.tours import Tour

TAGS = ("Automations",)


def tour(t: Tour) -> None:
    lists = t.call("GET", "/contact_lists").json()["lists"]
    trigger = {
        "type": "Action",
        "action_name": "list_join",
        "parameters": [
            {"parameter_name": "list_ids", "type": "LIST", "parameter_value": [lists[0]["list_id"]]}
        ],
    }
    created = t.call(
        "POST", "/automations/workflows", 201, json=trigger, params={"workflowName": "Welcome"}
    ).json()
    t.call("POST", "/automations/workflows", 400, json={"type": "Action"})
    listed = t.call("GET", "/automations/workflows", 209, params={"name": "Welcome"}).json()
    assert [f["id"] for f in listed["flow_summaries"]] == [created["id"]]
    t.call("GET", "/automations/workflows", 400, params={"sort_direction": "UP"})
    path = {"automation_flow_id": created["id"]}
    t.call("GET", "/automations/workflows/{automation_flow_id}", path=path)
    t.call(
        "GET",
        "/automations/workflows/{automation_flow_id}",
        400,
        path={"automation_flow_id": "00000000-0000-4000-8000-000000000000"},
    )
    update = {"automation_flow": {"name": "Welcome!", "status": "ACTIVE"}}
    active = t.call("PUT", "/automations/workflows/{automation_flow_id}", path=path, json=update)
    assert active.json()["active_definition"]["state"] == "ACTIVE"
    bad = {"automation_flow": {"status": "RUNNING"}}
    t.call("PUT", "/automations/workflows/{automation_flow_id}", 400, path=path, json=bad)
