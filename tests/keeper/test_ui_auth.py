"""The status page's guards, without a server: operator check, sessions, CSRF, Host."""

from __future__ import annotations

import pytest

from ctct.errors import ConfigError
from ctct.keeper.chart import bins, plan_svg
from ctct.keeper.ui_auth import HostAllowList, OperatorCheck, Sessions, hash_password

SECRET = b"s" * 32


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_password_hash_round_trip_and_wrong_password() -> None:
    stored = hash_password("correct horse battery", salt=b"0123456789abcdef")
    assert stored.startswith("scrypt$") and "correct" not in stored
    check = OperatorCheck(stored)
    assert check.matches("correct horse battery")
    assert not check.matches("correct horse batterY")
    assert not check.matches("")


def test_token_check_and_refusals() -> None:
    check = OperatorCheck("a-long-operator-token-123")
    assert check.matches("a-long-operator-token-123")
    assert not check.matches("a-long-operator-token-12")
    for bad in ("", "short", "scrypt$x"):
        with pytest.raises(ConfigError):
            OperatorCheck(bad)
    with pytest.raises(ConfigError):
        hash_password("short")


def test_session_cookie_is_signed_and_expires() -> None:
    clock = Clock()
    sessions = Sessions(SECRET, clock, ttl=60)
    session = sessions.new(operator=True)
    cookie = sessions.cookie(session)
    assert sessions.read(cookie) == session
    # Another replica with the same secret file reads it; another secret does not.
    assert Sessions(SECRET, clock).read(cookie) == session
    assert Sessions(b"t" * 32, clock).read(cookie) is None
    body, _, mac = cookie.partition(".")
    assert sessions.read(body + "." + mac[:-1] + ("A" if mac[-1] != "A" else "B")) is None
    assert sessions.read("garbage") is None and sessions.read("") is None
    assert sessions.read("\u00e9.x") is None
    assert sessions.read(body + ".\u00e9" + mac[1:]) is None  # non-ASCII MAC: no 500
    clock.now += 61
    assert sessions.read(cookie) is None
    with pytest.raises(ConfigError):
        Sessions(b"short", clock)


def test_csrf_token_is_bound_to_the_session() -> None:
    clock = Clock()
    sessions = Sessions(SECRET, clock)
    one, two = sessions.new(operator=True), sessions.new(operator=True)
    token = sessions.csrf_token(one)
    assert sessions.csrf_ok(one, token)
    assert not sessions.csrf_ok(two, token)
    assert not sessions.csrf_ok(None, token)
    assert not sessions.csrf_ok(one, "\u00e9" + token[1:])  # non-ASCII form field: no 500
    assert not sessions.csrf_ok(one, None) and not sessions.csrf_ok(one, "")


def test_host_allow_list_ignores_ports_and_refuses_others() -> None:
    hosts = HostAllowList(["127.0.0.1", "keeper.internal", "[::1]"])
    assert hosts.allows("127.0.0.1:8080") and hosts.allows("KEEPER.internal")
    assert hosts.allows("[::1]:9000")
    assert not hosts.allows("evil.example") and not hosts.allows(None)
    assert not hosts.allows("127.0.0.1.evil.example:80")


def test_plan_chart_marks_bins_over_capacity() -> None:
    counts = bins([0, 1, 2, 5, 5, 5, 5, 9, 100], start=0, span=10, count=5)
    assert counts == [2, 1, 4, 0, 1]  # bins of 2 s; 100 is past the span
    assert bins([-50.0], start=0, span=10, count=5) == [1, 0, 0, 0, 0]
    svg = plan_svg(counts, capacity_per_bin=3, title="plan <x>", span_hours=24)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("<rect") == 5 and svg.count("#c0392b") == 1
    assert "<x>" not in svg and "&lt;x&gt;" in svg
