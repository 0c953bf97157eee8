"""Safe I/O with the provider: discovery, send helpers, and the emulator end to end."""

from __future__ import annotations

import asyncio
import base64
import gzip
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx2
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

from ctct import _cc
from ctct._oauth_http import (
    adiscover,
    asend,
    discover,
    discovery_candidates,
    fetch_jwks,
    resolve_provider,
    send,
)
from ctct._oauth_requests import (
    MAX_RESPONSE_BYTES,
    ClientCredentials,
    DevicePending,
    code_exchange_request,
    device_authorization_request,
    device_token_request,
    parse_device_authorization_response,
    parse_device_poll_response,
    parse_token_response,
    refresh_request,
    revoke_request,
)
from ctct._provider import Provider
from ctct._secret import Secret
from ctct._settings import Settings
from ctct.emulator.config import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, EmulatorConfig
from ctct.emulator.server import EmulatorServer
from ctct.errors import (
    AuthorizationRequired,
    ClientRejected,
    ConfigError,
    CtctError,
    NetworkError,
    ProviderError,
    TransientProviderError,
)
from tests.core._loopback import LoopbackServer


def metadata(issuer: str, **extra: Any) -> dict[str, Any]:
    return {
        "issuer": issuer,
        "authorization_endpoint": issuer + "/authorize",
        "token_endpoint": issuer + "/token",
        "device_authorization_endpoint": issuer + "/device",
        "revocation_endpoint": issuer + "/revoke",
        "jwks_uri": issuer + "/keys",
        "scopes_supported": ["openid", "offline_access", "read"],
        "id_token_signing_alg_values_supported": ["RS256", "HS256", "none"],
        **extra,
    }


@pytest.fixture
def client() -> Iterator[httpx2.Client]:
    with httpx2.Client() as http:
        yield http


# -- discovery ------------------------------------------------------------------------


def test_discovery_builds_provider(loopback: LoopbackServer, client: httpx2.Client) -> None:
    issuer = loopback.base_url + "/tenant"
    loopback.routes["/tenant/.well-known/openid-configuration"] = lambda r: JSONResponse(
        metadata(issuer)
    )
    provider = discover(client, issuer, audience="api://mine")
    assert provider.issuer == issuer
    assert provider.token_endpoint == issuer + "/token"
    assert provider.jwks_uri == issuer + "/keys"
    assert provider.audience == "api://mine"
    assert provider.signing_algorithms == ("RS256",)  # HS256 and none dropped
    assert provider.storage_issuer == issuer
    assert provider.scopes_supported == frozenset({"openid", "offline_access", "read"})


def test_discovery_falls_back_to_rfc8414(loopback: LoopbackServer, client: httpx2.Client) -> None:
    issuer = loopback.base_url + "/as"
    loopback.routes["/.well-known/oauth-authorization-server/as"] = lambda r: JSONResponse(
        metadata(issuer)
    )
    assert discover(client, issuer).issuer == issuer
    assert loopback.hits["/as/.well-known/openid-configuration"] == 1


def test_discovery_url_given_directly(loopback: LoopbackServer, client: httpx2.Client) -> None:
    loopback.routes["/.well-known/openid-configuration"] = lambda r: JSONResponse(
        metadata(loopback.base_url)
    )
    provider = discover(client, loopback.base_url + "/.well-known/openid-configuration")
    assert provider.issuer == loopback.base_url


def test_discovery_issuer_mismatch_rejected(
    loopback: LoopbackServer, client: httpx2.Client
) -> None:
    loopback.routes["/.well-known/openid-configuration"] = lambda r: JSONResponse(
        metadata("https://attacker.example")
    )
    with pytest.raises(ConfigError, match=r"RFC 8414 section 3\.3"):
        discover(client, loopback.base_url)


def test_discovery_redirect_not_followed(loopback: LoopbackServer, client: httpx2.Client) -> None:
    loopback.routes["/.well-known/openid-configuration"] = lambda r: RedirectResponse(
        loopback.base_url + "/elsewhere", status_code=302
    )
    loopback.routes["/elsewhere"] = lambda r: JSONResponse(metadata(loopback.base_url))
    with pytest.raises(ConfigError, match="redirect"):
        discover(client, loopback.base_url)
    assert loopback.hits["/elsewhere"] == 0


