"""The device flow against the emulator over a real socket: approve, deny, expiry (ours
and the provider's), slow_down, timeout, transient failures, async. Waits advance a
clock shared by the emulator, the store and the flow instead of sleeping."""

from __future__ import annotations

from collections.abc import Callable

import anyio
import pytest

from ctct._cc import DEVICE_CODE_GRANT
from ctct.errors import AuthorizationDenied, FlowTimedOut
from ctct.flows import (
    DeviceCodeIssued,
    LoginCompleted,
    LoginEvent,
    PollingSlowedDown,
    ScopesDiffer,
)
from tests.flows.conftest import FlowEnv, MakeEnv


def approve_when_shown(env: FlowEnv) -> Callable[[LoginEvent], None]:
    def handler(event: LoginEvent) -> None:
        if isinstance(event, DeviceCodeIssued):
            env.control.approve_device(event.user_code)

    return handler


def test_approved_login_is_stored_and_usable(mode_env: FlowEnv) -> None:
    env = mode_env
    with env.login(on_event=approve_when_shown(env), scopes=["account_read"]) as login:
        result = login.device()
    issued = env.events_of(DeviceCodeIssued)[0]
    assert issued.verification_uri == f"{env.base_url}/activate"
    assert (
        issued.verification_uri_complete
        == f"{issued.verification_uri}?user_code={issued.user_code}"
    )
    # offline_access is added even though the caller asked only for account_read.
    assert result.requested_scopes == {"account_read", "offline_access"}
    assert result.granted_scopes == {"account_read", "offline_access"}
    assert not result.scopes_differ and not env.events_of(ScopesDiffer)
    assert result.flow == "device" and not result.reused
    assert result.tokens.refresh_token is not None
    assert result.subject is not None  # from the verified access token
    assert env.events_of(LoginCompleted)[0].result is result
    # The first poll waited one interval (5 s, CC's default) and it was the only one.
    assert env.clock.sleeps[0] == pytest.approx(5.0, abs=0.1)
    assert env.token_requests(DEVICE_CODE_GRANT) == {"success": 1}
    # Stored durably: a fresh manager on the same store serves the token without a refresh.
    manager = env.manager()
    assert manager.token() == result.tokens.access_token.reveal()  # type: ignore[union-attr]
    assert env.token_requests("refresh_token") == {}


def test_polls_until_approved_honouring_the_interval(make_env: MakeEnv) -> None:
    env = make_env(device_poll_interval=3)
    codes: list[str] = []

    def sleep(seconds: float) -> None:
        env.clock.sleep(seconds)
        if len(env.clock.sleeps) == 3:  # approve after two pending polls
            env.control.approve_device(codes[0])

    def remember(event: LoginEvent) -> None:
        if isinstance(event, DeviceCodeIssued):
            codes.append(event.user_code)

    with env.login(on_event=remember, sleep=sleep) as login:
        login.device()
    counts = env.token_requests(DEVICE_CODE_GRANT)
    assert counts == {"authorization_pending": 2, "success": 1}
    assert all(s >= 2.9 for s in env.clock.sleeps), env.clock.sleeps
    assert not env.events_of(PollingSlowedDown)


def test_denied_login_raises_and_stores_nothing(env: FlowEnv) -> None:
    def deny(event: LoginEvent) -> None:
        if isinstance(event, DeviceCodeIssued):
            env.control.deny_device(event.user_code)

    with env.login(on_event=deny) as login, pytest.raises(AuthorizationDenied) as caught:
        login.device()
    assert caught.value.code == "access_denied"
    assert env.stored() is None
    assert not env.events_of(LoginCompleted)


def test_code_expiry_stops_polling_before_a_useless_poll(make_env: MakeEnv) -> None:
    env = make_env(device_code_ttl=12)
    with env.login() as login, pytest.raises(FlowTimedOut) as caught:
        login.device()
    assert caught.value.code == "expired_token"
    assert "expired" in caught.value.message
    # Polls at 5 and 10 s; one at 15 s would be past the 12 s expiry and is not made.
    assert env.token_requests(DEVICE_CODE_GRANT) == {"authorization_pending": 2}
    assert env.stored() is None


