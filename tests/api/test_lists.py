"""Contact lists and the list-delete activity, sync and async, contract-checked."""

from __future__ import annotations

import anyio
import pytest

from ctct.api import Client, Conflict, NotFound
from tests.api.conftest import ApiEnv
from tests.contract import validate


def test_lists_crud_and_delete_activity(client: Client) -> None:
    created = client.lists.create("VIP", description="Best customers", favorite=True)
    validate(created, "ContactListPutPost")
    list_id = created["list_id"]
    with pytest.raises(Conflict):
        client.lists.create("VIP")
    fetched = client.lists.get(list_id)
    validate(fetched, "ContactList")
    renamed = client.lists.rename(list_id, "Very Important")
    validate(renamed, "ContactListPutPost")
    assert (renamed["name"], renamed["description"], renamed["favorite"]) == (
        "Very Important",
        "Best customers",
        True,
    )
    assert client.lists.find_by_name("Very Important") == client.lists.get(list_id)
    assert client.lists.find_by_name("VIP") is None
    activity = client.lists.delete(list_id)
    assert activity is not None
    validate(activity, "ActivityDeleteListResponse")
    done = client.activities.wait(activity)
    validate(done, "Activity")
    assert done["state"] == "completed"
    assert list_id not in {i["list_id"] for i in client.lists.iter()}
    with pytest.raises(NotFound):
        client.lists.get("00000000-0000-4000-8000-000000000000")


def test_lists_pages(api_env: ApiEnv, client: Client) -> None:
    existing = len(list(client.lists.iter()))
    api_env.handle.seed(
        username="alice@example.com", lists=[{"name": f"L{i:03d}"} for i in range(12)]
    )
    pages = list(client.pages("/contact_lists", {"limit": 5, "include_count": "true"}))
    for page in pages:
        validate(page, "ContactListArray")
    total = existing + 12
    assert [len(p["lists"]) for p in pages] == [5] * (total // 5) + [total % 5]
    assert pages[0]["lists_count"] == total
    assert len({i["list_id"] for i in client.lists.iter()}) == total
    activities = list(client.activities.iter())
    for activity in activities:
        validate(activity, "Activity")


def test_async_lists(api_env: ApiEnv) -> None:
    async def main() -> None:
        async with api_env.async_client() as client:
            created = await client.lists.create("Async")
            validate(created, "ContactListPutPost")
            assert (await client.lists.find_by_name("Async")) == await client.lists.get(
                created["list_id"]
            )
            renamed = await client.lists.rename(created["list_id"], "Async 2")
            assert renamed["name"] == "Async 2"
            names = [i["name"] async for i in client.lists.iter()]
            assert "Async 2" in names and "Async" not in names
            activity = await client.lists.delete(created["list_id"])
            assert activity is not None
            done = await client.activities.wait(activity)
            validate(done, "Activity")
            assert done["state"] == "completed"

    anyio.run(main)
