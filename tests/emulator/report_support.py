"""Helpers for the email, scheduling and reporting tests: a driver that calls operations
of CC's contract by their path template, checks every answer against the contract and
records what it drove, plus a seeded account with a campaign ready to send.

The helpers take any ``Drives``: this module's ``Driver``, or the contract tours'
``Tour`` (``tests/emulator/tours``), whose ``call`` has the same signature; so the
functions of ``email_tours`` run under either.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx2

from ctct import _cc
from tests.conftest import Running
from tests.contract import load_swagger, validate, validate_error_array, validate_single_error
from tests.emulator.api_support import ALICE, mint

# Statuses CC's gateway answers whatever an operation's own responses say (spec 6.2).
GATEWAY_CODES = frozenset({401, 403, 405, 406, 415, 429})
SENDER = "alice@example.com"
HTML = (
    '<html><body><p>Spring is here.</p><a href="https://shop.example.com/spring">Shop</a> '
    '<a href="https://blog.example.com/news">Read more</a> [[trackingImage]]</body></html>'
)
LONG_TTL = 10 * 365 * 86_400  # tokens that outlive the clock jumps of these tests


@functools.cache
def operations() -> dict[tuple[str, str], dict[str, Any]]:
    """Every operation of the contract: ``(METHOD, template)`` -> its object."""
    paths: dict[str, Any] = load_swagger()["paths"]
    return {
        (method.upper(), template): op
        for template, item in paths.items()
        for method, op in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    }


def tagged(*tags: str) -> set[tuple[str, str]]:
    return {key for key, op in operations().items() if set(op.get("tags", [])) & set(tags)}


class Drives(Protocol):
    """What the drive functions need of a driver (``Driver`` or a tour's ``Tour``)."""

    running: Running

    def token(self, user: str = ALICE, scopes: tuple[str, ...] = _cc.DEFAULT_SCOPES) -> str: ...

    def advance(self, seconds: float) -> None: ...

    def call(
        self,
        method: str,
        template: str,
        status: int = 200,
        *,
        path: Mapping[str, object] | None = None,
        params: Any = None,
        json: Any = None,
        content: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        user: str = ALICE,
        scopes: tuple[str, ...] = _cc.DEFAULT_SCOPES,
        auth: bool = True,
    ) -> httpx2.Response: ...


def client(d: Drives) -> httpx2.Client:
    return d.running.client


def headers(d: Drives, user: str = ALICE) -> dict[str, str]:
    return {"Authorization": f"Bearer {d.token(user)}"}


def control(d: Drives, method: str, path: str, status: int = 200, /, **body: Any) -> Any:
    """A control-API request (``/__emulator`` + ``path``) and its JSON answer."""
    # A change is always JSON (even {}): the control API refuses cross-site-shaped posts.
    payload = body if method != "GET" else body or None
    response = client(d).request(method, "/__emulator" + path, json=payload)
    assert response.status_code == status, response.text
    return response.json()


@dataclass(frozen=True)
class Driven:
    method: str
    template: str
    status: int


@dataclass
class Driver:
    running: Running
    driven: list[Driven] = field(default_factory=list)
    _tokens: dict[tuple[str, tuple[str, ...]], str] = field(default_factory=dict)

    @property
    def client(self) -> httpx2.Client:
        return self.running.client

    def token(self, user: str = ALICE, scopes: tuple[str, ...] = _cc.DEFAULT_SCOPES) -> str:
        key = (user, scopes)
        if key not in self._tokens:
            self._tokens[key] = mint(self.running.emulator, user, scopes, ttl=LONG_TTL)
        return self._tokens[key]

    def headers(self, user: str = ALICE) -> dict[str, str]:
        return headers(self, user)

    def forget_tokens(self) -> None:
        """After the emulator's reset, which revokes every token."""
        self._tokens.clear()

    def advance(self, seconds: float) -> None:
        response = self.client.post("/__emulator/clock/advance", json={"seconds": seconds})
        assert response.status_code == 200, response.text

    def control(self, method: str, path: str, status: int = 200, /, **body: Any) -> Any:
        return control(self, method, path, status, **body)

    def call(
        self,
        method: str,
        template: str,
        status: int = 200,
        *,
        path: Mapping[str, object] | None = None,
        params: Any = None,
        json: Any = None,
        content: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        user: str = ALICE,
        scopes: tuple[str, ...] = _cc.DEFAULT_SCOPES,
        auth: bool = True,
    ) -> httpx2.Response:
        """One request to ``/v3`` + ``template``; asserts ``status`` and the body: a
        success against the contract's schema, an error in CC's shape."""
        op = operations().get((method, template))
        assert op is not None, f"{method} {template} is not an operation of the contract"
        sent: dict[str, str] = {}
        if auth:
            sent["Authorization"] = f"Bearer {self.token(user, scopes)}"
        sent.update(headers or {})
        url = _cc.API_BASE_PATH + template.format(**(path or {}))
        response = self.client.request(
            method, url, params=params, json=json, content=content, headers=sent
        )
        assert response.status_code == status, (
            f"{method} {url}: expected {status}, got {response.status_code}: {response.text}"
        )
        declared = op["responses"]
        if 200 <= status < 300:
            assert str(status) in declared, f"{method} {template}: {status} not in the contract"
            schema = declared[str(status)].get("schema")
            if schema is None:
                assert not response.content, response.text
            else:
                assert response.headers["content-type"].startswith("application/json")
                validate(response.json(), schema["$ref"].rsplit("/", 1)[-1])
        else:
            assert str(status) in declared or status in GATEWAY_CODES, (
                f"{method} {template}: {status} is neither declared nor a gateway code"
            )
            check_error(template, status, response.json())
        self.driven.append(Driven(method, template, status))
        return response

    def assert_drove(self, operations_: set[tuple[str, str]]) -> None:
        """Each operation reached a 2xx, and a 4xx other than a bare 401."""
        ok = {(d.method, d.template) for d in self.driven if d.status < 300}
        failed = {(d.method, d.template) for d in self.driven if 400 <= d.status != 401}
        assert not operations_ - ok, f"never driven to a 2xx: {sorted(operations_ - ok)}"
        assert not operations_ - failed, f"never driven to a 4xx: {sorted(operations_ - failed)}"


def check_error(template: str, status: int, body: Any) -> None:
    """CC's error shapes: the gateway's 401/429 and the reporting service's own errors
    are one object; every other error is an array."""
    if status in (401, 429) or (template.startswith("/reports/") and status in (400, 404)):
        validate(body, "StatsError")
        validate_single_error(body)
    else:
        validate_error_array(body)


def seed_news(d: Drives, count: int = 40, name: str = "News") -> str:
    """``count`` subscribed contacts on a new list; the list's id."""
    response = client(d).post(
        "/__emulator/seed",
        json={
            "username": ALICE,
            "lists": [{"name": name}],
            "contacts_count": count,
            "generated_list_memberships": [name],
        },
    )
    assert response.status_code == 200, response.text
    return str(response.json()["lists"][0]["list_id"])


def campaign(d: Drives, name: str, list_id: str | None, html: str = HTML) -> tuple[str, str]:
    """A draft campaign (sent to ``list_id`` when scheduled); its campaign and primary
    activity ids."""
    activity = {
        "format_type": 5,
        "from_name": "Alice's Bakery",
        "from_email": SENDER,
        "reply_to_email": SENDER,
        "subject": "Fresh bread",
        "html_content": html,
    }
    body = {"name": name, "email_campaign_activities": [activity]}
    created = client(d).post("/v3/emails", headers=headers(d), json=body)
    assert created.status_code == 200, created.text
    campaign_id = created.json()["campaign_id"]
    roles = {a["role"]: a["campaign_activity_id"] for a in created.json()["campaign_activities"]}
    if list_id is not None:
        put = {k: v for k, v in activity.items() if k not in ("format_type", "html_content")}
        response = client(d).put(
            f"/v3/emails/activities/{roles['primary_email']}",
            headers=headers(d),
            json={**put, "contact_list_ids": [list_id]},
        )
        assert response.status_code == 200, response.text
    return str(campaign_id), str(roles["primary_email"])


def send_now(d: Drives, activity_id: str) -> None:
    response = client(d).post(
        f"/v3/emails/activities/{activity_id}/schedules",
        headers=headers(d),
        json={"scheduled_date": "0"},
    )
    assert response.status_code == 201, response.text


def get(d: Drives, url: str, **params: Any) -> Any:
    response = client(d).get(url, headers=headers(d), params=params or None)
    assert response.status_code == 200, response.text
    return response.json()


def walk(d: Drives, url: str, key: str = "tracking_activities", **params: Any) -> list[Any]:
    """Every item of a paginated report, following ``_links.next.href``."""
    items: list[Any] = []
    page = get(d, url, **params)
    while True:
        items.extend(page[key])
        href = page.get("_links", {}).get("next", {}).get("href")
        if not href:
            return items
        page = get(d, href)
