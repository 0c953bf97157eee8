"""Custom fields, tags, email campaigns and sign-up-form upserts, sync and async,
against the emulator (each skipped while the emulator lacks its endpoints)."""

from __future__ import annotations

import anyio
import pytest

from ctct.api import BadRequest, Client, Conflict
from ctct.api.emails import primary_activity_id
from tests.api.conftest import ApiEnv
from tests.contract import validate


def test_custom_fields(api_env: ApiEnv, client: Client) -> None:
    created = client.custom_fields.create({"label": "Shoe size", "type": "string"})
    validate(created, "CustomField")
    field_id = created["custom_field_id"]
    assert client.custom_fields.get(field_id)["label"] == "Shoe size"
    updated = client.custom_fields.update(field_id, {"label": "Shoe Size", "type": "string"})
    validate(updated, "CustomField")
    page = next(client.pages("/contact_custom_fields"))
    validate(page, "CustomFields")
    assert [f["label"] for f in client.custom_fields.iter()] == ["Shoe Size"]
    client.custom_fields.delete(field_id)
    assert list(client.custom_fields.iter()) == []


def test_tags(api_env: ApiEnv, client: Client) -> None:
    created = client.tags.create({"name": "Donor"})
    validate(created, "Tag")
    with pytest.raises(Conflict):
        client.tags.create({"name": "Donor"})
    renamed = client.tags.update(created["tag_id"], {"name": "Donors"})
    validate(renamed, "Tag")
    page = next(client.pages("/contact_tags"))
    validate(page, "Tags")
    assert [t["name"] for t in client.tags.iter()] == ["Donors"]
    activity = client.tags.delete(created["tag_id"])
    if activity is not None:
        client.activities.wait(activity)
    assert list(client.tags.iter()) == []


CAMPAIGN = {
    "name": "Spring sale",
    "email_campaign_activities": [
        {
            "format_type": 5,
            "from_name": "Alice's Bakery",
            "from_email": "alice@example.com",
            "reply_to_email": "alice@example.com",
            "subject": "Spring is here",
            "html_content": "<html><body>[[trackingImage]] Hello</body></html>",
        }
    ],
}


def test_email_campaigns(api_env: ApiEnv, client: Client) -> None:
    created = client.emails.create(CAMPAIGN)
    validate(created, "EmailCampaign")
    assert created["current_status"] == "Draft"
    fetched = client.emails.get(created["campaign_id"])
    validate(fetched, "EmailCampaign")
    page = next(client.pages("/emails"))
    validate(page, "PagedEmailCampaignResponse")
    assert [c["name"] for c in client.emails.iter()] == ["Spring sale"]
    activity_id = primary_activity_id(created)
    assert activity_id is not None
    audience = client.lists.create("Spring customers")
    with pytest.raises(BadRequest):  # Constant Contact needs recipients first
        client.emails.schedule(activity_id, "2030-05-01T09:00:00.000Z")
    schedule = client.emails.schedule(
        activity_id, "2030-05-01T09:00:00.000Z", list_ids=[audience["list_id"]]
    )
    validate(schedule, "EmailScheduleResponse")
    activity = client.emails.get_activity(activity_id)
    validate(activity, "EmailCampaignActivity")
    assert activity["contact_list_ids"] == [audience["list_id"]]
    assert client.emails.get(created["campaign_id"])["current_status"] == "Scheduled"


def test_sign_up_form_creates_then_updates(api_env: ApiEnv, client: Client) -> None:
    target = client.lists.create("Newsletter")
    first = client.contacts.create_or_update(
        "new@example.com", [target["list_id"]], first_name="New"
    )
    assert first["created"] is True
    validate({k: v for k, v in first.items() if k != "created"}, "ContactCreateOrUpdateResponse")
    again = client.contacts.create_or_update(
        "new@example.com", [target["list_id"]], last_name="Person"
    )
    assert again["created"] is False and again["contact_id"] == first["contact_id"]
    contact = client.contacts.get(first["contact_id"], include=["list_memberships"])
    assert (contact["first_name"], contact["last_name"]) == ("New", "Person")
    assert contact["list_memberships"] == [target["list_id"]]


def test_async_resources(api_env: ApiEnv) -> None:

    async def main() -> None:
        async with api_env.async_client() as client:
            tag = await client.tags.create({"name": "Async"})
            validate(tag, "Tag")
            assert [t["name"] async for t in client.tags.iter()] == ["Async"]
            field = await client.custom_fields.create({"label": "Async", "type": "string"})
            assert (await client.custom_fields.get(field["custom_field_id"]))["label"] == "Async"
            campaign = await client.emails.create(CAMPAIGN)
            validate(await client.emails.get(campaign["campaign_id"]), "EmailCampaign")
            assert [c["name"] async for c in client.emails.iter()] == ["Spring sale"]
            audience = await client.lists.create("Async customers")
            activity_id = primary_activity_id(campaign)
            assert activity_id is not None
            schedule = await client.emails.schedule(
                activity_id, "2030-05-01T09:00:00.000Z", list_ids=[audience["list_id"]]
            )
            validate(schedule, "EmailScheduleResponse")

    anyio.run(main)
