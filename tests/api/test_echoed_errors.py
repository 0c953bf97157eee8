"""The V3 API's errors through a proxy that echoes every secret it sees (real sockets,
the emulator behind it): ``ApiError`` and its subclasses (str, repr, args, every
attribute, the error entries) and the log show no token and no client secret, and the
echo's request id and UUID stay readable."""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Iterator

import anyio
import httpx2
import pytest

from ctct.api import AsyncClient, Client
from ctct.api.errors import ApiError, Forbidden, NotFound, error_from_response
from ctct.errors import CtctError
from tests.support.echo_env import EchoEnv, describe, echo_env
from tests.support.echo_proxy import MARKERS, REQUEST_ID, leaks


@pytest.fixture
def env() -> Iterator[EchoEnv]:
    with echo_env() as env:
        yield env


def entries(error: ApiError) -> str:
    return " ".join(f"{e.error_key} {e.error_message}" for e in getattr(error, "errors", ()))


def test_client_api_errors_show_no_token_of_the_grant(
    env: EchoEnv, caplog: pytest.LogCaptureFixture
) -> None:
    # safety: src/ctct/api/client.py: _redact.scrub(exc, self.manager.held_secrets())
    manager = env.manager()
    env.login(manager)
    tokens = manager.tokens()
    assert tokens is not None and tokens.refresh_token is not None
    env.proxy.inject("/v3/account/summary", 403, "forbidden", echo_code=True)
    with Client(manager) as client, caplog.at_level(logging.DEBUG, logger="ctct"):
        with pytest.raises(NotFound) as missing:
            client.request("GET", f"/contacts/{uuid.uuid4()}")
        with pytest.raises(Forbidden) as forbidden:
            client.account.summary()
    # The API echoed the grant's refresh token too (the proxy saw it at the token
    # endpoint): only the client, which knows the grant, can mask it.
    assert tokens.refresh_token.reveal() in env.proxy.echo()
    for caught in (missing.value, forbidden.value):
        env.assert_clean(describe(caught), entries(caught))
        assert caught.code is not None
        env.assert_clean(caught.code)
    env.assert_clean(caplog.text, echoed=False)
    manager.close()


def test_async_client_api_errors_show_no_token_of_the_grant(env: EchoEnv) -> None:
    # safety: src/ctct/api/client.py: _redact.scrub(exc, held)
    manager = env.manager()
    env.login(manager)

    async def fail() -> CtctError:
        async with AsyncClient(manager) as client:
            try:
                await client.request("GET", f"/contacts/{uuid.uuid4()}")
            except CtctError as error:
                return error
        raise AssertionError("the request did not fail")

    error = anyio.run(fail)
    assert isinstance(error, NotFound)
    env.assert_clean(describe(error), entries(error))


def test_an_error_response_masks_the_bearer_it_answers(env: EchoEnv) -> None:
    # safety: src/ctct/api/errors.py: held = held.plus(_redact.in_response(response))
    # safety: src/ctct/_redact.py: text = printable(text)
    bearer = "at-" + secrets.token_urlsafe(40)  # opaque: no JWT shape to catch it
    response = env.http.get(
        env.provider.api_base_url + "/account/summary",  # type: ignore[operator]
        headers={"Authorization": f"Bearer {bearer}"},
    )
    assert response.status_code == 401
    assert bearer in response.text  # the echo
    error = error_from_response(response, now=0.0)
    # Alone, the error knows only the request it answers (the client masks the rest).
    shown = describe(error) + entries(error)
    assert not leaks(shown, [bearer]), shown
    assert "\x1b" not in shown and all(marker in shown for marker in MARKERS)


def test_a_reason_phrase_that_echoes_is_masked(env: EchoEnv) -> None:
    bearer = "at-" + secrets.token_urlsafe(40)
    env.proxy.inject("/v3/contacts", 418, "teapot")
    response = env.http.get(
        env.provider.api_base_url + "/contacts",  # type: ignore[operator]
        headers={"Authorization": f"Bearer {bearer}"},
    )
    assert bearer in response.reason_phrase
    stripped = httpx2.Response(
        418, content=b"not json", request=response.request, extensions=response.extensions
    )
    error = error_from_response(stripped, now=0.0)
    shown = describe(error)
    assert not leaks(shown, [bearer]) and REQUEST_ID in shown, shown
