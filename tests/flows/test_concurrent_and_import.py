"""Two logins of one profile at once (the second waits, then reuses the first's grant),
the wait's timeout, and importing tokens the person already has."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from ctct._cc import DEVICE_CODE_GRANT
from ctct.errors import AuthorizationRequired, FlowError
from ctct.flows import (
    DeviceCodeIssued,
    LoginCompleted,
    LoginEvent,
    LoginResult,
    OtherLoginFinished,
    WaitingForOtherLogin,
    login_lock_key,
)
from ctct.stores import open_store
from tests.flows.conftest import FlowEnv, MakeEnv


def test_second_login_waits_for_the_first_and_reuses_its_grant(make_env: MakeEnv) -> None:
    env = make_env(device_poll_interval=1)
    second_waiting = threading.Event()
    results: dict[str, Any] = {}

    def first_events(event: LoginEvent) -> None:
        if isinstance(event, DeviceCodeIssued):
            # The person approves only once the second login is queued behind this one.
            assert second_waiting.wait(10)
            env.control.approve_device(event.user_code)

    second_events: list[LoginEvent] = []

    def on_second(event: LoginEvent) -> None:
        second_events.append(event)
        if isinstance(event, WaitingForOtherLogin):
            second_waiting.set()

    def run(name: str, on_event: Any) -> None:
        try:
            with env.login(on_event=on_event) as login:
                results[name] = login.device()
        except Exception as exc:
            results[name] = exc

    first = threading.Thread(target=run, args=("first", first_events))
    first.start()
    while not env.events_of(DeviceCodeIssued):  # the first holds the lock now
        threading.Event().wait(0.01)
    second = threading.Thread(target=run, args=("second", on_second))
    second.start()
    first.join(20)
    second.join(20)
    one, two = results["first"], results["second"]
    assert isinstance(one, LoginResult) and isinstance(two, LoginResult), results
    assert not one.reused and two.reused
    assert two.tokens.refresh_token == one.tokens.refresh_token
    waiting = next(e for e in second_events if isinstance(e, WaitingForOtherLogin))
    assert "Another login for profile 'default' is in progress" in waiting.message
    finished = next(e for e in second_events if isinstance(e, OtherLoginFinished))
    assert finished.tokens is not None
    assert any(isinstance(e, LoginCompleted) and e.result.reused for e in second_events)
    # One device authorization, one grant: the second never asked the person again.
    assert len(env.events_of(DeviceCodeIssued)) == 1
    assert env.token_requests(DEVICE_CODE_GRANT)["success"] == 1


def test_waiting_times_out_with_a_clear_message(env: FlowEnv) -> None:
    manager = env.manager()
    with (
        open_store(env.store_url) as store,
        store.lock(login_lock_key(manager.key), 5),
        env.login(wait_for_other_login=0.3) as login,
        pytest.raises(FlowError) as caught,
    ):
        login.device()
    assert caught.value.code == "login_in_progress"
    assert "Another login for profile 'default' is in progress" in caught.value.message
    assert not env.events_of(DeviceCodeIssued)


def test_after_a_failed_other_login_this_one_goes_ahead(make_env: MakeEnv) -> None:
    env = make_env(device_poll_interval=1)
    manager = env.manager()
    store = open_store(env.store_url)
    held = store.lock(login_lock_key(manager.key), 5)
    held.acquire()
    release = threading.Timer(0.3, held.release)  # the other login ends, storing nothing
    release.start()

    def approve(event: LoginEvent) -> None:
        if isinstance(event, DeviceCodeIssued):
            env.control.approve_device(event.user_code)

    try:
        with env.login(on_event=approve) as login:
            result = login.device()
    finally:
        release.join()
        store.close()
    assert not result.reused
    assert [e.tokens for e in env.events_of(OtherLoginFinished)] == [None]


def test_other_profiles_do_not_wait(make_env: MakeEnv) -> None:
    env = make_env(device_poll_interval=1)
    other = env.manager("other")
    with open_store(env.store_url) as store, store.lock(login_lock_key(other.key), 5):

        def approve(event: LoginEvent) -> None:
            if isinstance(event, DeviceCodeIssued):
                env.control.approve_device(event.user_code)

        with env.login("default", on_event=approve, wait_for_other_login=0.1) as login:
            assert login.device().profile == "default"
    assert not env.events_of(WaitingForOtherLogin)


# -- import ----------------------------------------------------------------------------


def device_login(env: FlowEnv, profile: str = "donor") -> LoginResult:
    def approve(event: LoginEvent) -> None:
        if isinstance(event, DeviceCodeIssued):
            env.control.approve_device(event.user_code)

    with env.login(profile, on_event=approve) as login:
        return login.device()


def test_import_verifies_with_one_refresh(make_env: MakeEnv) -> None:
    env = make_env(device_poll_interval=1)
    donor = device_login(env)
    assert donor.tokens.refresh_token is not None
    with env.login("imported") as login:
        result = login.import_tokens(donor.tokens.refresh_token.reveal())
    assert result.flow == "import"
    assert env.token_requests("refresh_token") == {"success": 1}
    # Rotating refresh tokens: the imported one was spent, the stored one is new.
    assert result.tokens.refresh_token is not None
    assert result.tokens.refresh_token != donor.tokens.refresh_token
    assert result.granted_scopes == donor.granted_scopes
    assert env.manager("imported").token() == result.tokens.access_token.reveal()  # type: ignore[union-attr]


def test_import_with_access_token_too(make_env: MakeEnv) -> None:
    env = make_env(device_poll_interval=1)
    donor = device_login(env)
    assert donor.tokens.refresh_token is not None and donor.tokens.access_token is not None
    with env.login("imported") as login:
        result = login.import_tokens(
            donor.tokens.refresh_token, access_token=donor.tokens.access_token
        )
    assert result.tokens.last_refresh_at is not None


def test_rejected_import_keeps_the_previous_grant(make_env: MakeEnv) -> None:
    env = make_env(device_poll_interval=1)
    before = device_login(env, "default")
    record = env.stored("default")
    with env.login("default") as login, pytest.raises(AuthorizationRequired) as caught:
        login.import_tokens("not-a-real-refresh-token-0123456789")
    assert caught.value.code == "invalid_grant"
    assert "not-a-real" not in caught.value.message
    after = env.manager("default").tokens()
    assert after is not None and after.refresh_token == before.tokens.refresh_token
    assert env.stored("default").data == record.data


def test_rejected_import_without_previous_grant_stores_nothing(env: FlowEnv) -> None:
    with env.login("fresh") as login, pytest.raises(AuthorizationRequired):
        login.import_tokens("not-a-real-refresh-token-0123456789")
    assert env.stored("fresh") is None


def test_empty_import_is_refused(env: FlowEnv) -> None:
    with env.login() as login, pytest.raises(FlowError) as caught:
        login.import_tokens("  ")
    assert caught.value.code == "empty_token"
