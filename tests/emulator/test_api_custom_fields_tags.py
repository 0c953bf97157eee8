"""Custom fields (CRUD, 409, 100 per account, pagination, values on contacts and in
imports) and tags (CRUD, 409, include_count, DELETE as an activity that un-tags)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from ctct.emulator.api import custom_field_store
from tests.conftest import Running, StartEmulator
from tests.emulator.api_support import CAROL, FAST, auth, error, ok
from tests.emulator.bulk_support import control, default_list, wait_done

FIELDS = "/v3/contact_custom_fields"
TAGS = "/v3/contact_tags"


class Api:
    def __init__(self, running: Running) -> None:
        self.running = running
        self.client = running.client
        self.headers = auth(running.emulator)

    def post(self, url: str, body: dict[str, Any], definition: str, status: int = 201) -> Any:
        return ok(self.client.post(url, headers=self.headers, json=body), definition, status)

    def field(self, label: str, kind: str = "string", **extra: Any) -> Any:
        return self.post(FIELDS, {"label": label, "type": kind, **extra}, "CustomField")

    def tag(self, name: str, **extra: Any) -> Any:
        return self.post(TAGS, {"name": name, **extra}, "Tag")

    def contact(self, **body: Any) -> Any:
        body.setdefault("create_source", "Account")
        return self.post("/v3/contacts", body, "ContactResource")

    def get_contact(self, contact_id: str) -> Any:
        response = self.client.get(
            f"/v3/contacts/{contact_id}",
            headers=self.headers,
            params={"include": "custom_fields,taggings"},
        )
        return ok(response, "ContactResource")


@pytest.fixture
def api(start_emulator: StartEmulator) -> Api:
    return Api(start_emulator(**FAST))


def test_custom_field_crud(api: Api) -> None:
    created = api.field("Favorite Color")
    assert created["name"] == "Favorite_Color"  # blanks become underscores
    assert created["type"] == "string" and created["version"] == 1
    field_id = created["custom_field_id"]
    response = api.client.get(f"{FIELDS}/{field_id}", headers=api.headers)
    assert ok(response, "CustomField") == created

    size = api.field(
        "Size",
        "single_select",
        choices=[{"choice_label": "S"}, {"choice_label": "M", "display_order": 5}],
    )
    assert [(c["choice_id"], c["choice_label"], c["display_order"]) for c in size["choices"]] == [
        (1, "S", 1),
        (2, "M", 5),
    ]
    response = api.client.put(
        f"{FIELDS}/{size['custom_field_id']}",
        headers=api.headers,
        json={"label": "T-shirt size", "choices": [{"choice_id": 2, "choice_label": "Medium"}]},
    )
    renamed = ok(response, "CustomField")
    assert (renamed["label"], renamed["name"], renamed["version"]) == (
        "T-shirt size",
        "T-shirt_size",
        2,
    )
    assert [(c["choice_id"], c["choice_label"]) for c in renamed["choices"]] == [(2, "Medium")]
    # PUT: omitted choices are cleared, which a select field cannot be.
    response = api.client.put(
        f"{FIELDS}/{size['custom_field_id']}", headers=api.headers, json={"label": "X"}
    )
    error(response, 400, "custom_fields.api.validation.error")
    response = api.client.put(f"{FIELDS}/{field_id}", headers=api.headers, json={})
    error(response, 400)  # label is required
    response = api.client.put(
        f"{FIELDS}/{field_id}", headers=api.headers, json={"label": "Colour", "type": "date"}
    )
    error(response, 400)  # the type cannot change

    response = api.client.delete(f"{FIELDS}/{field_id}", headers=api.headers)
    assert response.status_code == 204 and response.content == b""
    for method in ("GET", "PUT", "DELETE"):
        kwargs: dict[str, Any] = {"json": {"label": "A"}} if method == "PUT" else {}
        response = api.client.request(method, f"{FIELDS}/{field_id}", headers=api.headers, **kwargs)
        error(response, 404, "custom_fields.api.not_found")


def test_custom_field_conflicts_and_limits(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    api.field("Shoe size")
    response = api.client.post(
        FIELDS, headers=api.headers, json={"label": "shoe size", "type": "string"}
    )
    error(response, 409, "custom_fields.api.conflict")
    for bad in (
        {"type": "string"},
        {"label": "x" * 51, "type": "string"},
        {"label": "A", "type": "colour"},
        {"label": "A", "type": "string", "choices": [{"choice_label": "x"}]},
        {"label": "A", "type": "multi_select"},
        {"label": "A", "type": "string", "colour": "red"},
    ):
        error(api.client.post(FIELDS, headers=api.headers, json=bad), 400)
    monkeypatch.setattr(custom_field_store, "MAX_PER_ACCOUNT", 3)
    api.field("Two")
    api.field("Three")
    items = error(
        api.client.post(FIELDS, headers=api.headers, json={"label": "Four", "type": "string"}),
        400,
    )
    assert "at most 3 custom fields" in items[0]["error_message"]


def test_custom_field_pages(api: Api) -> None:
    for n in range(7):
        api.field(f"Field {n}")
    labels: list[str] = []
    url: str | None = f"{FIELDS}?limit=3"
    while url is not None:
        page = ok(api.client.get(url, headers=api.headers), "CustomFields")
        labels.extend(f["label"] for f in page["custom_fields"])
        url = page.get("_links", {}).get("next", {}).get("href")
        assert url is None or url.startswith(f"{FIELDS}?cursor=")
    assert labels == [f"Field {n}" for n in range(7)]
    for bad in ("0", "101"):
        error(api.client.get(FIELDS, headers=api.headers, params={"limit": bad}), 400)


def test_values_on_contacts_and_imports(api: Api) -> None:
    shoe = api.field("Shoe size")["custom_field_id"]
    colour = api.field("Colour")["custom_field_id"]
    ann = api.contact(
        email_address={"address": "ann@example.com"},
        custom_fields=[
            {"custom_field_id": shoe, "value": "38"},
            {"custom_field_id": colour, "value": "red"},
        ],
    )
    list_id = default_list(api.running, api.headers)
    response = api.client.post(
        "/v3/activities/contacts_json_import",
        headers=api.headers,
        json={
            "import_data": [
                {"email": "ann@example.com", "cf:shoe_size": "39"},
                {"email": "bea@example.com", "cf:Colour": "blue"},
            ],
            "list_ids": [list_id],
        },
    )
    done = wait_done(api.running, api.headers, ok(response, "ActivityImport", 201)["activity_id"])
    assert done["activity_errors"] == []
    values = {
        f["custom_field_id"]: f["value"]
        for f in api.get_contact(ann["contact_id"])["custom_fields"]
    }
    assert values == {shoe: "39", colour: "red"}
    # Deleting a field removes its values from contacts.
    assert api.client.delete(f"{FIELDS}/{colour}", headers=api.headers).status_code == 204
    fields = api.get_contact(ann["contact_id"])["custom_fields"]
    assert fields == [{"custom_field_id": shoe, "value": "39"}]


def test_tag_crud(api: Api) -> None:
    vip = api.tag("VIP", tag_source="Contact")
    assert vip["tag_source"] == "Contact" and "contacts_count" not in vip
    error(
        api.client.post(TAGS, headers=api.headers, json={"name": "vip"}), 409, "tags.api.conflict"
    )
    error(api.client.post(TAGS, headers=api.headers, json={"name": ""}), 400)
    error(api.client.post(TAGS, headers=api.headers, json={"name": "x" * 256}), 400)
    other = api.tag("Other")
    response = api.client.put(
        f"{TAGS}/{other['tag_id']}", headers=api.headers, json={"name": "VIP"}
    )
    error(response, 409)
    response = api.client.put(
        f"{TAGS}/{other['tag_id']}", headers=api.headers, json={"name": "Regulars"}
    )
    assert ok(response, "Tag")["name"] == "Regulars"
    response = api.client.get(f"{TAGS}/{vip['tag_id']}", headers=api.headers)
    assert ok(response, "Tag") == vip
    error(api.client.get(f"{TAGS}/{uuid.uuid4()}", headers=api.headers), 404, "tags.api.not_found")
    error(api.client.delete(f"{TAGS}/{uuid.uuid4()}", headers=api.headers), 404)


def test_tag_counts_pages_and_delete(api: Api) -> None:
    vip = api.tag("VIP")["tag_id"]
    new = api.tag("New")["tag_id"]
    for n in range(3):
        api.contact(email_address={"address": f"c{n}@example.com"}, taggings=[vip])
    both = api.contact(email_address={"address": "both@example.com"}, taggings=[vip, new])
    page = ok(api.client.get(TAGS, headers=api.headers, params={"include_count": "true"}), "Tags")
    assert {t["name"]: t["contacts_count"] for t in page["tags"]} == {"VIP": 4, "New": 1}
    response = api.client.get(
        f"{TAGS}/{new}", headers=api.headers, params={"include_count": "true"}
    )
    assert ok(response, "Tag")["contacts_count"] == 1
    first = ok(api.client.get(TAGS, headers=api.headers, params={"limit": 1}), "Tags")
    assert [t["name"] for t in first["tags"]] == ["VIP"]
    second = ok(api.client.get(first["_links"]["next"]["href"], headers=api.headers), "Tags")
    assert [t["name"] for t in second["tags"]] == ["New"] and "_links" not in second

    api.running.emulator.accounts.runner.chunk_size = 2
    control(api.running, "pause")
    response = api.client.delete(f"{TAGS}/{vip}", headers=api.headers)
    accepted = ok(response, "ActivityGeneric", 202)
    assert accepted["state"] == "initialized"
    ok(api.client.get(f"{TAGS}/{vip}", headers=api.headers), "Tag")  # not gone yet
    control(api.running, "resume")
    done = wait_done(api.running, api.headers, accepted["activity_id"])
    assert done["status"] == {"items_total_count": 4, "items_completed_count": 4}
    error(api.client.get(f"{TAGS}/{vip}", headers=api.headers), 404)
    assert api.get_contact(both["contact_id"])["taggings"] == [new]


def test_privileges(api: Api) -> None:
    carol = auth(api.running.emulator, CAROL)  # campaign_creator: no contacts privileges
    for url in (FIELDS, TAGS):
        error(api.client.get(url, headers=carol), 403, "forbidden")
        error(api.client.post(url, headers=carol, json={"name": "x", "label": "x"}), 403)
    no_scope = auth(api.running.emulator, scopes=("campaign_data",))
    error(api.client.get(TAGS, headers=no_scope), 403)
