"""Contact imports (JSON and CSV) as asynchronous activities: shapes, progression,
CC's merge rules, bad rows, request limits (400/415/429), activity listing, restart,
and 100,000 contacts over three CSV uploads."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from ctct.emulator import EmulatorConfig
from ctct.emulator.api import activity_store
from ctct.emulator.server import EmulatorServer
from tests.conftest import Running, StartEmulator
from tests.emulator.api_support import CAROL, FAST, auth, error, ok, seed
from tests.emulator.bulk_support import activity, control, default_list, upload, wait_done

JSON_IMPORT = "/v3/activities/contacts_json_import"
FILE_IMPORT = "/v3/activities/contacts_file_import"


class Api:
    def __init__(self, running: Running) -> None:
        self.running = running
        self.client = running.client
        self.headers = auth(running.emulator)
        self.list_id = default_list(running, self.headers)

    def json_import(self, rows: list[dict[str, Any]], list_ids: list[str] | None = None) -> Any:
        body = {"import_data": rows, "list_ids": list_ids or [self.list_id]}
        response = self.client.post(JSON_IMPORT, headers=self.headers, json=body)
        return ok(response, "ActivityImport", 201)

    def contacts(self, **params: Any) -> dict[str, Any]:
        """Every contact by email address, with all sub-resources."""
        query: dict[str, Any] = {
            "limit": 500,
            "include": "list_memberships,phone_numbers,street_addresses",
        }
        response = self.client.get("/v3/contacts", headers=self.headers, params={**query, **params})
        contacts = ok(response, "Contacts")["contacts"]
        return {c["email_address"]["address"]: c for c in contacts if "email_address" in c}

    def wait(self, activity_id: str) -> Any:
        return wait_done(self.running, self.headers, activity_id)


@pytest.fixture
def api(start_emulator: StartEmulator) -> Api:
    return Api(start_emulator(**FAST))


def test_json_import_creates_and_updates(api: Api) -> None:
    vip = seed(
        api.running,
        username="alice@example.com",
        lists=[{"name": "VIP"}],
        contacts=[
            {
                "email": "old@example.com",
                "first_name": "Olga",
                "last_name": "Old",
                "permission_to_send": "explicit",
                "list_memberships": ["VIP"],
            }
        ],
    )["lists"][0]["list_id"]
    queued = api.json_import(
        [
            {
                "email": "new@example.com",
                "first_name": "Nina",
                "last_name": "New",
                "job_title": "Baker",
                "company_name": "Crumbs",
                "birthday_month": 4,
                "birthday_day": "12",
                "anniversary": "2015-06-01",
                "home_phone": "555-0100",
                "work_phone": "555-0101",
                "street": "1 Main St",
                "street2": "Apt 2",
                "city": "Boston",
                "state": "MA",
                "zip": "02108",
                "country": "US",
            },
            {"email": "OLD@example.com", "first_name": "Olivia", "work_city": "Salem"},
            {"email": "not-an-email", "first_name": "Bad"},
        ]
    )
    assert queued["state"] == "initialized"
    assert queued["status"] == {
        "items_total_count": 3,
        "person_count": 3,
        "error_count": 0,
        "correctable_count": 0,
        "cannot_add_to_list_count": 0,
    }
    assert queued["_links"] == {"self": {"href": f"/v3/activities/{queued['activity_id']}"}}
    done = api.wait(queued["activity_id"])
    assert done["state"] == "completed" and done["percent_done"] == 100
    assert done["status"]["items_completed_count"] == 3
    assert done["status"]["correctable_count"] == 1
    assert done["activity_errors"] == ["Row 3: email address 'not-an-email' is not valid."]
    assert "started_at" in done and "completed_at" in done

    contacts = api.contacts()
    assert set(contacts) == {"new@example.com", "old@example.com"}
    new = contacts["new@example.com"]
    assert new["email_address"]["permission_to_send"] == "implicit"
    assert new["email_address"]["opt_in_source"] == "Account"
    assert new["create_source"] == new["update_source"] == "Account"
    assert (new["first_name"], new["job_title"], new["birthday_month"]) == ("Nina", "Baker", 4)
    assert new["birthday_day"] == 12 and new["anniversary"] == "2015-06-01"
    assert {(p["kind"], p["phone_number"]) for p in new["phone_numbers"]} == {
        ("home", "555-0100"),
        ("work", "555-0101"),
    }
    (address,) = new["street_addresses"]
    assert address["street"] == "1 Main St, Apt 2" and address["postal_code"] == "02108"
    assert new["list_memberships"] == [api.list_id]
    # An existing contact: only the given properties change; permission and lists kept.
    old = contacts["old@example.com"]
    assert (old["first_name"], old["last_name"]) == ("Olivia", "Old")
    assert old["email_address"]["address"] == "old@example.com"
    assert old["email_address"]["permission_to_send"] == "explicit"
    assert sorted(old["list_memberships"]) == sorted([vip, api.list_id])
    assert old["street_addresses"][0]["city"] == "Salem"
    assert old["street_addresses"][0]["kind"] == "work"


def test_progress_is_visible_step_by_step(api: Api) -> None:
    api.running.emulator.accounts.runner.chunk_size = 2
    control(api.running, "pause")
    queued = api.json_import([{"email": f"p{n}@example.com"} for n in range(5)])
    seen = [activity(api.running, api.headers, queued["activity_id"])]
    while control(api.running, "step")["stepped"]:
        seen.append(activity(api.running, api.headers, queued["activity_id"]))
    states = [s["state"] for s in seen]
    assert states == ["initialized", "processing", "processing", "processing", "completed"]
    assert [s["status"]["items_completed_count"] for s in seen] == [0, 0, 2, 4, 5]
    assert [s["percent_done"] for s in seen] == [0, 0, 40, 80, 100]
    # Contacts appear chunk by chunk, not all at once at the end.
    assert "completed_at" not in seen[3] and "completed_at" in seen[4]
    assert len(api.contacts()) == 5


def test_csv_import(api: Api) -> None:
    csv_text = (
        "Email,First Name,last_name\n"  # headers are case-insensitive, blanks are _
        + "ann@example.com,Ann,Lee\n"
        + "\n"  # blank lines are skipped, but still counted as file rows
        + "bob@@example,Bob,Bad\n"
        + ",Nobody,Here\n"
        + "cy@example.com,"
        + "C" * 51
        + ",Long\n"
        + "dee@example.com,Dee\n"
    )
    response = upload(api.running, api.headers, csv_text, [api.list_id], "people.csv")
    queued = ok(response, "ActivityImport", 201)
    assert queued["source_file_name"] == "people.csv"
    assert queued["status"]["items_total_count"] == 6  # 5 contacts + the header row
    assert queued["status"]["person_count"] == 5
    done = api.wait(queued["activity_id"])
    assert done["status"]["items_completed_count"] == 6
    assert done["status"]["correctable_count"] == 2
    assert done["status"]["error_count"] == 1
    assert done["activity_errors"] == [
        "Row 4: email address 'bob@@example' is not valid.",
        "Row 5: no email address or SMS number; the contact needs one.",
        "Row 6: first_name is longer than 50 characters.",
    ]
    contacts = api.contacts()
    assert set(contacts) == {"ann@example.com", "dee@example.com"}
    assert contacts["ann@example.com"]["first_name"] == "Ann"
    assert "last_name" not in contacts["dee@example.com"]  # a short row: blank cells


def test_sms_only_rows(api: Api) -> None:
    response = upload(
        api.running,
        api.headers,
        "sms_number,first_name\n617-555-0199,Sam\n12,Bad\n",
        [api.list_id],
        sms_permission_to_send="not_set",
    )
    done = api.wait(ok(response, "ActivityImport", 201)["activity_id"])
    assert done["activity_errors"] == ["Row 3: sms_number '12' is not a valid US phone number."]
    again = api.json_import([{"sms_number": "16175550199", "last_name": "Smith"}])
    api.wait(again["activity_id"])
    response = api.client.get("/v3/contacts", headers=api.headers)
    (sam,) = ok(response, "Contacts")["contacts"]  # matched by number, not duplicated
    assert (sam["first_name"], sam["last_name"]) == ("Sam", "Smith")
    assert sam["sms_channel"]["sms_address"] == "6175550199"


def test_unsubscribed_and_deleted_contacts(api: Api) -> None:
    seed(
        api.running,
        username="alice@example.com",
        contacts=[
            {"email": "gone@example.com", "permission_to_send": "unsubscribed"},
            {"email": "deleted@example.com", "deleted": True},
        ],
    )
    queued = api.json_import(
        [{"email": "gone@example.com", "first_name": "G"}, {"email": "deleted@example.com"}]
    )
    done = api.wait(queued["activity_id"])
    assert done["status"]["cannot_add_to_list_count"] == 1
    contacts = api.contacts(status="all")
    gone = contacts["gone@example.com"]
    assert gone["first_name"] == "G"  # updated...
    assert gone["list_memberships"] == []  # ...but not added to the list
    assert gone["email_address"]["permission_to_send"] == "unsubscribed"
    revived = contacts["deleted@example.com"]
    assert "deleted_at" not in revived and revived["list_memberships"] == [api.list_id]


def test_file_endpoint_media_types(api: Api) -> None:
    body = {"import_data": [{"email": "a@example.com"}], "list_ids": [api.list_id]}
    error(api.client.post(FILE_IMPORT, headers=api.headers, json=body), 415)
    # A Content-Type set by hand lacks the boundary the HTTP library would add.
    headers = {**api.headers, "Content-Type": "multipart/form-data"}
    error(api.client.post(FILE_IMPORT, headers=headers, content=b"email\na@example.com\n"), 415)
    response = upload(
        api.running, api.headers, "email\na@example.com\n", [api.list_id], "c.xlsx", "x/y"
    )
    error(response, 415)
    # The JSON endpoint wants JSON.
    error(api.client.post(JSON_IMPORT, headers=api.headers, content=json.dumps(body)), 415)


def test_request_problems_are_400(api: Api) -> None:
    def bad_json(body: dict[str, Any], expect: str) -> None:
        items = error(api.client.post(JSON_IMPORT, headers=api.headers, json=body), 400)
        assert any(expect in i["error_message"] for i in items), items

    one = [{"email": "a@example.com"}]
    bad_json({"import_data": one}, "list_ids is required")
    bad_json({"import_data": one, "list_ids": []}, "list_ids is required")
    bad_json({"import_data": one, "list_ids": ["nope"]}, "UUIDs")
    many = [str(uuid.uuid4()) for _ in range(51)]
    bad_json({"import_data": one, "list_ids": many}, "at most 50")
    missing = str(uuid.uuid4())
    bad_json({"import_data": one, "list_ids": [missing]}, f"list {missing} does not exist")
    bad_json({"import_data": [], "list_ids": [api.list_id]}, "import_data is required")
    bad_json({"import_data": [{"emial": "x"}], "list_ids": [api.list_id]}, "'emial'")
    bad_json({"import_data": [{"email": ["x"]}], "list_ids": [api.list_id]}, "must be a string")
    bad_json({"import_data": [{"cf:shoe": "9"}], "list_ids": [api.list_id]}, "cf:shoe")
    too_many = [{"email": f"u{n}@e.co"} for n in range(40_001)]
    bad_json({"import_data": too_many, "list_ids": [api.list_id]}, "at most 40,000")
    big = {"first_name": "x" * 50, "last_name": "y" * 50}
    huge = [{"email": f"u{n}@example.com", **big} for n in range(40_000)]
    bad_json({"import_data": huge, "list_ids": [api.list_id]}, "less than 4 MB")

    def bad_csv(text: str, expect: str, list_ids: list[str] | None = None) -> None:
        response = upload(api.running, api.headers, text, list_ids or [api.list_id])
        items = error(response, 400, "activities.api.validation.error")
        assert any(expect in i["error_message"] for i in items), items

    bad_csv("first_name\nAnn\n", "needs an email or sms_number column")
    bad_csv("email,shoe_size\na@example.com,9\n", "'shoe_size'")
    bad_csv("email\n", "no contacts")
    bad_csv("", "empty")
    bad_csv("email\na@example.com,extra\n", "Row 2 has 2 cells")
    bad_csv("email\n" + "a@example.com\n" * 40_000, "at most 40,000 including the header")
    bad_csv("email\na@example.com\n", "does not exist", [missing])
    bad_csv("email,first_name\n" + "a@example.com,xxxxx\n" * 200_000, "less than 4 MB")
    # 39,999 contacts plus the header is the most one file may hold.
    response = upload(
        api.running, api.headers, "email\n" + "a@example.com\n" * 39_999, [api.list_id]
    )
    ok(response, "ActivityImport", 201)


def test_too_many_queued_activities(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(activity_store, "MAX_QUEUED", 2)
    control(api.running, "pause")
    api.json_import([{"email": "a@example.com"}])
    api.json_import([{"email": "b@example.com"}])
    body = {"import_data": [{"email": "c@example.com"}], "list_ids": [api.list_id]}
    items = error(api.client.post(JSON_IMPORT, headers=api.headers, json=body), 429)
    assert items[0]["error_key"] == "activities.api.too_many_requests"
    control(api.running, "run")
    api.json_import([{"email": "c@example.com"}])  # room again once they completed


def test_activity_listing(api: Api) -> None:
    control(api.running, "pause")
    ids = [api.json_import([{"email": f"l{n}@example.com"}])["activity_id"] for n in range(3)]
    control(api.running, "step")  # the oldest is now processing
    response = api.client.get("/v3/activities", headers=api.headers, params={"limit": 2})
    first = ok(response, "Activities")
    assert [a["activity_id"] for a in first["activities"]] == [ids[2], ids[1]]  # newest first
    link = first["_links"]["next"]["href"]
    assert link.startswith("/v3/activities?cursor=")
    second = ok(api.client.get(link, headers=api.headers), "Activities")
    assert [a["activity_id"] for a in second["activities"]] == [ids[0]]
    assert "_links" not in second
    response = api.client.get("/v3/activities", headers=api.headers, params={"state": "processing"})
    assert [a["activity_id"] for a in ok(response, "Activities")["activities"]] == [ids[0]]
    control(api.running, "run")
    response = api.client.get("/v3/activities", headers=api.headers, params={"state": "completed"})
    assert len(ok(response, "Activities")["activities"]) == 3
    for bad in ({"state": "done"}, {"limit": "501"}, {"cursor": "x"}):
        error(api.client.get("/v3/activities", headers=api.headers, params=bad), 400)
    error(api.client.get(f"/v3/activities/{uuid.uuid4()}", headers=api.headers), 404)
    # Kept for ten days.
    api.running.emulator.clock.advance(10 * 86_400 + 1)
    later = auth(api.running.emulator)
    response = api.client.get("/v3/activities", headers=later)
    assert ok(response, "Activities")["activities"] == []
    error(api.client.get(f"/v3/activities/{ids[0]}", headers=later), 404)


def test_privileges(api: Api) -> None:
    carol = auth(api.running.emulator, CAROL)
    body = {"import_data": [{"email": "a@example.com"}], "list_ids": [api.list_id]}
    error(api.client.post(JSON_IMPORT, headers=carol, json=body), 403, "forbidden")
    error(upload(api.running, carol, "email\na@example.com\n", [api.list_id]), 403)
    error(api.client.get("/v3/activities", headers=carol), 403)


def test_import_resumes_after_restart(start_emulator: StartEmulator, tmp_path: Path) -> None:
    data = tmp_path / "emulator.db"
    first = Api(start_emulator(data_path=data, **FAST))
    first.running.emulator.accounts.runner.chunk_size = 10
    control(first.running, "pause")
    queued = first.json_import([{"email": f"r{n:02d}@example.com"} for n in range(25)])
    control(first.running, "step")
    control(first.running, "step")  # 10 of 25 imported
    assert (
        activity(first.running, first.headers, queued["activity_id"])["status"][
            "items_completed_count"
        ]
        == 10
    )
    first.running.emulator.accounts.close()
    first.running.emulator.close()

    second = start_emulator(data_path=data, **FAST)
    done = wait_done(second, first.headers, queued["activity_id"])
    assert done["state"] == "completed" and done["status"]["items_completed_count"] == 25
    response = second.client.get(
        "/v3/contacts", headers=first.headers, params={"limit": 500, "include_count": "true"}
    )
    contacts = ok(response, "Contacts")
    assert contacts["contacts_count"] == 25  # each row exactly once across the restart
    assert {c["email_address"]["address"] for c in contacts["contacts"]} == {
        f"r{n:02d}@example.com" for n in range(25)
    }


@pytest.fixture
def served() -> Iterator[Api]:
    """One emulator on a loopback socket: the 100,000-contact test runs once, the way a
    client's import reaches a server, rather than in both modes."""
    config = EmulatorConfig().with_changes(**FAST)
    with (
        EmulatorServer(config) as server,
        httpx2.Client(base_url=server.base_url, timeout=30) as client,
    ):
        yield Api(Running(server.emulator, server.base_url, client, "socket"))


