"""The refresh engine against the emulator over loopback: just-in-time refresh, single
flight, rotation, invalid_grant, invalid_client, transient failures, 401 replay."""

from __future__ import annotations

import threading

import httpx2
import pytest

from ctct._auth import BearerAuth
from ctct._tokens import TokenState
from ctct.errors import AuthorizationRequired, ClientRejected, TransientProviderError
from tests.refresh.conftest import FAST, Env, MakeEnv

DAY = 86_400


def test_fresh_token_is_served_without_refreshing(env: Env) -> None:
    with env.manager() as manager:
        tokens = env.login(manager)
        assert manager.token() == tokens.access_token.reveal()  # type: ignore[union-attr]
        assert manager.authorization() == f"Bearer {manager.token()}"
    assert env.refreshes() == 0


def test_due_token_is_refreshed_once_and_saved_before_use(mode_env: Env) -> None:
    env = mode_env
    with env.manager() as manager:
        first = env.login(manager)
        env.clock.advance(DAY - 60)  # inside the 5-minute margin
        token = manager.token()
        assert token != first.access_token.reveal()  # type: ignore[union-attr]
        # The store already holds the new pair: a fresh manager (another process) sees it.
        with env.manager() as other:
            stored = other.tokens()
            assert stored is not None
            assert stored.access_token.reveal() == token  # type: ignore[union-attr]
            assert stored.refresh_token != first.refresh_token
            assert stored.refresh_token_type == "rotating"
            assert other.token() == token
        assert manager.token() == token
    assert env.refreshes() == 1


def test_threads_share_one_refresh(mode_env: Env) -> None:
    env = mode_env
    with env.manager() as manager:
        env.login(manager)
        env.clock.advance(DAY + 1)  # expired
        managers = [env.manager() for _ in range(4)]  # separate objects, same grant
        results: list[str] = []
        errors: list[BaseException] = []
        barrier = threading.Barrier(16)

        def worker(index: int) -> None:
            try:
                barrier.wait()
                results.append(managers[index % 4].token())
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for m in managers:
            m.close()
    assert errors == []
    assert len(set(results)) == 1
    assert env.refreshes() == 1


def test_refresh_token_alone_is_enough(env: Env) -> None:
    from ctct._tokens import TokenSet

    with env.manager() as manager:
        tokens = env.login(manager)
        imported = TokenSet.imported(
            issuer=env.provider.storage_issuer,
            client_id=env.client.client_id,
            now=env.clock(),
            refresh_token=tokens.refresh_token,
        )
        assert imported.state(env.clock()) is TokenState.EXPIRED
        manager.save(imported)
        env.clock.advance(1.1)
        token = manager.token()
        assert token and token != tokens.access_token.reveal()  # type: ignore[union-attr]
    assert env.refreshes() == 1


def test_invalid_grant_rereads_the_store_before_giving_up(env: Env) -> None:
    with env.manager() as manager:
        env.login(manager)
        env.clock.advance(DAY + 1)
        # Another worker refreshed with its own (stale) copy of the grant first: our copy's
        # refresh token is spent, but the store has the new one.
        with env.manager() as other:
            other_token = other.token()
        assert manager.token() == other_token
    assert env.refreshes() == 1


def test_revoked_grant_requires_login_and_only_then_drops_the_refresh_token(env: Env) -> None:
    with env.manager() as manager:
        env.login(manager)
        grant_id = env.http.get(f"{env.server.base_url}/__emulator/grants").json()["grants"][0][
            "grant_id"
        ]
        env.http.post(f"{env.server.base_url}/__emulator/grants/{grant_id}/revoke", json={})
        env.clock.advance(DAY + 1)
        with pytest.raises(AuthorizationRequired) as caught:
            manager.token()
        assert "ctct auth login" in caught.value.message
        stored = manager.tokens()
        assert stored is not None and stored.refresh_token is None


def test_invalid_client_keeps_the_refresh_token(make_env: MakeEnv) -> None:
    # safety: src/ctct/_refresh.py: raise refused
    env = make_env()
    with env.manager() as manager:
        before = env.login(manager)
    from ctct._oauth_requests import ClientCredentials
    from ctct._secret import Secret

    env.client = ClientCredentials(env.client.client_id, Secret("regenerated-elsewhere"))
    env.clock.advance(DAY + 1)
    with env.manager() as manager:
        with pytest.raises(ClientRejected):
            manager.token()
        stored = manager.tokens()
        assert stored is not None and stored.refresh_token == before.refresh_token


@pytest.mark.parametrize("kind", ["503", "500", "garbled", "timeout", "drop"])
def test_transient_failures_keep_serving_the_valid_token(env: Env, kind: str) -> None:
    # safety: src/ctct/_refresh.py: return Outcome(current, refreshed=False, transient_error=error)
    with env.manager(policy=FAST, timeout=1.0) as manager:
        first = env.login(manager)
        env.clock.advance(DAY - 60)  # due but still valid
        env.emu.faults.inject("token", kind, count=3, delay=3.0)  # type: ignore[arg-type]
        served = [manager.token() for _ in range(3)]
        assert set(served) == {first.access_token.reveal()}  # type: ignore[union-attr]
        # Keep asking while the endpoint recovers; backoff spaces the attempts.
        for _ in range(200):
            env.clock.advance(1.1)
            if manager.token() != first.access_token.reveal():  # type: ignore[union-attr]
                break
        assert manager.token() != first.access_token.reveal()  # type: ignore[union-attr]
    assert env.refreshes() == 1


