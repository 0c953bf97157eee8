"""Cost of checking a request's scopes before sending it, next to building the request.

ctct's ``Client`` looks each request's operation up in the generated contract table
(``ctct.api.scopes``) and compares its scopes with the access token's scope claim (read
once per token). Measured on a real ``Client`` (memory store, no network): the check
for a path already seen, and for a new contact id every call (the operation cache
misses: its cache holds 4,096 paths, fewer than the distinct ids here); the floor is
building the ``httpx2.Request`` the check guards. Medians of
repeated runs, interleaved so machine noise hits all alike. No target was set; the check
should stay a small fraction of building the request.
"""

from __future__ import annotations

import base64
import itertools
import json
import statistics
import time
import timeit
import uuid
from collections.abc import Callable

import httpx2

from ctct._manager import TokenManager
from ctct._oauth_requests import ClientCredentials
from ctct._provider import Provider
from ctct._tokens import TokenSet
from ctct.api import Client, RateLimits
from ctct.stores import open_store

ROUNDS = 9
NUMBER = 20_000
SCOPES = ["account_read", "contact_data", "offline_access"]


def _token() -> str:
    claims = {"scp": SCOPES, "exp": int(time.time()) + 86_400, "pad": "x" * 700}
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"eyJraWQiOiJrMSIsImFsZyI6IlJTMjU2In0.{payload}.sig"


def _client(token: str) -> Client:
    provider = Provider.constant_contact()
    client = ClientCredentials("bench-client")
    manager = TokenManager(provider=provider, client=client, store=open_store("memory://"))
    now = time.time()
    manager.save(
        TokenSet.imported(
            issuer=provider.storage_issuer,
            client_id=client.client_id,
            now=now,
            access_token=token,
            refresh_token="r" * 43,
            expires_at=now + 86_400,
        )
    )
    return Client(manager, limits=RateLimits(rate_per_second=1e9, daily_quota=None))


def cases(client: Client, token: str) -> dict[str, Callable[[], object]]:
    url = client.base.url + "/contacts/" + str(uuid.uuid4())
    seen = httpx2.Request("GET", url)
    # Requests for new contact ids, built ahead so only the check is timed.
    fresh = itertools.cycle(
        [
            httpx2.Request("GET", client.base.url + "/contacts/" + str(uuid.uuid4()))
            for _ in range(ROUNDS * NUMBER)
        ]
    )

    def build() -> object:
        return httpx2.Request("GET", url)

    def check_seen() -> object:
        client._refuse_unscoped(token, seen)
        return seen

    def check_new_id() -> object:
        request = next(fresh)
        client._refuse_unscoped(token, request)
        return request

    return {
        "build the request (floor)": build,
        "scope check, path seen before": check_seen,
        "scope check, new contact id": check_new_id,
    }


def main() -> None:
    token = _token()
    client = _client(token)
    try:
        chosen = cases(client, token)
        runs: dict[str, list[float]] = {}
        for _ in range(ROUNDS):
            for name, fn in chosen.items():
                seconds = timeit.timeit(fn, number=NUMBER)
                runs.setdefault(name, []).append(seconds / NUMBER * 1e6)
    finally:
        client.close()
    results = {name: statistics.median(values) for name, values in runs.items()}
    floor = results["build the request (floor)"]
    print(f"scope check before sending, median of {ROUNDS} runs x {NUMBER} calls")
    for name, micros in results.items():
        print(f"  {name:34s} {micros:8.3f} us   {micros / floor:6.2f}x building the request")


if __name__ == "__main__":
    main()
