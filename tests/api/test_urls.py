"""The bearer token goes only to the API base: paths, next links and redirects."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ctct.api import ApiError, Client, RefusedUrl
from ctct.api.urls import ApiBase
from ctct.emulator.inprocess import SyncASGITransport
from tests.api.conftest import FAST_CLIENT, ApiEnv

BASE = ApiBase("https://api.cc.email/v3")


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("contacts", "https://api.cc.email/v3/contacts"),
        ("/contacts", "https://api.cc.email/v3/contacts"),
        (
            "/v3/contacts?cursor=abc&limit=50",
            "https://api.cc.email/v3/contacts?cursor=abc&limit=50",
        ),
        ("/v3", "https://api.cc.email/v3"),
        ("https://api.cc.email/v3/contact_lists", "https://api.cc.email/v3/contact_lists"),
        ("https://API.cc.email:443/v3/emails", "https://api.cc.email/v3/emails"),
        ("/account/summary", "https://api.cc.email/v3/account/summary"),
        ("/contacts/abc%20def", "https://api.cc.email/v3/contacts/abc%20def"),
    ],
)
def test_paths_resolve_inside_the_api_base(target: str, expected: str) -> None:
    assert BASE.resolve(target) == expected


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/v3/contacts",
        "http://api.cc.email/v3/contacts",  # another scheme is another origin
        "https://api.cc.email:8443/v3/contacts",
        "https://api.cc.email/v2/contacts",
        "https://api.cc.email/v3x",
        "//evil.example/v3/contacts",
        "/v3/../oauth2/default/v1/token",
        "/contacts/../../oauth2",
        "/v3/%2e%2e/secret",
        "/v3/%252e%252e/secret",
        "/v3/contacts/..%2fx",
        "/v3/./contacts",
        "https://user:pw@api.cc.email/v3/contacts",
        "ftp://api.cc.email/v3/contacts",
        "/v3/contacts#frag",
        "/v3/contacts\\..\\x",
        "/v3/contacts\r\nHost: evil",
        "",
        "   ",
    ],
)
def test_paths_leaving_the_api_base_are_refused(target: str) -> None:
    with pytest.raises(RefusedUrl):
        BASE.resolve(target)


def test_refused_url_is_a_usage_error() -> None:
    with pytest.raises(RefusedUrl) as caught:
        BASE.resolve("https://evil.example/v3/contacts")
    assert caught.value.exit_code == 2
    assert "evil.example" in caught.value.message


class Hostile:
    """A server that answers as an attacker-controlled API would: a page whose next
    link points elsewhere, and a redirect to another host. It records every request
    and the Authorization header it carried."""

    def __init__(self, next_href: str) -> None:
        self.seen: list[tuple[str, str | None]] = []

        async def page(request: Request) -> Response:
            self.seen.append((str(request.url), request.headers.get("authorization")))
            return JSONResponse({"contacts": [], "_links": {"next": {"href": next_href}}})

        async def redirect(request: Request) -> Response:
            self.seen.append((str(request.url), request.headers.get("authorization")))
            return Response(status_code=302, headers={"Location": "https://evil.example/steal"})

        async def anything(request: Request) -> Response:
            self.seen.append((str(request.url), request.headers.get("authorization")))
            return JSONResponse({})

        self.app = Starlette(
            routes=[
                Route("/v3/contacts", page),
                Route("/v3/moved", redirect),
                Route("/{rest:path}", anything),
            ]
        )


@pytest.mark.parametrize(
    "next_href",
    ["https://evil.example/v3/contacts?cursor=x", "//evil.example/v3/contacts", "/v3/../steal"],
)
def test_a_next_link_elsewhere_is_refused_before_anything_is_sent(
    api_env: ApiEnv, next_href: str
) -> None:
    hostile = Hostile(next_href)
    client = Client(
        api_env.manager(),
        transport=SyncASGITransport(hostile.app),
        api_base_url="http://127.0.0.1:9/v3",
        limits=FAST_CLIENT,
    )
    with client, pytest.raises(RefusedUrl):
        list(client.contacts.iter())
    assert [url for url, _ in hostile.seen] == ["http://127.0.0.1:9/v3/contacts?limit=500"]


def test_redirects_are_not_followed(api_env: ApiEnv) -> None:
    hostile = Hostile("/v3/contacts")
    with (
        Client(
            api_env.manager(),
            transport=SyncASGITransport(hostile.app),
            api_base_url="http://127.0.0.1:9/v3",
            limits=FAST_CLIENT,
        ) as client,
        pytest.raises(ApiError) as caught,
    ):
        client.request("GET", "/moved")
    assert caught.value.status == 302
    assert "never follows redirects" in caught.value.message
    assert [url for url, _ in hostile.seen] == ["http://127.0.0.1:9/v3/moved"]


def test_refused_paths_reach_no_server(api_env: ApiEnv) -> None:
    client = api_env.client()
    before = api_env.statuses()
    for target in ("https://evil.example/v3/contacts", "/v3/../__emulator/config"):
        with pytest.raises(RefusedUrl):
            client.request("GET", target)
    assert api_env.statuses() == before