def test_discovery_http_off_loopback_rejected(client: httpx2.Client) -> None:
    with pytest.raises(ConfigError, match="plain http") as info:
        discover(client, "http://auth.example.com")
    assert "https" in info.value.message


def test_discovered_http_endpoint_off_loopback_rejected(
    loopback: LoopbackServer, client: httpx2.Client
) -> None:
    loopback.routes["/.well-known/openid-configuration"] = lambda r: JSONResponse(
        metadata(loopback.base_url, token_endpoint="http://auth.example.com/token")
    )
    with pytest.raises(ConfigError, match="token endpoint"):
        discover(client, loopback.base_url)


def test_discovery_oversized_rejected(loopback: LoopbackServer, client: httpx2.Client) -> None:
    big = metadata(loopback.base_url, padding="x" * (MAX_RESPONSE_BYTES + 10))
    loopback.routes["/.well-known/openid-configuration"] = lambda r: JSONResponse(big)
    with pytest.raises(TransientProviderError) as info:
        discover(client, loopback.base_url)
    assert info.value.code == "oversized"


def test_discovery_not_found(loopback: LoopbackServer, client: httpx2.Client) -> None:
    with pytest.raises(ConfigError, match="No discovery document"):
        discover(client, loopback.base_url + "/nothing")


def test_discovery_candidates() -> None:
    assert discovery_candidates("https://id.example/t1/") == [
        ("https://id.example/t1/.well-known/openid-configuration", "https://id.example/t1/"),
        ("https://id.example/.well-known/oauth-authorization-server/t1", "https://id.example/t1/"),
    ]
    assert discovery_candidates("https://id.example/.well-known/oauth-authorization-server/x") == [
        ("https://id.example/.well-known/oauth-authorization-server/x", "https://id.example/x")
    ]
    with pytest.raises(ConfigError):
        discovery_candidates("https://id.example/.well-known/other")


@pytest.mark.anyio
async def test_async_discovery(loopback: LoopbackServer) -> None:
    loopback.routes["/.well-known/openid-configuration"] = lambda r: JSONResponse(
        metadata(loopback.base_url)
    )
    async with httpx2.AsyncClient() as http:
        provider = await adiscover(http, loopback.base_url)
    assert provider.token_endpoint == loopback.base_url + "/token"


def test_resolve_provider_from_settings(loopback: LoopbackServer, client: httpx2.Client) -> None:
    loopback.routes["/.well-known/openid-configuration"] = lambda r: JSONResponse(
        metadata(loopback.base_url)
    )
    settings = Settings.load(env={}, config_path=None, issuer=loopback.base_url)
    assert settings.needs_discovery
    assert resolve_provider(settings, client).issuer == loopback.base_url
    cc = Settings.load(env={"CTCT_BASE_URL": "http://127.0.0.1:1"})
    assert resolve_provider(cc, client).token_endpoint == "http://127.0.0.1:1" + _cc.TOKEN_PATH
    assert sum(loopback.hits.values()) == 1


# -- send helpers ---------------------------------------------------------------------


def test_token_call_redirect_not_followed(loopback: LoopbackServer, client: httpx2.Client) -> None:
    loopback.routes["/token"] = lambda r: RedirectResponse(loopback.base_url + "/stolen", 307)
    loopback.routes["/stolen"] = lambda r: JSONResponse({"access_token": "x"})
    response = send(client, httpx2.Request("POST", loopback.base_url + "/token", data={"a": "b"}))
    assert response.status_code == 307
    assert loopback.hits["/stolen"] == 0


def test_chunked_oversized_body_stops_reading(
    loopback: LoopbackServer, client: httpx2.Client
) -> None:
    async def endless() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b"x" * 65536

    loopback.routes["/big"] = lambda r: StreamingResponse(endless())
    with pytest.raises(TransientProviderError) as info:
        send(client, httpx2.Request("GET", loopback.base_url + "/big"))
    assert info.value.code == "oversized"


