"""Drop-in auth: httpx2 (sync and async), plain httpx, requests; and the async manager."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import httpx2
import pytest
import requests

from ctct._auth import BearerAuth, RequestsAuth
from ctct._httpx_auth import HttpxAuth
from ctct._oauth_requests import revoke_request
from tests.refresh.conftest import Env

DAY = 86_400


def _revoke_access_token(env: Env, token: str) -> None:
    from ctct._secret import Secret

    env.http.send(revoke_request(env.provider, env.client, Secret(token)))
    env.clock.advance(1.1)


def test_async_manager_refreshes_once_for_many_tasks(mode_env: Env) -> None:
    env = mode_env

    async def scenario() -> set[str]:
        with env.manager() as manager:
            env.login(manager)
            env.clock.advance(DAY + 1)
            tokens = await asyncio.gather(*(manager.atoken() for _ in range(20)))
            await manager.aclose()
            return set(tokens)

    assert len(asyncio.run(scenario())) == 1
    assert env.refreshes() == 1


def test_async_httpx2_client_replays_after_401(env: Env) -> None:
    async def scenario() -> int:
        with env.manager() as manager:
            first = env.login(manager)
            _revoke_access_token(env, first.access_token.reveal())  # type: ignore[union-attr]
            async with httpx2.AsyncClient(
                base_url=env.server.base_url, auth=BearerAuth(manager)
            ) as api:
                response = await api.get("/v3/account/summary")
            await manager.aclose()
            return response.status_code

    assert asyncio.run(scenario()) == 200
    assert env.refreshes() == 1


def test_plain_httpx_auth(env: Env) -> None:
    with env.manager() as manager:
        first = env.login(manager)
        with httpx.Client(base_url=env.server.base_url, auth=HttpxAuth(manager)) as api:
            assert api.get("/v3/account/summary").status_code == 200
            _revoke_access_token(env, first.access_token.reveal())  # type: ignore[union-attr]
            assert api.get("/v3/account/summary").status_code == 200
    assert env.refreshes() == 1


def test_plain_httpx_async_client_refreshes_and_replays_after_401(env: Env) -> None:
    """``HttpxAuth`` on a plain ``httpx.AsyncClient``, over a real socket: the header
    comes from the manager, a due token is refreshed once for many tasks, and a 401 is
    answered by one refresh and one replay."""

    async def scenario() -> tuple[list[int], list[int]]:
        with env.manager() as manager:
            first = env.login(manager)
            async with httpx.AsyncClient(
                base_url=env.server.base_url, auth=HttpxAuth(manager)
            ) as api:
                ok = await api.get("/v3/account/summary")
                assert ok.json()["organization_name"] == "Alice's Bakery"
                env.clock.advance(DAY + 1)  # expired: every task needs the new token
                env.emu.api_limiter.rate = 1000.0
                storm = await asyncio.gather(*(api.get("/v3/account/summary") for _ in range(8)))
                assert env.refreshes() == 1
                second = manager.tokens()
                assert second is not None and second.access_token is not None
                assert second.access_token.reveal() != first.access_token.reveal()  # type: ignore[union-attr]
                _revoke_access_token(env, second.access_token.reveal())
                replayed = await api.get("/v3/account/summary")
            await manager.aclose()
            return [r.status_code for r in storm], [
                *(r.status_code for r in replayed.history),
                replayed.status_code,
            ]

    statuses, replay = asyncio.run(scenario())
    assert statuses == [200] * 8
    assert replay == [401, 200]  # refused once, refreshed, replayed
    assert env.refreshes() == 2


def test_requests_auth_sets_the_header_and_replays_after_401(env: Env) -> None:
    with env.manager() as manager, requests.Session() as session:
        first = env.login(manager)
        session.auth = RequestsAuth(manager)
        ok = session.get(f"{env.server.base_url}/v3/account/summary", timeout=10)
        assert ok.status_code == 200
        assert ok.json()["organization_name"]
        _revoke_access_token(env, first.access_token.reveal())  # type: ignore[union-attr]
        replayed = session.get(f"{env.server.base_url}/v3/account/summary", timeout=10)
        assert replayed.status_code == 200
        assert [r.status_code for r in replayed.history] == [401]
    assert env.refreshes() == 1


def test_requests_auth_reports_a_401_it_cannot_fix(env: Env) -> None:
    with env.manager() as manager:
        env.login(manager)
        env.revoke_grant()
        env.clock.advance(1.1)
        response = requests.get(
            f"{env.server.base_url}/v3/account/summary", auth=RequestsAuth(manager), timeout=10
        )
        assert response.status_code == 401


@pytest.mark.parametrize(
    ("client", "auth", "instead"),
    [
        ("httpx", BearerAuth, "ctct.HttpxAuth(manager)"),
        ("requests", BearerAuth, "ctct.RequestsAuth(manager)"),
        ("httpx2", HttpxAuth, "ctct.BearerAuth(manager)"),
        ("requests", HttpxAuth, "ctct.RequestsAuth(manager)"),
        ("httpx2", RequestsAuth, "ctct.BearerAuth(manager)"),
        ("httpx", RequestsAuth, "ctct.HttpxAuth(manager)"),
    ],
)
def test_the_wrong_auth_for_a_client_says_which_to_use(
    env: Env, client: str, auth: type[BearerAuth | HttpxAuth | RequestsAuth], instead: str
) -> None:
    """Without it: httpx raises 'Invalid "auth" argument', requests an AttributeError."""
    url = f"{env.server.base_url}/v3/account/summary"
    with env.manager() as manager:
        given: Any = auth(manager)
        with pytest.raises(TypeError) as raised:
            _get(client, url, given)
    message = str(raised.value)
    assert f"ctct.{auth.__name__} (for " in message
    assert f"is not the auth for {client} clients: use auth={instead} instead." in message


def _get(client: str, url: str, auth: Any) -> None:
    if client == "requests":
        requests.get(url, auth=auth, timeout=10)
        return
    module = httpx if client == "httpx" else httpx2
    with module.Client(auth=auth) as http:
        http.get(url)