def test_transient_failure_with_an_expired_token_raises(env: Env) -> None:
    with env.manager(policy=FAST) as manager:
        env.login(manager)
        env.clock.advance(DAY + 1)
        env.emu.faults.inject("token", "503", count=1)
        with pytest.raises(TransientProviderError):
            manager.token()
        stored = manager.tokens()
        assert stored is not None and stored.refresh_token is not None


def test_api_401_refreshes_once_and_replays(mode_env: Env) -> None:
    env = mode_env
    with env.manager() as manager:
        first = env.login(manager)
        # Revoke just the access token (RFC 7009): the API now refuses it before expiry.
        from ctct._oauth_requests import revoke_request

        env.http.send(revoke_request(env.provider, env.client, first.access_token))  # type: ignore[arg-type]
        env.clock.advance(1.1)
        with httpx2.Client(base_url=env.api_origin, auth=BearerAuth(manager)) as api:
            response = api.get("/v3/account/summary")
        assert response.status_code == 200
        assert manager.token() != first.access_token.reveal()  # type: ignore[union-attr]
    assert env.refreshes() == 1


def test_api_401_with_a_dead_grant_is_reported_not_looped(env: Env) -> None:
    with env.manager() as manager:
        env.login(manager)
        grant_id = env.http.get(f"{env.server.base_url}/__emulator/grants").json()["grants"][0][
            "grant_id"
        ]
        env.http.post(f"{env.server.base_url}/__emulator/grants/{grant_id}/revoke", json={})
        env.clock.advance(1.1)
        with httpx2.Client(base_url=env.server.base_url, auth=BearerAuth(manager)) as api:
            response = api.get("/v3/account/summary")
        assert response.status_code == 401
    counts = env.emu.counters.snapshot()["token_requests"]["refresh_token"]
    assert counts == {"invalid_grant": 1}


def test_no_grant_says_to_log_in(env: Env) -> None:
    with env.manager() as manager, pytest.raises(AuthorizationRequired) as caught:
        manager.token()
    assert "ctct auth login" in caught.value.message


def test_long_lived_refresh_tokens_keep_their_value(make_env: MakeEnv) -> None:
    from dataclasses import replace

    from ctct.emulator import EmulatorConfig

    app = replace(EmulatorConfig().default_app, refresh_token_type="long-lived")
    env = make_env(apps=(app,))
    with env.manager() as manager:
        first = env.login(manager)
        env.clock.advance(DAY + 1)
        manager.token()
        stored = manager.tokens()
        assert stored is not None
        assert stored.refresh_token == first.refresh_token
        assert stored.refresh_token_type == "long-lived"


def test_whole_grant_revocation_on_reuse_is_survived_by_the_lock(make_env: MakeEnv) -> None:
    """Okta-style reuse detection: a second refresh with the same token would kill the
    grant. Two managers reaching expiry together must not both refresh."""
    env = make_env(refresh_token_reuse="grant")
    with env.manager() as a, env.manager("default") as b:
        env.login(a)
        env.clock.advance(DAY + 1)
        barrier = threading.Barrier(2)
        got: list[str] = []

        def run(m: object) -> None:
            barrier.wait()
            got.append(m.token())  # type: ignore[attr-defined]

        threads = [threading.Thread(target=run, args=(m,)) for m in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(got) == 2 and got[0] == got[1]
        env.clock.advance(DAY + 1)
        assert a.token() != got[0]
    assert env.refreshes() == 2


def test_an_unreliable_token_endpoint_never_fails_an_api_call(env: Env) -> None:
    """503s, timeouts and garbled bodies for a while: every API call made while the old
    access token is valid succeeds, and the refresh goes through once the endpoint
    recovers."""
    with env.manager(policy=FAST, timeout=0.5) as manager:
        first = env.login(manager)
        env.clock.advance(DAY - 120)  # refresh due, token valid for two more minutes
        for kind in ("503", "timeout", "garbled", "503", "drop", "500"):
            env.emu.faults.inject("token", kind, delay=1.0)
        env.emu.api_limiter.rate = 1000.0
        statuses = []
        with httpx2.Client(base_url=env.server.base_url, auth=BearerAuth(manager)) as api:
            for _ in range(40):
                statuses.append(api.get("/v3/account/summary").status_code)
                env.clock.advance(1.1)
        assert set(statuses) == {200}
        assert env.emu.faults.pending()["token"] == 0  # every fault was met
        assert manager.token() != first.access_token.reveal()  # type: ignore[union-attr]
    assert env.refreshes() == 1


def test_an_explicit_refresh_reports_a_transient_failure(env: Env) -> None:
    with env.manager(policy=FAST) as manager:
        first = env.login(manager)
        env.clock.advance(1.1)
        env.emu.faults.inject("token", "503", count=1)
        with pytest.raises(TransientProviderError):
            manager.refresh(force=True)
        # The old token stays in use and the refresh token is kept.
        assert manager.token() == first.access_token.reveal()  # type: ignore[union-attr]
        stored = manager.tokens()
        assert stored is not None
        assert stored.refresh_token == first.refresh_token
