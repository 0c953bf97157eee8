"""Cursor pagination over ``GET /v3/contacts``: path-relative ``_links.next.href``, an
opaque cursor carrying filters and position, no link on the last page, limit 1-500."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import Running, StartEmulator
from tests.emulator.api_support import FAST, auth, error, ok, seed


@pytest.fixture
def api(start_emulator: StartEmulator) -> Running:
    return start_emulator(**FAST)


def _walk(running: Running, first: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Every page from ``first`` on, following next links; checks each link's shape."""
    pages = []
    url: str | None = first
    while url is not None:
        page = ok(running.client.get(url, headers=headers), "Contacts")
        pages.append(page)
        link = page.get("_links", {}).get("next", {}).get("href")
        if link is not None:
            parts = urlsplit(link)
            assert not parts.scheme and not parts.netloc, link  # path-relative
            assert parts.path == "/v3/contacts"
            assert set(parse_qs(parts.query)) == {"cursor", "limit"}
        url = link
        assert len(pages) < 1000, "the walk does not end"
    return pages


def test_walk_sees_every_contact_exactly_once(api: Running) -> None:
    assert seed(api, username="alice@example.com", contacts_count=1234)["contacts"] == 1234
    pages = _walk(api, "/v3/contacts", auth(api.emulator))
    sizes = [len(p["contacts"]) for p in pages]
    assert sizes == [50] * 24 + [34]  # default limit 50
    assert "_links" not in pages[-1]
    ids = [c["contact_id"] for p in pages for c in p["contacts"]]
    assert len(ids) == len(set(ids)) == 1234
    emails = {c["email_address"]["address"] for p in pages for c in p["contacts"]}
    assert emails == {f"contact{n:06d}@example.com" for n in range(1, 1235)}


def test_limit_is_kept_in_next_links(api: Running) -> None:
    seed(api, username="alice@example.com", contacts_count=1234)
    pages = _walk(api, "/v3/contacts?limit=500", auth(api.emulator))
    assert [len(p["contacts"]) for p in pages] == [500, 500, 234]
    first = urlsplit(pages[0]["_links"]["next"]["href"])
    assert parse_qs(first.query)["limit"] == ["500"]


def test_cursor_carries_filters_includes_and_count(api: Running) -> None:
    vip = seed(api, username="alice@example.com", lists=[{"name": "VIP"}])["lists"][0]
    seed(
        api,
        username="alice@example.com",
        contacts_count=120,
        generated_list_memberships=["VIP"],
    )
    seed(
        api,
        username="alice@example.com",
        contacts=[{"email": f"gone{n}@example.com", "deleted": True} for n in range(30)],
    )
    headers = auth(api.emulator)
    first = "/v3/contacts?status=all&include=list_memberships&include_count=true&limit=40"
    pages = _walk(api, first, headers)
    assert [len(p["contacts"]) for p in pages] == [40, 40, 40, 30]
    assert all(p["contacts_count"] == 150 for p in pages)
    assert all("list_memberships" in c for p in pages for c in p["contacts"])
    on_vip = [c for p in pages for c in p["contacts"] if c["list_memberships"] == [vip["list_id"]]]
    assert len(on_vip) == 120
    # The default status filter, carried the same way, leaves the deleted ones out.
    pages = _walk(api, "/v3/contacts?limit=40", headers)
    assert sum(len(p["contacts"]) for p in pages) == 120
    assert not any("list_memberships" in c for p in pages for c in p["contacts"])


def test_walk_is_stable_while_contacts_change(api: Running) -> None:
    seed(api, username="alice@example.com", contacts_count=100)
    headers = auth(api.emulator)
    seen: list[str] = []
    url: str | None = "/v3/contacts?limit=30"
    while url is not None:
        page = ok(api.client.get(url, headers=headers), "Contacts")
        seen.extend(c["contact_id"] for c in page["contacts"])
        # Update one contact already seen: it must not be seen again.
        contact = page["contacts"][0]
        response = api.client.put(
            f"/v3/contacts/{contact['contact_id']}",
            headers=headers,
            json={"update_source": "Account", "first_name": "Changed"},
        )
        ok(response, "ContactResource")
        url = page.get("_links", {}).get("next", {}).get("href")
    assert len(seen) == len(set(seen)) == 100


@pytest.mark.parametrize("limit", ["0", "501", "-3", "ten", "1.5"])
def test_limit_out_of_range_is_400(api: Running, limit: str) -> None:
    response = api.client.get("/v3/contacts", params={"limit": limit}, headers=auth(api.emulator))
    items = error(response, 400, "contacts.api.validation.error")
    assert "limit" in items[0]["error_message"]


@pytest.mark.parametrize("limit", ["1", "500"])
def test_limit_bounds_are_accepted(api: Running, limit: str) -> None:
    seed(api, username="alice@example.com", contacts_count=3)
    response = api.client.get("/v3/contacts", params={"limit": limit}, headers=auth(api.emulator))
    body = ok(response, "Contacts")
    assert len(body["contacts"]) == min(int(limit), 3)
    assert ("_links" in body) == (limit == "1")


@pytest.mark.parametrize("cursor", ["garbage", "eyJ2IjoyfQ", "e30"])
def test_forged_cursor_is_400(api: Running, cursor: str) -> None:
    response = api.client.get("/v3/contacts", params={"cursor": cursor}, headers=auth(api.emulator))
    items = error(response, 400, "contacts.api.validation.error")
    assert "cursor" in items[0]["error_message"]


def test_empty_account_has_one_page_without_links(api: Running) -> None:
    body = ok(api.client.get("/v3/contacts", headers=auth(api.emulator)), "Contacts")
    assert body == {"contacts": []}
