"""Tour of Bulk Activities."""

from __future__ import annotations

import json

from tests.emulator.api_support import seed
from tests.emulator.tours import Tour

TAGS = ("Bulk Activities",)
NO_SUCH = "00000000-0000-4000-8000-000000000000"


def tour(t: Tour) -> None:
    seeded = seed(
        t.running,
        username="alice@example.com",
        lists=[{"name": "Regulars"}, {"name": "Old"}],
        contacts=[
            {"email": "ann@example.com", "list_memberships": ["Regulars"]},
            {"email": "ben@example.com", "list_memberships": ["Regulars"]},
        ],
    )
    regulars, old = (item["list_id"] for item in seeded["lists"])
    tag = t.call("POST", "/contact_tags", 201, json={"name": "Loyal"}).json()["tag_id"]
    field = t.call(
        "POST", "/contact_custom_fields", 201, json={"label": "Loaf", "type": "string"}
    ).json()["custom_field_id"]
    source = {"source": {"list_ids": [regulars]}}

    # Imports, memberships, deletes, exports: the operations served before issue 13.
    imported = t.call(
        "POST",
        "/activities/contacts_json_import",
        201,
        json={"import_data": [{"email": "cat@example.com"}], "list_ids": [regulars]},
    ).json()
    t.call("POST", "/activities/contacts_json_import", 400, json={"import_data": []})
    csv = "email,first_name\r\ndee@example.com,Dee\r\n"
    boundary = "tourboundary"
    multipart = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="c.csv"\r\n'
        f"Content-Type: text/csv\r\n\r\n{csv}\r\n"
        f'--{boundary}\r\nContent-Disposition: form-data; name="list_ids"\r\n\r\n{regulars}\r\n'
        f"--{boundary}--\r\n"
    )
    t.call(
        "POST",
        "/activities/contacts_file_import",
        201,
        content=multipart.encode(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    t.call(
        "POST",
        "/activities/contacts_file_import",
        415,
        content=b"email\r\n",
        headers={"Content-Type": "text/csv"},
    )
    t.call("POST", "/activities/add_list_memberships", 201, json={**source, "list_ids": [old]})
    t.call("POST", "/activities/add_list_memberships", 400, json=source)
    t.call("POST", "/activities/remove_list_memberships", 201, json={**source, "list_ids": [old]})
    t.call("POST", "/activities/remove_list_memberships", 400, json={"list_ids": [old]})
    export = t.call("POST", "/activities/contact_exports", 201, json={"list_ids": [regulars]})
    t.call("POST", "/activities/contact_exports", 400, json={"fields": ["shoe_size"]})

    # Issue 13's bulk activities.
    tagged = t.call(
        "POST", "/activities/contacts_taggings_add", 201, json={**source, "tag_ids": [tag]}
    ).json()
    assert tagged["status"] == {"items_total_count": 0, "items_completed_count": 0}
    t.call("POST", "/activities/contacts_taggings_add", 404, json={**source, "tag_ids": [NO_SUCH]})
    t.call("POST", "/activities/contacts_taggings_remove", 201, json={**source, "tag_ids": [tag]})
    t.call("POST", "/activities/contacts_taggings_remove", 400, json={"tag_ids": [tag]})
    t.call("POST", "/activities/contacts_tags_delete", 201, json={"tag_ids": [tag]})
    t.call("POST", "/activities/contacts_tags_delete", 400, json={"tag_ids": [NO_SUCH]})
    field_body = {"custom_field_ids": [field]}
    t.call("POST", "/activities/custom_fields_delete", 201, json=field_body)
    t.call("POST", "/activities/custom_fields_delete", 404, json={"custom_field_ids": [NO_SUCH]})
    listed = t.call("POST", "/activities/list_delete", 201, json={"list_ids": [old]}).json()
    assert listed["status"] == {"list_count": 1}
    t.call("POST", "/activities/list_delete", 400, json={"list_ids": ["not-a-list"]})
    t.call("POST", "/activities/contact_delete", 201, json={"contact_ids": [_contact(t)]})
    t.call("POST", "/activities/contact_delete", 400, json={})

    t.running.client.post("/__emulator/activities/run", json={})
    done = t.call(
        "GET", "/activities/{activity_id}", path={"activity_id": imported["activity_id"]}
    ).json()
    assert done["state"] == "completed", json.dumps(done)
    t.call("GET", "/activities/{activity_id}", 404, path={"activity_id": NO_SUCH})
    states = {a["state"] for a in t.call("GET", "/activities").json()["activities"]}
    assert states == {"completed"}, states
    t.call("GET", "/activities", 400, params={"state": "sleeping"})
    export_id = {"file_export_id": export.json()["activity_id"]}
    exported = t.call("GET", "/contact_exports/{file_export_id}", path=export_id)
    assert exported.text.startswith("email")
    t.call("GET", "/contact_exports/{file_export_id}", 404, path={"file_export_id": NO_SUCH})


def _contact(t: Tour) -> str:
    found = t.call("GET", "/contacts", params={"email": "ben@example.com"}).json()
    return str(found["contacts"][0]["contact_id"])
