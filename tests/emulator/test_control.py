"""The control API under /__emulator/: counters, events, faults, clock, keys, reset, config."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from email.utils import parsedate_to_datetime

import httpx2
import pytest

from ctct import _cc
from ctct.emulator.config import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from ctct.testing import inprocess_emulator
from ctct.testing import start_emulator as start_testing_emulator
from tests.conftest import Running, StartEmulator

TOKEN = _cc.TOKEN_PATH
API = _cc.API_BASE_PATH + "/account/summary"


def test_counters_and_events_are_served(running: Running) -> None:
    empty = running.client.get("/__emulator/counters")
    assert empty.status_code == 200
    assert empty.json() == {"token_requests": {}, "api_requests": {}}

    running.emulator.counters.token_request("refresh_token", "ok")
    running.emulator.counters.event("refresh", grant_id="g1")
    running.emulator.counters.event("login", grant_id="g2")

    counters = running.client.get("/__emulator/counters").json()
    assert counters["token_requests"] == {"refresh_token": {"ok": 1}}
    assert running.client.get("/__emulator/events").json()["events"] == [
        {"kind": "refresh", "grant_id": "g1"},
        {"kind": "login", "grant_id": "g2"},
    ]
    only = running.client.get("/__emulator/events", params={"kind": "refresh"}).json()
    assert only["events"] == [{"kind": "refresh", "grant_id": "g1"}]


def test_injected_api_faults_answer_the_next_calls_then_stop(running: Running) -> None:
    injected = running.client.post(
        "/__emulator/faults", json={"target": "api", "kind": "503", "count": 2}
    )
    assert injected.status_code == 200
    assert injected.json() == {"pending": {"token": 0, "api": 2}}
    assert running.client.get("/__emulator/faults").json() == {"pending": {"token": 0, "api": 2}}

    for _ in range(2):
        faulted = running.client.get(API)
        assert faulted.status_code == 503
        assert faulted.json()[0]["error_key"] == "server_error"
    assert running.client.get(API).status_code != 503
    assert running.client.get("/__emulator/faults").json()["pending"]["api"] == 0


def test_token_fault_uses_the_oauth_error_shape(running: Running) -> None:
    running.client.post("/__emulator/faults", json={"target": "token", "kind": "500"})
    response = running.client.post(TOKEN, data={"grant_type": "refresh_token"})
    assert response.status_code == 500
    assert response.json()["error"] == "server_error"


def test_garbled_and_timeout_faults(running: Running) -> None:
    running.client.post("/__emulator/faults", json={"target": "token", "kind": "garbled"})
    garbled = running.client.post(TOKEN)
    assert garbled.status_code == 200
    with pytest.raises(ValueError, match=r"."):
        garbled.json()

    running.client.post(
        "/__emulator/faults", json={"target": "api", "kind": "timeout", "delay": 0.01}
    )
    assert running.client.get(API).status_code == 504


def test_faults_can_be_cleared(running: Running) -> None:
    running.client.post("/__emulator/faults", json={"target": "api", "kind": "500", "count": 3})
    cleared = running.client.delete("/__emulator/faults", headers={"X-Requested-With": "test"})
    assert cleared.json() == {"pending": {"token": 0, "api": 0}}
    assert running.client.get(API).status_code != 500


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        ({"target": "web", "kind": "500"}, "'target' must be one of token, api"),
        ({"target": "api", "kind": "404"}, "'kind' must be one of 500, 503, timeout"),
        ({"target": "api", "kind": "500", "count": 0}, "'count' must be a whole number"),
        ({"target": "api", "kind": "500", "count": "2"}, "'count' must be a whole number"),
        ({"target": "api", "kind": "500", "delay": 1}, "'delay' only applies"),
        ({"target": "api", "kind": "timeout", "delay": -1}, "'delay' must be between"),
        ({"target": "api", "kind": "500", "kinds": 1}, "unknown field 'kinds'"),
    ],
)
def test_fault_input_is_validated(running: Running, body: dict[str, object], mentions: str) -> None:
    response = running.client.post("/__emulator/faults", json=body)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert mentions in response.json()["error_description"]
    assert running.client.get("/__emulator/faults").json()["pending"] == {"token": 0, "api": 0}


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b'"text"'])
def test_a_body_that_is_not_a_json_object_is_refused(running: Running, raw: bytes) -> None:
    response = running.client.post(
        "/__emulator/clock/advance", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert "JSON object" in response.json()["error_description"]


def test_clock_advances_and_moves_the_date_header(running: Running) -> None:
    before = running.client.get("/__emulator/clock").json()
    assert before["offset"] == 0
    advanced = running.client.post("/__emulator/clock/advance", json={"seconds": 3600})
    assert advanced.status_code == 200
    assert advanced.json()["offset"] == 3600
    assert advanced.json()["now"] >= before["now"] + 3600
    assert running.emulator.clock.offset == 3600
    date = parsedate_to_datetime(advanced.headers["date"]).timestamp()
    assert date >= before["now"] + 3600 - 1

    again = running.client.post("/__emulator/clock/advance", json={"seconds": 0.5}).json()
    assert again["offset"] == 3600.5
    assert running.client.get("/__emulator/clock").json()["offset"] == 3600.5


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        ({}, 'send {"seconds": N}'),
        ({"seconds": -5}, "between 0"),
        ({"seconds": "60"}, "must be a number"),
        ({"seconds": True}, "must be a number"),
    ],
)
def test_clock_refuses_bad_input(running: Running, body: dict[str, object], mentions: str) -> None:
    response = running.client.post("/__emulator/clock/advance", json=body)
    assert response.status_code == 400
    assert mentions in response.json()["error_description"]
    assert running.emulator.clock.offset == 0


def test_keys_rotate_keeps_old_keys_published_unless_retired(running: Running) -> None:
    first = running.emulator.keys.active_kid
    rotated = running.client.post("/__emulator/keys/rotate", json={}).json()
    assert rotated["kid"] != first
    assert running.emulator.keys.active_kid == rotated["kid"]
    assert set(rotated["published"]) == {first, rotated["kid"]}

    retired = running.client.post("/__emulator/keys/rotate", json={"retire_old": True}).json()
    assert retired["published"] == [retired["kid"]]
    assert [k["kid"] for k in running.emulator.keys.jwks()["keys"]] == [retired["kid"]]

    bad = running.client.post("/__emulator/keys/rotate", json={"retire_old": "yes"})
    assert bad.status_code == 400


def test_reset_forgets_counters_and_faults(running: Running) -> None:
    running.emulator.counters.token_request("authorization_code", "ok")
    running.client.post("/__emulator/faults", json={"target": "token", "kind": "503"})
    assert running.client.post("/__emulator/reset", json={}).json() == {"reset": True}
    assert running.client.get("/__emulator/counters").json()["token_requests"] == {}
    assert running.client.get("/__emulator/faults").json()["pending"] == {"token": 0, "api": 0}


def test_config_shows_test_credentials_lifetimes_switches_and_limits(
    start_emulator: StartEmulator,
) -> None:
    running = start_emulator(access_token_ttl=120, refresh_token_reuse="grant", api_daily_quota=7)
    config = running.client.get("/__emulator/config").json()
    app = config["apps"][0]
    assert app["client_id"] == DEFAULT_CLIENT_ID == config["default_client_id"]
    assert app["client_secret"] == DEFAULT_CLIENT_SECRET
    assert app["confidential"] is True
    assert "http://127.0.0.1/callback" in app["redirect_uris"]
    assert app["refresh_token_type"] == "rotating"
    alice = next(u for u in config["users"] if u["username"] == "alice@example.com")
    assert alice["password"] == "alice-password"
    assert alice["role"] == "account_owner"
    assert config["lifetimes"]["access_token_ttl"] == 120
    assert config["switches"]["refresh_token_reuse"] == "grant"
    assert config["switches"]["auto_approve"] is False
    assert config["limits"]["api_daily_quota"] == 7
    assert config["limits"]["token_rate_per_second"] == 1.0
    assert config["paths"]["jwks"] == _cc.JWKS_PATH
    assert config["persistent"] is False


def test_wrong_method_is_refused(running: Running) -> None:
    assert running.client.get("/__emulator/reset").status_code == 405
    assert running.client.put("/__emulator/faults", json={}).status_code == 405


# -- the "drop" fault ------------------------------------------------------------------


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def uvicorn_errors() -> Iterator[list[logging.LogRecord]]:
    handler = _Records()
    logger = logging.getLogger("uvicorn.error")
    logger.addHandler(handler)
    yield handler.records
    logger.removeHandler(handler)


def test_drop_closes_the_socket_without_answering_or_logging(
    uvicorn_errors: list[logging.LogRecord],
) -> None:
    with start_testing_emulator() as emu, httpx2.Client(base_url=emu.base_url) as client:
        emu.inject_fault("token", "drop")
        emu.inject_fault("api", "drop")
        emu.inject_fault("api", "500")
        with pytest.raises(httpx2.RemoteProtocolError, match="without sending a response"):
            client.post(TOKEN, data={"grant_type": "refresh_token"})
        with pytest.raises(httpx2.RemoteProtocolError, match="without sending a response"):
            client.get(API)
        # An ordinary 500 still gets through, and the server keeps serving.
        assert client.get(API).status_code == 500
        assert client.get("/__emulator/faults").json()["pending"] == {"token": 0, "api": 0}
    assert [r for r in uvicorn_errors if r.levelno >= logging.WARNING] == []


def test_drop_in_process_looks_like_a_dropped_connection() -> None:
    with inprocess_emulator() as emu, emu.http_client() as client:
        emu.inject_fault("api", "drop")
        with pytest.raises(httpx2.RemoteProtocolError):
            client.get(API)
        assert client.get("/__emulator/faults").json()["pending"]["api"] == 0


def test_grants_are_minted_at_once_and_rates_change_at_run_time() -> None:
    # Fleet tests: a thousand logins without the token endpoint's 1/s, then the limit
    # raised (and lowered) while the emulator runs.
    with inprocess_emulator() as emu:
        minted = emu.mint_grants(50)
        assert len(minted) == 50 and len({m["refresh_token"] for m in minted}) == 50
        assert all(m["token_type"] == "Bearer" and m["expires_in"] > 0 for m in minted)
        assert len(emu.grants()["grants"]) == 50
        assert emu.counters()["token_requests"] == {}  # the token endpoint was not used
        with emu.http_client() as http:

            def refresh(i: int) -> int:
                answer = http.post(
                    emu.token_url,
                    auth=(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET),
                    data={
                        "grant_type": "refresh_token",
                        "refresh_token": minted[i]["refresh_token"],
                    },
                )
                return answer.status_code

            assert [refresh(0), refresh(1)] == [200, 429]  # 1 per second
            limits = emu.set_rates(token_rate_per_second=100, api_daily_quota=5)
            assert limits["token_rate_per_second"] == 100 and limits["api_daily_quota"] == 5
            emu.advance_clock(1)
            assert [refresh(i) for i in range(2, 12)] == [200] * 10
        with pytest.raises(Exception, match="between"):
            emu.set_rates(token_rate_per_second=0)
