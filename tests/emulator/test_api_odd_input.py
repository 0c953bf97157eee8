"""Odd input to issue 13's operations gets CC's 4xx, never a 500: numbers written with
non-ASCII digits or too large for SQLite, and cursors crafted by hand."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.emulator.area_support import inprocess_tour
from tests.emulator.tours import Tour


@pytest.fixture(scope="module")
def t() -> Iterator[Tour]:
    with inprocess_tour() as tour:
        yield tour


def crafted(payload: Any) -> str:
    """A cursor as the emulator encodes them, with content of our choosing."""
    raw = json.dumps({"v": 1, "f": payload, "a": 10**30}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    ("method", "template", "path", "params", "status"),
    [
        ("GET", "/contacts/contact_id_xrefs", {}, {"sequence_ids": "²"}, 400),
        ("GET", "/contacts/contact_id_xrefs", {}, {"sequence_ids": "9" * 30}, 400),
        ("GET", "/contact_lists/list_id_xrefs", {}, {"sequence_ids": "１"}, 400),
        ("GET", "/segments/{segment_id}", {"segment_id": "٣"}, None, 404),
        ("GET", "/segments/{segment_id}", {"segment_id": "9" * 40}, None, 404),
        ("GET", "/segments", {}, {"cursor": crafted({"s": "name", "k": [{}, 1]})}, 400),
        ("GET", "/segments", {}, {"cursor": crafted({"s": "date", "k": ["x", 10**40]})}, 400),
        ("GET", "/events", {}, {"next": crafted({"order": "ASC"})}, 400),
        (
            "GET",
            "/events",
            {},
            {
                "next": crafted(
                    {"status": None, "search": None, "sort_by": "seq; DROP", "order": "ASC"}
                )
            },
            400,
        ),
        ("GET", "/social/hashtags/groups", {}, {"page": "9" * 30}, 400),
        ("GET", "/contacts", {}, {"segment_id": "9" * 30}, 400),
    ],
)
def test_odd_input_is_a_4xx(
    t: Tour, method: str, template: str, path: dict[str, str], params: Any, status: int
) -> None:
    t.call(method, template, status, path=path, params=params)


def test_odd_partner_input_is_a_4xx(t: Tour) -> None:
    headers = t.partner_headers()
    for url in (
        "/v3/partner/accounts?offset=" + "9" * 30,
        "/v3/partner/accounts?offset=²",
        "/v3/partner/webhooks/subscriptions/²",
        "/v3/partner/webhooks/subscriptions/" + "9" * 30,
    ):
        response = t.running.client.get(url, headers=headers)
        assert 400 <= response.status_code < 500, (url, response.text)
