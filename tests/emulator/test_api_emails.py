"""Email campaigns: create (Draft, primary_email + permalink), 409 on names, confirmed
sender addresses, activity GET/PUT (contact_list_ids), schedules ("0" and a date) moving
along the emulator's clock, listing with dates and pagination, rename, delete, scopes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.conftest import Running, StartEmulator
from tests.emulator.api_support import BOB, CAROL, FAST, auth, error, ok
from tests.emulator.bulk_support import default_list

SENDER = "alice@example.com"  # Alice's login: a confirmed address of her account
HTML = "<html><body>Hello [[trackingImage]]</body></html>"


def _activity(**changes: Any) -> dict[str, Any]:
    return {
        "format_type": 5,
        "from_name": "Alice's Bakery",
        "from_email": SENDER,
        "reply_to_email": SENDER,
        "subject": "Fresh bread",
        "html_content": HTML,
        **changes,
    }


class Api:
    def __init__(self, running: Running) -> None:
        self.running = running
        self.client = running.client
        self.headers = auth(running.emulator)

    def create(self, name: str, **changes: Any) -> Any:
        body = {"name": name, "email_campaign_activities": [_activity(**changes)]}
        return ok(self.client.post("/v3/emails", headers=self.headers, json=body), "EmailCampaign")

    def campaign(self, campaign_id: str) -> Any:
        response = self.client.get(f"/v3/emails/{campaign_id}", headers=self.headers)
        return ok(response, "EmailCampaign")

    def primary(self, campaign: dict[str, Any]) -> str:
        roles = {a["role"]: a["campaign_activity_id"] for a in campaign["campaign_activities"]}
        return str(roles["primary_email"])

    def activity(self, activity_id: str, include: str | None = None) -> Any:
        response = self.client.get(
            f"/v3/emails/activities/{activity_id}",
            headers=self.headers,
            params={"include": include} if include else None,
        )
        return ok(response, "EmailCampaignActivity")

    def put(self, activity_id: str, **changes: Any) -> Any:
        body = {
            "from_name": "Alice's Bakery",
            "from_email": SENDER,
            "reply_to_email": SENDER,
            "subject": "Fresh bread",
            **changes,
        }
        return self.client.put(
            f"/v3/emails/activities/{activity_id}", headers=self.headers, json=body
        )

    def schedule(self, activity_id: str, date: str) -> Any:
        return self.client.post(
            f"/v3/emails/activities/{activity_id}/schedules",
            headers=self.headers,
            json={"scheduled_date": date},
        )

    def advance(self, seconds: float) -> None:
        self.running.emulator.clock.advance(seconds)


@pytest.fixture
def api(start_emulator: StartEmulator) -> Api:
    return Api(start_emulator(**FAST))


def test_create_and_get(api: Api) -> None:
    created = api.create(
        "Spring news",
        physical_address_in_footer={
            "address_line1": "1 Main St",
            "country_code": "US",
            "organization_name": "Alice's Bakery",
        },
    )
    assert created["current_status"] == "Draft"
    assert (created["type"], created["type_code"]) == ("CUSTOM_CODE_EMAIL", 26)
    assert [a["role"] for a in created["campaign_activities"]] == ["primary_email", "permalink"]
    assert api.campaign(created["campaign_id"]) == created
    activity = api.activity(api.primary(created))
    assert activity["current_status"] == "DRAFT" and activity["format_type"] == 5
    assert activity["contact_list_ids"] == [] and "html_content" not in activity
    full = api.activity(
        api.primary(created), "html_content,physical_address_in_footer,permalink_url"
    )
    assert full["html_content"] == HTML
    assert full["physical_address_in_footer"]["address_line1"] == "1 Main St"
    assert full["permalink_url"].startswith("https://")
    permalink = created["campaign_activities"][1]["campaign_activity_id"]
    assert api.activity(permalink)["role"] == "permalink"
    error(api.client.get(f"/v3/emails/{uuid.uuid4()}", headers=api.headers), 404)
    error(api.client.get("/v3/emails/activities/nope", headers=api.headers), 404)


def test_create_problems(api: Api) -> None:
    api.create("Taken")

    def bad(status: int, expect: str, body: Any) -> None:
        items = error(api.client.post("/v3/emails", headers=api.headers, json=body), status)
        assert any(expect in i["error_message"] for i in items), items

    bad(409, "already exists", {"name": "taken", "email_campaign_activities": [_activity()]})
    bad(400, "1 to 80", {"name": "x" * 81, "email_campaign_activities": [_activity()]})
    bad(400, "one activity", {"name": "A", "email_campaign_activities": []})
    bad(
        400,
        "not a confirmed",
        {"name": "A", "email_campaign_activities": [_activity(from_email="x@y.co")]},
    )
    bad(400, "format_type", {"name": "A", "email_campaign_activities": [_activity(format_type=3)]})
    without = _activity()
    del without["html_content"]
    bad(400, "html_content is required", {"name": "A", "email_campaign_activities": [without]})
    error(api.client.post("/v3/emails", headers=api.headers, content=b"{}"), 415)


def test_put_activity_and_schedule_for_later(api: Api) -> None:
    campaign = api.create("Later")
    primary = api.primary(campaign)
    response = api.schedule(primary, "0")
    items = error(response, 400)
    assert "contact_list_ids" in items[0]["error_message"]
    list_id = default_list(api.running, api.headers)
    error(api.put(primary, contact_list_ids=[str(uuid.uuid4())]), 400)
    updated = ok(
        api.put(primary, contact_list_ids=[list_id], subject="New"), "EmailCampaignActivity"
    )
    assert updated["contact_list_ids"] == [list_id] and updated["subject"] == "New"
    assert api.activity(primary, "html_content")["html_content"] == HTML  # kept by PUT
    permalink = campaign["campaign_activities"][1]["campaign_activity_id"]
    error(api.put(permalink, contact_list_ids=[list_id]), 400)

    now = api.running.emulator.clock.now()
    when = datetime.fromtimestamp(now + 3600, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    error(api.schedule(primary, "2001-01-01T00:00:00Z"), 400)  # in the past
    error(api.schedule(primary, "soon"), 400)
    scheduled = ok(api.schedule(primary, when), "EmailScheduleResponse", 201)
    assert scheduled == [{"scheduled_date": when}]
    assert api.campaign(campaign["campaign_id"])["current_status"] == "Scheduled"
    response = api.client.get(f"/v3/emails/activities/{primary}/schedules", headers=api.headers)
    assert ok(response, "EmailScheduleResponse") == [{"scheduled_date": when}]
    error(api.put(primary, subject="Too late"), 400)  # only DRAFT or DONE can change

    api.advance(3600)
    # Sending takes 2 s of the emulator's clock, which also runs in real time: on a
    # loaded machine the send may already be over when the campaign is read.
    assert api.campaign(campaign["campaign_id"])["current_status"] in ("Executing", "Done")
    api.advance(2)
    assert api.campaign(campaign["campaign_id"])["current_status"] == "Done"
    assert api.activity(primary)["current_status"] == "DONE"
    response = api.client.get(f"/v3/emails/activities/{primary}/schedules", headers=api.headers)
    assert ok(response, "EmailScheduleResponse") == []


def test_send_now_and_unschedule(api: Api) -> None:
    list_id = default_list(api.running, api.headers)
    now_campaign = api.create("Now")
    primary = api.primary(now_campaign)
    ok(api.put(primary, contact_list_ids=[list_id]), "EmailCampaignActivity")
    assert ok(api.schedule(primary, "0"), "EmailScheduleResponse", 201) == []
    assert api.campaign(now_campaign["campaign_id"])["current_status"] == "Executing"
    api.advance(2)  # "after a moment"
    assert api.campaign(now_campaign["campaign_id"])["current_status"] == "Done"

    later = api.create("Unscheduled")
    primary = api.primary(later)
    ok(api.put(primary, contact_list_ids=[list_id]), "EmailCampaignActivity")
    ok(api.schedule(primary, "2999-01-01"), "EmailScheduleResponse", 201)
    response = api.client.delete(f"/v3/emails/activities/{primary}/schedules", headers=api.headers)
    assert response.status_code == 204
    assert api.campaign(later["campaign_id"])["current_status"] == "Draft"
    response = api.client.delete(f"/v3/emails/activities/{primary}/schedules", headers=api.headers)
    error(response, 400)


def test_list_rename_delete(api: Api) -> None:
    first = api.create("First")
    api.advance(10)
    middle = api.running.emulator.clock.now()
    api.advance(10)
    second = api.create("Second")
    third = api.create("Third")
    page = ok(
        api.client.get("/v3/emails", headers=api.headers, params={"limit": 2}),
        "PagedEmailCampaignResponse",
    )
    assert [c["name"] for c in page["campaigns"]] == ["Third", "Second"]  # newest first
    assert "campaign_activities" not in page["campaigns"][0]
    rest = ok(
        api.client.get(page["_links"]["next"]["href"], headers=api.headers),
        "PagedEmailCampaignResponse",
    )
    assert [c["name"] for c in rest["campaigns"]] == ["First"] and "_links" not in rest
    stamp = datetime.fromtimestamp(middle, UTC).isoformat()
    response = api.client.get("/v3/emails", headers=api.headers, params={"before_date": stamp})
    names = [c["name"] for c in ok(response, "PagedEmailCampaignResponse")["campaigns"]]
    assert names == ["First"]
    response = api.client.get("/v3/emails", headers=api.headers, params={"after_date": stamp})
    names = [c["name"] for c in ok(response, "PagedEmailCampaignResponse")["campaigns"]]
    assert names == ["Third", "Second"]
    for bad in ({"limit": "501"}, {"before_date": "yesterday"}):
        error(api.client.get("/v3/emails", headers=api.headers, params=bad), 400)

    response = api.client.patch(
        f"/v3/emails/{second['campaign_id']}", headers=api.headers, json={"name": "Third"}
    )
    error(response, 409)
    response = api.client.patch(
        f"/v3/emails/{second['campaign_id']}", headers=api.headers, json={"name": "2nd"}
    )
    assert ok(response, "EmailCampaign")["name"] == "2nd"

    response = api.client.delete(f"/v3/emails/{first['campaign_id']}", headers=api.headers)
    assert response.status_code == 204
    assert api.campaign(first["campaign_id"])["current_status"] == "Removed"
    response = api.client.get("/v3/emails", headers=api.headers)
    statuses = {
        c["name"]: c["current_status"]
        for c in ok(response, "PagedEmailCampaignResponse")["campaigns"]
    }
    assert statuses == {"First": "Removed", "2nd": "Draft", "Third": "Draft"}  # deleted listed
    error(api.client.delete(f"/v3/emails/{first['campaign_id']}", headers=api.headers), 404)
    api.create("First")  # a removed campaign's name is free again
    assert third["campaign_id"] != first["campaign_id"]


def test_scopes_privileges_and_accounts(api: Api) -> None:
    campaign = api.create("Private")
    contacts_only = auth(api.running.emulator, scopes=("contact_data",))
    error(api.client.get("/v3/emails", headers=contacts_only), 403, "forbidden")
    carol = auth(api.running.emulator, CAROL)  # campaign_creator on Alice's account
    ok(api.client.get(f"/v3/emails/{campaign['campaign_id']}", headers=carol), "EmailCampaign")
    bob = auth(api.running.emulator, BOB)  # another account
    error(api.client.get(f"/v3/emails/{campaign['campaign_id']}", headers=bob), 404)
    body = {"name": "Bob's", "email_campaign_activities": [_activity()]}
    error(api.client.post("/v3/emails", headers=bob, json=body), 400)  # not Bob's address
    body = {
        "name": "Bob's",
        "email_campaign_activities": [_activity(from_email=BOB, reply_to_email=BOB)],
    }
    ok(api.client.post("/v3/emails", headers=bob, json=body), "EmailCampaign")