def test_provider_expired_token_answer_stops_the_flow(env: FlowEnv) -> None:
    def expire(event: LoginEvent) -> None:
        if isinstance(event, DeviceCodeIssued):
            env.control.advance_clock(3600)  # the emulator's clock only: the code is dead

    with env.login(on_event=expire) as login, pytest.raises(FlowTimedOut) as caught:
        login.device()
    assert caught.value.code == "expired_token"
    assert env.token_requests(DEVICE_CODE_GRANT) == {"expired_token": 1}


def test_slow_down_grows_the_interval_by_five_seconds(make_env: MakeEnv) -> None:
    env = make_env(device_poll_interval=2)
    codes: list[str] = []

    def sleep(seconds: float) -> None:
        # The second wait is cut short once: a poller that polls too fast.
        env.clock.sleep(0.2 if len(env.clock.sleeps) == 1 else seconds)

    def on_event(event: LoginEvent) -> None:
        if isinstance(event, DeviceCodeIssued):
            codes.append(event.user_code)
        if isinstance(event, PollingSlowedDown):
            env.control.approve_device(codes[0])

    with env.login(on_event=on_event, sleep=sleep) as login:
        result = login.device()
    assert result.tokens.access_token is not None
    slowed = env.events_of(PollingSlowedDown)
    assert [(e.interval, e.reason) for e in slowed] == [(7.0, "slow_down")]
    assert env.token_requests(DEVICE_CODE_GRANT) == {
        "authorization_pending": 1,
        "slow_down": 1,
        "success": 1,
    }
    # Even the too-fast poll waited for the shared token-endpoint slot (0.2 s cut short,
    # then the limiter's wait up to 1 s / 0.9), so the endpoint never answered 429 ...
    assert env.token_requests(DEVICE_CODE_GRANT).get("too_many_requests") is None
    assert env.clock.sleeps[1:3] == [pytest.approx(0.2), pytest.approx(1 / 0.9 - 0.2, abs=0.05)]
    # ... and after slow_down the next poll waited the grown 7 s interval.
    assert env.clock.sleeps[3] == pytest.approx(7.0, abs=0.1)


def test_caller_timeout(env: FlowEnv) -> None:
    with env.login() as login, pytest.raises(FlowTimedOut) as caught:
        login.device(timeout=12)
    assert caught.value.code == "timeout"
    assert "within 12 s" in caught.value.message
    assert env.token_requests(DEVICE_CODE_GRANT) == {"authorization_pending": 2}


def test_transient_failures_back_off_and_keep_polling(env: FlowEnv) -> None:
    env.control.inject_fault("token", "503", count=2)
    with env.login(on_event=approve_when_shown(env)) as login:
        login.device()
    slowed = [(e.interval, e.reason) for e in env.events_of(PollingSlowedDown)]
    assert slowed == [(10.0, "transient"), (20.0, "transient")]
    assert env.token_requests(DEVICE_CODE_GRANT).get("success") == 1


def test_public_client_device_login(make_env: MakeEnv) -> None:
    env = make_env(public=True, device_poll_interval=1)
    with env.login(on_event=approve_when_shown(env)) as login:
        result = login.device()
    assert result.tokens.refresh_token is not None


@pytest.mark.anyio
async def test_async_device_login(env: FlowEnv) -> None:
    def approve(event: LoginEvent) -> None:
        if isinstance(event, DeviceCodeIssued):
            env.control.approve_device(event.user_code)

    async with env.login(on_event=approve) as login:
        result = await login.adevice()
    assert result.flow == "device"
    stored = await anyio.to_thread.run_sync(env.stored)
    assert stored is not None


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
