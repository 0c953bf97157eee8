"""Social (profiles, connections, hashtag groups, posts) and Automations (workflows and
their triggers)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import StartEmulator
from tests.emulator.api_support import FAST
from tests.emulator.area_support import inprocess_tour, seed_alice
from tests.emulator.tours import Tour

WORKFLOWS = "/automations/workflows"
WORKFLOW = "/automations/workflows/{automation_flow_id}"
OPENED_LAST = json.dumps(
    {
        "version": "1.0.0",
        "criteria": {
            "type": "and",
            "group": [
                {
                    "source": "tracking",
                    "field": "opened",
                    "op": "contains-any",
                    "const_value": "last-n-campaigns",
                    "param": "1",
                }
            ],
        },
    }
)


@pytest.fixture
def t() -> Iterator[Tour]:
    with inprocess_tour() as tour:
        yield tour


def seed_social(t: Tour) -> dict[str, Any]:
    seeded: dict[str, Any] = seed_alice(
        t,
        social={
            "connections": [
                {
                    "network": "facebook",
                    "profiles": [{"name": "Bakery"}, {"name": "Cafe", "accessible": False}],
                },
                {"network": "instagram", "active": False, "profiles": [{"name": "Bakery IG"}]},
            ],
            "hashtag_groups": [{"name": f"G{n}", "hashtags": [f"#h{n}"]} for n in range(7)],
        },
    )["social"]
    return seeded


def test_an_account_starts_without_social_networks(t: Tour) -> None:
    assert t.call("GET", "/social/profiles").json() == []
    assert t.call("GET", "/social/connections").json() == {"connections": []}
    groups = t.call("GET", "/social/hashtags/groups").json()
    assert groups == {
        "_links": {},
        "hashtag_groups": [],
        "page": {"page": 0, "size": 5, "total_elements": 0, "total_pages": 0},
    }


def test_profiles_connections_and_groups(t: Tour) -> None:
    seed_social(t)
    plain = t.call("GET", "/social/profiles").json()
    assert [p["name"] for p in plain] == ["Bakery", "Cafe", "Bakery IG"]
    assert all("accessible" not in p for p in plain)
    checked = t.call("GET", "/social/profiles", params={"include": "accessible"}).json()
    assert [p["accessible"] for p in checked] == [True, False, False]
    assert [p["connected"] for p in checked] == [True, True, False]
    connections = t.call("GET", "/social/connections").json()["connections"]
    assert [c["connection_status"]["token_is_valid"] for c in connections] == [True, False]
    first = t.call("GET", "/social/hashtags/groups", params={"limit": "5"}).json()
    assert len(first["hashtag_groups"]) == 5 and first["page"]["total_pages"] == 2
    second = t.running.client.get(
        first["_links"]["next"]["href"], headers={"Authorization": f"Bearer {t.token()}"}
    ).json()
    assert [g["hashtag_group_name"] for g in second["hashtag_groups"]] == ["G5", "G6"]
    assert second["_links"] == {}
    t.call("GET", "/social/hashtags/groups", 400, params={"page": "-1"})


def test_posts(t: Tour) -> None:
    profiles = {p["name"]: p["profile_id"] for p in seed_social(t)["profiles"]}
    scheduled: dict[str, Any] = {
        "name": "Rye day",
        "status": "SCHEDULED",
        "scheduled_time": "2040-03-15T14:30:00.000Z",
        "profile_posts": [
            {
                "profiles": [{"profile_id": profiles["Bakery"]}, {"profile_id": profiles["Cafe"]}],
                "text": "Rye is back #bread",
                "images": [{"url": "https://images.example.com/rye.jpg"}],
                "settings": {"facebook": {"disable_comment": "false"}},
            }
        ],
    }
    post = t.call("POST", "/social/posts", 201, json=scheduled).json()
    targets = post["profile_posts"][0]["profiles"]
    # The Cafe page is not accessible: CC says such a post will fail.
    assert [p["campaign_activity_status"] for p in targets] == ["SCHEDULED", "ERROR"]
    assert post["status"] == "SCHEDULED" and post["scheduled_time"] == "2040-03-15T14:30:00.000Z"
    past = {**scheduled, "scheduled_time": "2001-01-01T00:00:00Z"}
    t.call("POST", "/social/posts", 400, json=past)
    unknown = {**scheduled, "profile_posts": [{"profiles": [{"profile_id": "nope"}]}]}
    problems = t.call("POST", "/social/posts", 400, json=unknown).json()
    assert "not a profile of this account" in problems[0]["error_message"]
    t.call("POST", "/social/posts", 400, json={**scheduled, "status": "PUBLISHED"})
    t.call("POST", "/social/posts", 400, json={**scheduled, "profile_posts": []})
    flat = [{**scheduled["profile_posts"][0], "settings": {"disable_comment": "false"}}]
    t.call("POST", "/social/posts", 400, json={**scheduled, "profile_posts": flat})
    t.call("POST", "/social/posts", 403, json=scheduled, scopes=("contact_data",))


def list_join(t: Tour) -> dict[str, Any]:
    list_id = t.call("GET", "/contact_lists").json()["lists"][0]["list_id"]
    return {
        "type": "Action",
        "action_name": "list_join",
        "parameters": [
            {"parameter_name": "list_ids", "type": "LIST", "parameter_value": [list_id]}
        ],
        "unique_by": "list_ids",
    }


def test_workflows_are_created_listed_and_activated(t: Tour) -> None:
    trigger = list_join(t)
    welcome = t.call(
        "POST", WORKFLOWS, 201, json=trigger, params={"workflowName": "Welcome"}
    ).json()
    assert welcome["status"] == "DRAFT" and welcome["name_explicitly_set"] is True
    stored = welcome["draft_definition"]["trigger"]["trigger_def"]
    # parameter_value is answered in the contract's declared (deprecated) property.
    assert (
        stored["parameters"][0]["parameter_list_value"]
        == trigger["parameters"][0]["parameter_value"]
    )
    birthday = {
        "type": "Date",
        "action_name": "calendar_date",
        "trigger_date": {
            "type": "Profile",
            "month_field": "record.birthday_month",
            "day_field": "record.birthday_day",
        },
        "bounds": {"after": "P0D", "before": "P1D"},
    }
    auto = t.call("POST", WORKFLOWS, 201, json=birthday).json()
    assert (
        auto["name"].startswith("Autogenerated calendar_date")
        and auto["name_explicitly_set"] is False
    )
    listed = t.call("GET", WORKFLOWS, 209).json()["flow_summaries"]
    assert [f["name"] for f in listed] == [auto["name"], "Welcome"]  # newest first
    oldest = t.call("GET", WORKFLOWS, 209, params={"sort_direction": "ASC"}).json()[
        "flow_summaries"
    ]
    assert [f["id"] for f in oldest] == [welcome["id"], auto["id"]]
    assert t.call("GET", WORKFLOWS, 209, params={"channel": "sms"}).json() == {"flow_summaries": []}
    goal = t.call("GET", WORKFLOWS, 209, params={"goals": "goal_undefined"}).json()[
        "flow_summaries"
    ]
    assert len(goal) == 2

    path = {"automation_flow_id": welcome["id"]}
    active = t.call(
        "PUT", WORKFLOW, path=path, json={"automation_flow": {**welcome, "status": "ACTIVE"}}
    ).json()
    assert active["active_definition"]["state"] == "ACTIVE"
    summary = next(
        f
        for f in t.call("GET", WORKFLOWS, 209).json()["flow_summaries"]
        if f["id"] == welcome["id"]
    )
    assert (
        summary["active_state"] == "ACTIVE"
        and summary["draft_state"] == "PROMOTED"
        and "promoted_date" in summary
    )
    paused = t.call(
        "PUT", WORKFLOW, path=path, json={"automation_flow": {"status": "PAUSED"}}
    ).json()
    assert paused["status"] == "PAUSED"
    new_trigger = {**trigger, "unique_by": "contact_id"}
    edited = t.call(
        "PUT",
        WORKFLOW,
        path=path,
        json={"automation_flow": {"draft_definition": {"trigger": {"trigger_def": new_trigger}}}},
    ).json()
    assert edited["draft_definition"]["trigger"]["trigger_def"]["unique_by"] == "contact_id"
    assert t.call("GET", WORKFLOW, path=path).json() == edited


@pytest.mark.parametrize(
    ("trigger", "fragment"),
    [
        ({"type": "Action"}, "action_name is required"),
        ({"type": "Whenever", "action_name": "x"}, "type is required"),
        ({"type": "Action", "action_name": "list_join"}, "needs a list_ids parameter"),
        (
            {
                "type": "Action",
                "action_name": "list_join",
                "parameters": [
                    {
                        "parameter_name": "list_ids",
                        "type": "LIST",
                        "parameter_value": ["00000000-0000-4000-8000-000000000000"],
                    }
                ],
            },
            "does not exist",
        ),
        (
            {
                "type": "Date",
                "action_name": "calendar_date",
                "trigger_date": {"date_field": "anniversary"},
            },
            "record.",
        ),
        (
            {
                "type": "Date",
                "action_name": "calendar_date",
                "trigger_date": {"date_field": "record.anniversary"},
                "bounds": {"after": "7 days"},
            },
            "day period",
        ),
        ({"type": "segment_join", "segment_id": "999"}, "segment 999 does not exist"),
        (
            {
                "type": "Action",
                "action_name": "engaged",
                "parameters": [{"parameter_name": "level", "type": "RULE", "rule": {"x": 1}}],
            },
            "RULE",
        ),
        ({"type": "Action", "action_name": "opened", "colour": "red"}, "not a trigger property"),
    ],
)
def test_bad_triggers_are_400(t: Tour, trigger: dict[str, Any], fragment: str) -> None:
    problems = t.call("POST", WORKFLOWS, 400, json=trigger).json()
    assert any(fragment in p["error_message"] for p in problems), problems


def test_a_segment_join_trigger(t: Tour) -> None:
    segment = t.call(
        "POST",
        "/segments",
        201,
        json={"name": "Openers", "segment_criteria": OPENED_LAST},
    ).json()
    created = t.call(
        "POST",
        WORKFLOWS,
        201,
        json={"type": "segment_join", "segment_id": str(segment["segment_id"])},
    ).json()
    assert created["draft_definition"]["trigger"]["trigger_def"]["segment_id"] == str(
        segment["segment_id"]
    )


def test_privileges_and_unknown_workflows_over_loopback(start_emulator: StartEmulator) -> None:
    t = Tour(start_emulator(**FAST))
    created = t.call("POST", WORKFLOWS, 201, json=list_join(t)).json()
    # A campaign creator has no customer-journey privileges.
    t.call("GET", WORKFLOWS, 403, user="carol@example.com")
    t.call("GET", WORKFLOW, 400, path={"automation_flow_id": "not-a-uuid"})
    path = {"automation_flow_id": created["id"]}
    t.call("PUT", WORKFLOW, 400, path=path, json={"name": "not wrapped"})
    t.call("PUT", WORKFLOW, 400, path=path, json={"automation_flow": {"tasks": []}})