def test_trickling_body_hits_overall_deadline(
    loopback: LoopbackServer, client: httpx2.Client
) -> None:
    async def trickle() -> AsyncIterator[bytes]:
        for _ in range(50):
            await asyncio.sleep(0.05)
            yield b"{"

    loopback.routes["/slow"] = lambda r: StreamingResponse(trickle())
    with pytest.raises(TransientProviderError) as info:
        send(client, httpx2.Request("GET", loopback.base_url + "/slow"), timeout=0.5)
    assert info.value.code == "timeout"


def test_read_timeout_is_transient(loopback: LoopbackServer, client: httpx2.Client) -> None:
    async def stall(request: Request) -> Response:
        await asyncio.sleep(1.0)
        return Response("late")

    loopback.routes["/stall"] = stall
    with pytest.raises(TransientProviderError) as info:
        send(client, httpx2.Request("GET", loopback.base_url + "/stall"), timeout=0.2)
    assert info.value.code == "timeout"


def test_connection_refused_is_network_error(client: httpx2.Client) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(NetworkError) as info:
        send(client, httpx2.Request("POST", f"http://127.0.0.1:{port}/token"))
    assert info.value.retryable
    assert f"127.0.0.1:{port}/token" in info.value.message


def test_gzip_body_is_decoded(loopback: LoopbackServer, client: httpx2.Client) -> None:
    payload = b'{"keys": []}'
    loopback.routes["/gz"] = lambda r: Response(
        gzip.compress(payload), headers={"content-encoding": "gzip"}
    )
    response = send(client, httpx2.Request("GET", loopback.base_url + "/gz"))
    assert response.content == payload
    assert response.json() == {"keys": []}


def test_send_refuses_http_off_loopback(client: httpx2.Client) -> None:
    with pytest.raises(ConfigError, match="plain http"):
        send(client, httpx2.Request("POST", "http://auth.example.com/token"))


def test_jwks_fetch_errors(loopback: LoopbackServer, client: httpx2.Client) -> None:
    loopback.routes["/keys"] = lambda r: Response("down", status_code=503)
    with pytest.raises(TransientProviderError):
        fetch_jwks(client, loopback.base_url + "/keys")
    loopback.routes["/keys"] = lambda r: RedirectResponse("/other", 302)
    with pytest.raises(ProviderError, match="redirect"):
        fetch_jwks(client, loopback.base_url + "/keys")


@pytest.mark.anyio
async def test_async_send_caps_and_maps(loopback: LoopbackServer) -> None:
    loopback.routes["/big"] = lambda r: Response(b"x" * (MAX_RESPONSE_BYTES + 1))
    loopback.routes["/ok"] = lambda r: JSONResponse({"fine": True})
    async with httpx2.AsyncClient() as http:
        ok = await asend(http, httpx2.Request("GET", loopback.base_url + "/ok"))
        assert ok.json() == {"fine": True}
        with pytest.raises(TransientProviderError):
            await asend(http, httpx2.Request("GET", loopback.base_url + "/big"))


# -- against the emulator ---------------------------------------------------------------


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    # Lift the 1/s token-endpoint limit so one test can make several calls in a row.
    with EmulatorServer(EmulatorConfig(token_rate_per_second=1000.0)) as server:
        yield server


