"""Retries: 5xx and connection drops for idempotent requests, never a blind POST,
throttled 429s for everything, Retry-After honoured, quota never retried."""

from __future__ import annotations

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ctct.api import Client, RateLimits, RetryPolicy, ServerError, Throttled, set_testing
from ctct.api.retry import may_retry_exception, may_retry_status, retry_after_seconds
from ctct.emulator.inprocess import SyncASGITransport
from ctct.errors import NetworkError
from tests.api.conftest import FAST_CLIENT, ApiEnv, MakeApiEnv


def test_policy_is_data() -> None:
    policy = RetryPolicy(wait_initial=1.0, wait_max=5.0, jitter=0.0)
    set_testing(False)
    try:
        assert [policy.backoff(n) for n in (1, 2, 3, 4, 5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
        jittered = RetryPolicy(wait_initial=1.0, jitter=1.0)
        assert jittered.backoff(2, rand=0.25) == 0.5
        assert policy.wait_for(1, retry_after=3.0) == 3.0
        assert policy.wait_for(1, retry_after=1_000.0) is None  # too long: give up
    finally:
        set_testing(True)
    assert policy.backoff(3) == 0.0 and policy.wait_for(1, 3.0) == 0.0


def test_retry_after_forms() -> None:
    assert retry_after_seconds("7", now=0) == 7.0
    assert retry_after_seconds("Thu, 01 Jan 1970 00:00:10 GMT", now=4.0) == 6.0
    assert retry_after_seconds("soon", now=0) is None
    assert retry_after_seconds(None, now=0) is None


def test_what_is_retried() -> None:
    assert may_retry_status("POST", 429, "throttled")
    assert not may_retry_status("GET", 429, "quota_exceeded")
    assert may_retry_status("GET", 503, None) and may_retry_status("PUT", 500, None)
    assert not may_retry_status("POST", 503, None) and not may_retry_status("PATCH", 500, None)
    assert not may_retry_status("GET", 404, None)
    request = httpx2.Request("POST", "https://api.cc.email/v3/contacts")
    assert may_retry_exception("POST", httpx2.ConnectError("refused", request=request))
    assert not may_retry_exception("POST", httpx2.ReadTimeout("slow", request=request))
    assert may_retry_exception("GET", httpx2.RemoteProtocolError("dropped", request=request))


def test_idempotent_requests_are_retried_after_5xx_and_drops(api_env: ApiEnv) -> None:
    client = api_env.client()
    api_env.handle.inject_fault("api", "503", count=2)
    assert client.account.summary()["encoded_account_id"]
    api_env.handle.inject_fault("api", "drop")
    api_env.handle.inject_fault("api", "500")
    assert list(client.contacts.iter()) == []
    assert api_env.handle.pending_faults()["api"] == 0


def test_a_post_is_not_retried_after_a_5xx_or_a_drop(api_env: ApiEnv) -> None:
    client = api_env.client()
    api_env.handle.inject_fault("api", "500", count=2)
    with pytest.raises(ServerError):
        client.contacts.create({"email_address": {"address": "once@example.com"}})
    assert api_env.handle.pending_faults()["api"] == 1  # one try only
    api_env.handle.clear_faults()
    api_env.handle.inject_fault("api", "drop", count=2)
    with pytest.raises(NetworkError) as caught:
        client.contacts.create({"email_address": {"address": "once@example.com"}})
    assert "not retried" in caught.value.message
    assert api_env.handle.pending_faults()["api"] == 1
    api_env.handle.clear_faults()
    assert list(client.contacts.iter()) == []  # neither attempt created anything


def test_a_post_is_retried_when_it_certainly_was_not_sent(api_env: ApiEnv) -> None:
    # Nothing listens on this port: the connection is refused before anything is sent.
    client = Client(
        api_env.manager(),
        api_base_url="http://127.0.0.1:9/v3",
        limits=FAST_CLIENT,
        retry=RetryPolicy(attempts=3),
    )
    with client, pytest.raises(NetworkError) as caught:
        client.contacts.create({"email_address": {"address": "x@example.com"}})
    assert "after 3 tries" in caught.value.message


def test_throttled_posts_are_retried(make_api_env: MakeApiEnv) -> None:
    # The emulator allows 2/s with no burst; the client does not pace itself.
    env = make_api_env(api_rate_per_second=2.0, api_burst=1.0)
    set_testing(False)
    try:
        client = env.client(retry=RetryPolicy(attempts=20, wait_initial=0.1, wait_max=0.5))
        for n in range(4):
            client.contacts.create({"email_address": {"address": f"t{n}@example.com"}})
    finally:
        set_testing(True)
    counts = env.api_counts()["POST /v3/contacts"]
    assert counts["201"] == 4 and counts.get("429", 0) >= 1


class Slow:
    """A server that throttles the first request with a Retry-After (CC documents none;
    other gateways send it)."""

    def __init__(self) -> None:
        self.calls = 0

        async def handler(request: Request) -> Response:
            self.calls += 1
            if self.calls == 1:
                return JSONResponse(
                    {"error_key": "throttled", "error_message": "Too Many Requests"},
                    status_code=429,
                    headers={"Retry-After": "3"},
                )
            return JSONResponse({"encoded_account_id": "x"})

        self.app = Starlette(routes=[Route("/v3/account/summary", handler)])


def test_retry_after_is_honoured(api_env: ApiEnv) -> None:
    slow = Slow()
    slept: list[float] = []
    set_testing(False)
    try:
        with Client(
            api_env.manager(),
            transport=SyncASGITransport(slow.app),
            api_base_url="http://127.0.0.1:9/v3",
            limits=FAST_CLIENT,
            sleep=slept.append,
        ) as client:
            assert client.account.summary() == {"encoded_account_id": "x"}
    finally:
        set_testing(True)
    assert slept == [3.0] and slow.calls == 2


def test_throttled_is_raised_when_retries_run_out(api_env: ApiEnv) -> None:
    slow = Slow()
    with (
        Client(
            api_env.manager(),
            transport=SyncASGITransport(slow.app),
            api_base_url="http://127.0.0.1:9/v3",
            limits=RateLimits(rate_per_second=1000.0),
            retry=RetryPolicy(attempts=1),
        ) as client,
        pytest.raises(Throttled) as caught,
    ):
        client.account.summary()
    assert caught.value.retry_after == 3.0