def test_hundred_thousand_contacts_in_three_uploads(served: Api) -> None:
    api = served
    emails = [f"person{n:06d}@example.com" for n in range(100_000)]
    ids = []
    for part in range(3):
        chunk = emails[part * 33_334 : (part + 1) * 33_334]
        text = "email,first_name\n" + "".join(f"{e},P{n}\n" for n, e in enumerate(chunk))
        response = upload(api.running, api.headers, text, [api.list_id], f"part{part}.csv")
        ids.append(ok(response, "ActivityImport", 201)["activity_id"])
    for activity_id in ids:
        done = api.wait(activity_id)
        assert done["state"] == "completed" and done["activity_errors"] == []
    response = api.client.get(
        "/v3/contacts",
        headers=api.headers,
        params={"lists": api.list_id, "include_count": "true", "limit": 1},
    )
    assert ok(response, "Contacts")["contacts_count"] == 100_000
    account = api.running.emulator.config.user("alice@example.com")
    assert account is not None
    rows = api.running.emulator.db.query(
        "SELECT email_key FROM contacts WHERE account_id = ?", (account.account_id,)
    )
    stored = [r["email_key"] for r in rows]
    assert len(stored) == 100_000 and set(stored) == set(emails)


def test_malformed_multipart_is_400(api: Api) -> None:
    headers = {**api.headers, "Content-Type": "multipart/form-data; boundary=xyz"}
    response = api.client.post(FILE_IMPORT, headers=headers, content=b'{"not": "multipart"}')
    error(response, 400, "activities.api.validation.error")


def test_reset_forgets_activities_and_resumes_the_worker(api: Api) -> None:
    control(api.running, "pause")
    queued = api.json_import([{"email": "a@example.com"}])
    assert api.client.get("/__emulator/activities").json()["paused"] is True
    assert api.client.post("/__emulator/reset", json={}).json() == {"reset": True}
    assert api.client.get("/__emulator/activities").json()["paused"] is False
    fresh = Api(api.running)  # tokens are forgotten too; the default list is new
    error(api.client.get(f"/v3/activities/{queued['activity_id']}", headers=fresh.headers), 404)
    done = fresh.wait(fresh.json_import([{"email": "b@example.com"}])["activity_id"])
    assert done["state"] == "completed"