def test_emulator_device_flow_and_refresh_errors(
    emulator: EmulatorServer, client: httpx2.Client, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings.load(
        env={"CTCT_BASE_URL": emulator.base_url, "CTCT_CLIENT_ID": DEFAULT_CLIENT_ID}
    )
    provider = settings.provider()
    public = ClientCredentials(DEFAULT_CLIENT_ID)
    now = emulator.emulator.clock.now
    with caplog.at_level(logging.DEBUG, logger="ctct"):
        start = send(client, device_authorization_request(provider, public, ["contact_data"]))
        auth = parse_device_authorization_response(start, received_at=now())
        poll = send(client, device_token_request(provider, public, auth.device_code))
        pending = parse_device_poll_response(
            poll, provider=provider, client_id=DEFAULT_CLIENT_ID, received_at=now()
        )
        assert isinstance(pending, DevicePending)

        bogus = Secret("not-a-refresh-token-0123456789")
        confidential = ClientCredentials(DEFAULT_CLIENT_ID, Secret(DEFAULT_CLIENT_SECRET))
        with pytest.raises(AuthorizationRequired) as grant_error:
            parse_token_response(
                send(client, refresh_request(provider, confidential, bogus)),
                provider=provider,
                client_id=DEFAULT_CLIENT_ID,
                received_at=now(),
            )
        assert grant_error.value.code == "invalid_grant"

        wrong = ClientCredentials(DEFAULT_CLIENT_ID, Secret("regenerated-elsewhere-0123"))
        with pytest.raises(ClientRejected) as client_error:
            parse_token_response(
                send(client, refresh_request(provider, wrong, bogus)),
                provider=provider,
                client_id=DEFAULT_CLIENT_ID,
                received_at=now(),
            )
    for text in (caplog.text, str(grant_error.value), str(client_error.value)):
        for secret in (bogus.reveal(), auth.device_code.reveal(), DEFAULT_CLIENT_SECRET):
            assert secret not in text
    assert "/oauth2/default/v1/token -> HTTP 400" in caplog.text


def test_emulator_token_rate_limit_is_transient(client: httpx2.Client) -> None:
    with EmulatorServer() as server:  # CC's real limit: 1 token request per second
        provider = Settings.load(env={"CTCT_BASE_URL": server.base_url}).provider()
        credentials = ClientCredentials(DEFAULT_CLIENT_ID, Secret(DEFAULT_CLIENT_SECRET))
        errors = []
        for _ in range(3):
            response = send(client, refresh_request(provider, credentials, Secret("bogus-rt")))
            try:
                parse_token_response(
                    response, provider=provider, client_id=DEFAULT_CLIENT_ID, received_at=0.0
                )
            except (AuthorizationRequired, TransientProviderError) as exc:
                errors.append(exc)
    assert isinstance(errors[0], AuthorizationRequired)
    assert any(isinstance(e, TransientProviderError) and e.retryable for e in errors[1:])


def _echo(status: int, code: str) -> Any:
    async def handler(request: Request) -> Response:
        # A careless provider that repeats everything it was sent in its error text.
        body = (await request.body()).decode()
        auth = request.headers.get("authorization", "")
        decoded = ""
        if auth.startswith("Basic "):
            decoded = base64.b64decode(auth[6:]).decode()
        description = f"bad request {body} auth {auth} decoded {decoded}"
        return JSONResponse({"error": code, "error_description": description}, status)

    return handler


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "invalid_grant"),
        (401, "invalid_client"),
        (400, "invalid_request"),
        (400, "access_denied"),
        (429, "slow"),
        (500, "server_error"),
    ],
)
def test_error_messages_never_contain_what_was_sent(
    loopback: LoopbackServer,
    client: httpx2.Client,
    caplog: pytest.LogCaptureFixture,
    status: int,
    code: str,
) -> None:
    provider = Provider(
        issuer=loopback.base_url,
        token_endpoint=loopback.base_url + "/token",
        revocation_endpoint=loopback.base_url + "/token",
        device_authorization_endpoint=loopback.base_url + "/token",
    )
    loopback.routes["/token"] = _echo(status, code)
    # Deliberately short values: too short for the token-shape mask, caught exactly.
    secret, refresh, auth_code, verifier, device = "pw-42", "rt-77", "c0de9", "v3rif", "dc-55"
    confidential = ClientCredentials("client-1", Secret(secret))
    requests = [
        refresh_request(provider, confidential, Secret(refresh)),
        code_exchange_request(
            provider,
            confidential,
            Secret(auth_code),
            redirect_uri="http://127.0.0.1/cb",
            code_verifier=Secret(verifier),
        ),
        device_token_request(provider, ClientCredentials("client-1"), Secret(device)),
        revoke_request(provider, confidential, Secret(refresh)),
    ]
    messages = []
    with caplog.at_level(logging.DEBUG, logger="ctct"):
        for request in requests:
            response = send(client, request)
            with pytest.raises(CtctError) as info:
                parse_token_response(
                    response, provider=provider, client_id="client-1", received_at=0.0
                )
            messages.append(f"{info.value} {info.value!r} {info.value.message}")
    assert all("bad request" in m for m in messages)  # the description was shown...
    for text in [*messages, caplog.text]:
        for value in (secret, refresh, auth_code, verifier, device):
            assert value not in text  # ...without anything that was sent
