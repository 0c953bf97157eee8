"""Bulk activities against the emulator: JSON and CSV imports split at CC's limits,
list memberships, contact deletes and exports, each polled to its end."""

from __future__ import annotations

import csv
import io

import anyio

from ctct.api import Client
from tests.api.conftest import ApiEnv
from tests.contract import validate

IMPORT = "/activities/contacts_json_import"


def people(n: int, start: int = 0) -> list[dict[str, str]]:
    return [
        {"email": f"p{i:06d}@example.com", "first_name": f"F{i}", "last_name": f"L{i}"}
        for i in range(start, start + n)
    ]


def test_json_import_in_requests_at_cc_limits(api_env: ApiEnv, client: Client) -> None:
    target = client.lists.create("Imported")
    progress: list[tuple[str, int, int]] = []
    done = client.activities.json_import(
        people(1_000), [target["list_id"]], on_progress=lambda *a: progress.append(a)
    )
    assert [a["state"] for a in done] == ["completed"]
    validate(done[0], "Activity")
    assert progress[0] == ("upload", 1_000, 1_000)
    assert progress[-1] == ("processing", 1_000, 1_000)
    assert client.contacts.count() == 1_000
    members = {
        c["email_address"]["address"] for c in client.contacts.iter(lists=[target["list_id"]])
    }
    assert members == {p["email"] for p in people(1_000)}
    assert api_env.api_counts()[f"POST /v3{IMPORT}"]["201"] == 1  # (the 400 is the probe)


def test_import_updates_existing_contacts(api_env: ApiEnv, client: Client) -> None:
    target = client.lists.create("Again")
    client.activities.json_import(people(10), [target["list_id"]])
    changed = [{**p, "first_name": "Changed"} for p in people(10)]
    client.activities.json_import(changed + people(5, start=10), [target["list_id"]])
    assert client.contacts.count() == 15
    assert {
        c["first_name"] for c in client.contacts.iter() if c["email_address"]["address"] < "p000010"
    } == {"Changed"}


def test_csv_import_multipart(api_env: ApiEnv, client: Client) -> None:
    target = client.lists.create("From CSV")
    text = "email,first_name\n" + "".join(f"c{i}@example.com,C{i}\n" for i in range(50))
    done = client.activities.csv_import(text, [target["list_id"]])
    validate(done[0], "Activity")
    assert done[0]["state"] == "completed"
    assert client.contacts.count() == 50


def test_memberships_delete_and_export(api_env: ApiEnv, client: Client) -> None:
    api_env.handle.seed(username="alice@example.com", contacts_count=600)
    ids = [c["contact_id"] for c in client.contacts.iter()]
    target = client.lists.create("Members")
    added = client.activities.add_list_memberships([target["list_id"]], contact_ids=ids)
    assert len(added) == 2  # 600 ids: batches of 500
    for activity in added:
        validate(activity, "Activity")
    assert (
        client.lists.get(target["list_id"], include_membership_count="all")["membership_count"]
        == 600
    )
    client.activities.remove_list_memberships([target["list_id"]], contact_ids=ids[:100])
    assert (
        client.lists.get(target["list_id"], include_membership_count="all")["membership_count"]
        == 500
    )
    text = client.activities.export_contacts({"list_ids": [target["list_id"]]})
    exported = list(csv.DictReader(io.StringIO(text)))
    assert len(exported) == 500
    client.activities.delete_contacts(contact_ids=ids[:50])
    assert client.contacts.count() == 550


def test_async_import_and_export(api_env: ApiEnv) -> None:

    async def main() -> str:
        async with api_env.async_client() as client:
            target = await client.lists.create("Async import")
            done = await client.activities.json_import(people(300), [target["list_id"]])
            assert done[0]["state"] == "completed"
            assert await client.contacts.count() == 300
            return await client.activities.export_contacts({})

    text = anyio.run(main)
    assert len(list(csv.DictReader(io.StringIO(text)))) == 300
