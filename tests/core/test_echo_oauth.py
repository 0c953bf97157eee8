"""The token endpoint, revocation, device authorization, discovery and JWT verification
through a proxy that echoes every secret it sees (real sockets, the emulator behind it):
no message, exception attribute or log record shows one, and the ids in the echo stay
readable."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator

import anyio
import pytest

from ctct import _cc
from ctct._oauth_http import discover, send
from ctct._oauth_requests import (
    ClientCredentials,
    check_revoke_response,
    code_exchange_request,
    device_authorization_request,
    device_token_request,
    oauth_error,
    parse_device_authorization_response,
    parse_token_response,
    refresh_request,
    revoke_request,
)
from ctct._secret import Secret
from ctct.errors import AuthorizationDenied, CtctError, ProviderError, TokenValidationError
from ctct.flows import DeviceCodeIssued, Login
from tests.support.echo_env import EchoEnv, describe, echo_env
from tests.support.echo_proxy import MARKERS, leaks


@pytest.fixture
def env() -> Iterator[EchoEnv]:
    with echo_env() as env:
        yield env


def test_token_endpoint_errors_show_nothing_the_request_carried(
    env: EchoEnv, caplog: pytest.LogCaptureFixture
) -> None:
    # safety: src/ctct/_oauth_requests.py: secrets = secrets.plus(_redact.in_response(response))
    provider, client = env.provider, env.client
    requests = [
        refresh_request(provider, client, Secret("rt-" + secrets.token_urlsafe(30))),
        code_exchange_request(
            provider,
            client,
            Secret("code-" + secrets.token_urlsafe(20)),
            redirect_uri="http://127.0.0.1/callback",
            code_verifier=Secret(secrets.token_urlsafe(48)),
        ),
        device_token_request(provider, client, Secret("dc-" + secrets.token_urlsafe(30))),
    ]
    shown = []
    with caplog.at_level(logging.DEBUG, logger="ctct"):
        for request in requests:
            response = send(env.http, request)
            assert response.status_code == 400  # the emulator refused the made-up grant
            with pytest.raises(CtctError) as caught:
                parse_token_response(
                    response, provider=provider, client_id=client.client_id, received_at=0.0
                )
            shown.append(describe(caught.value))
    assert len(env.proxy.rewritten) == 3
    env.assert_clean(*shown)
    env.assert_clean(caplog.text, echoed=False)


def test_an_echoing_error_code_is_kept_only_masked(env: EchoEnv) -> None:
    # safety: src/ctct/_oauth_requests.py: code = _shown_code(raw, secrets)
    env.proxy.inject(_cc.TOKEN_PATH, 400, "odd_error", echo_code=True)
    refresh_token = Secret("rt-" + secrets.token_urlsafe(30))
    response = send(env.http, refresh_request(env.provider, env.client, refresh_token))
    error = oauth_error(response)
    assert isinstance(error, ProviderError) and error.code is not None
    assert error.code.startswith("odd_error request")
    env.assert_clean(describe(error), error.code)


def test_revoke_errors_show_no_token_of_the_grant(env: EchoEnv) -> None:
    # safety: src/ctct/_oauth_requests.py: secrets = secrets.plus(_redact.in_response(response))
    manager = env.manager()
    env.login(manager)
    tokens = manager.tokens()
    assert tokens is not None and tokens.refresh_token is not None
    env.proxy.inject(_cc.REVOKE_PATH, 400, "invalid_request")
    request = revoke_request(env.provider, env.client, tokens.refresh_token)
    with pytest.raises(CtctError) as caught:
        check_revoke_response(send(env.http, request), held=[tokens.access_token])
    env.assert_clean(describe(caught.value))
    manager.close()


def test_device_urls_show_no_secret_and_the_code_stays(env: EchoEnv) -> None:
    # safety: src/ctct/_oauth_requests.py: uri = server_text(uri, shown, limit=None)
    # safety: src/ctct/_oauth_requests.py: complete = server_text(complete, shown, limit=None)
    request = device_authorization_request(env.provider, env.client, ["contact_data"])
    response = send(env.http, request)
    raw = response.json()
    assert "echo=" in raw["verification_uri"]  # the proxy put the secrets in
    device = parse_device_authorization_response(response, received_at=0.0)
    assert device.user_code == raw["user_code"]
    assert device.device_code.reveal() == raw["device_code"]
    shown = f"{device.verification_uri} {device.verification_uri_complete} {device!r}"
    env.assert_clean(shown)


def test_a_discovery_document_echoing_a_secret_is_refused(env: EchoEnv) -> None:
    # safety: src/ctct/_oauth_http.py: _refuse_echoes(metadata, url, _redact.Held(held))
    issuer = env.proxy.base_url
    env.proxy.serve_discovery(
        {
            "issuer": issuer,
            "token_endpoint": issuer + _cc.TOKEN_PATH,
            "jwks_uri": issuer + _cc.JWKS_PATH,
        }
    )
    with pytest.raises(ProviderError) as caught:
        discover(env.http, issuer, held=[env.client_secret])
    assert caught.value.code == "echoed_secret"
    env.assert_clean(describe(caught.value), echoed=False)


def test_a_forged_key_id_does_not_show_the_refresh_token(
    env: EchoEnv, caplog: pytest.LogCaptureFixture
) -> None:
    # safety: src/ctct/_manager.py: _redact.scrub(error, self.held_secrets())
    manager = env.manager()
    env.login(manager)
    env.proxy.forge_access_tokens()
    with (
        caplog.at_level(logging.DEBUG, logger="ctct"),
        pytest.raises(TokenValidationError) as caught,
    ):
        manager.refresh(force=True)
    assert caught.value.check == "key"
    stored = manager.tokens()
    assert stored is not None and stored.refresh_token is not None  # kept, as it must be
    assert stored.refresh_token.reveal() in env.proxy.seen  # ...and it is what the kid held
    env.assert_clean(describe(caught.value), caplog.text, echoed=False)
    manager.close()


def test_a_forged_key_id_does_not_show_the_refresh_token_async(env: EchoEnv) -> None:
    # safety: src/ctct/_manager.py: _redact.scrub(error, held)
    manager = env.manager()
    env.login(manager)
    env.proxy.forge_access_tokens()

    async def refresh() -> BaseException:
        try:
            await manager.arefresh(force=True)
        except TokenValidationError as error:
            return error
        raise AssertionError("the forged token was accepted")

    error = anyio.run(refresh)
    env.assert_clean(describe(error), echoed=False)
    anyio.run(manager.aclose)


def test_token_manager_errors_show_no_secret(
    env: EchoEnv, caplog: pytest.LogCaptureFixture
) -> None:
    # safety: src/ctct/_redact.py: spans.extend(self._index.spans(text))
    manager = env.manager()
    env.login(manager)
    env.proxy.inject(_cc.TOKEN_PATH, 503, "temporarily_unavailable")
    env.proxy.inject(_cc.TOKEN_PATH, 400, "invalid_client", echo_code=True)
    failures = []
    with caplog.at_level(logging.DEBUG, logger="ctct"):
        for _ in range(2):
            with pytest.raises(CtctError) as caught:
                manager.refresh(force=True)
            failures.append(describe(caught.value))
    env.assert_clean(*failures)
    env.assert_clean(caplog.text)  # the transient failure was logged as a warning
    manager.close()


def test_a_public_client_echo_masks_the_device_code(env: EchoEnv) -> None:
    # safety: src/ctct/_oauth_requests.py: secrets = secrets.plus(_redact.in_response(response))
    public = ClientCredentials(env.client.client_id)  # no secret: the device code is all
    device_code = "dc-" + secrets.token_urlsafe(30)
    request = device_token_request(env.provider, public, Secret(device_code))
    with pytest.raises(CtctError) as caught:
        parse_token_response(
            send(env.http, request), provider=env.provider, client_id="x", received_at=0.0
        )
    shown = describe(caught.value)
    assert not leaks(shown, [device_code]), shown
    assert all(marker in shown for marker in MARKERS)


def test_a_new_login_masks_the_grant_it_replaces(env: EchoEnv) -> None:
    # safety: src/ctct/flows/_run.py: _redact.scrub(error, io.manager.held_secrets())
    # safety: src/ctct/flows/_device.py: held = ctx.held()
    manager = env.manager()
    env.login(manager)  # the grant a second login replaces: the proxy echoes its tokens
    old = manager.tokens()
    assert old is not None and old.refresh_token is not None
    events: list[object] = []
    env.proxy.inject(_cc.TOKEN_PATH, 400, "access_denied")
    login = Login(manager, on_event=events.append)
    with pytest.raises(AuthorizationDenied) as caught:
        login.device(timeout=30)
    assert old.refresh_token.reveal() in env.proxy.echo()
    issued = [e for e in events if isinstance(e, DeviceCodeIssued)]
    assert len(issued) == 1
    env.assert_clean(describe(caught.value))
    env.assert_clean(repr(issued[0]), issued[0].verification_uri, echoed=False)
    manager.close()
