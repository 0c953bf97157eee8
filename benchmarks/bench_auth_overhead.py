"""Cost of authorizing one request with a fresh token, next to the peers.

Floor: setting ``Authorization`` by hand on an ``httpx2.Request``. ctct: a whole
``BearerAuth.sync_auth_flow`` cycle as the client runs it (first request out, the 200
response sent back in, the flow ends) with a ``TokenManager`` holding a fresh token.
Peers, with their own request objects: Authlib's ``OAuth2Auth`` httpx auth flow (the same
cycle), and requests-oauthlib's ``OAuth2`` auth on a prepared request. Each figure is the median of
repeated timing runs, all in one process, interleaved so machine noise hits all alike.
Target (issue 3): ctct within 2x of the hand-set header and below every peer.
"""

from __future__ import annotations

import statistics
import time
import timeit
from collections.abc import Callable

import httpx
import httpx2
import requests
from authlib.integrations.httpx_client import OAuth2Auth  # type: ignore[import-untyped]
from requests_oauthlib import OAuth2  # type: ignore[import-untyped]

from ctct._auth import BearerAuth
from ctct._manager import TokenManager
from ctct._oauth_requests import ClientCredentials
from ctct._provider import Provider
from ctct._tokens import TokenSet
from ctct.stores import open_store

URL = "https://api.cc.email/v3/contacts"
ACCESS = "eyJraWQiOiJrMSIsImFsZyI6IlJTMjU2In0." + "x" * 900 + ".sig"
ROUNDS = 15
NUMBER = 20_000


def _manager() -> TokenManager:
    provider = Provider.constant_contact()
    client = ClientCredentials("bench-client")
    manager = TokenManager(provider=provider, client=client, store=open_store("memory://"))
    now = time.time()
    manager.save(
        TokenSet.imported(
            issuer=provider.storage_issuer,
            client_id=client.client_id,
            now=now,
            access_token=ACCESS,
            refresh_token="r" * 43,
            expires_at=now + 86_400,
        )
    )
    return manager


def cases() -> dict[str, Callable[[], object]]:
    header = f"Bearer {ACCESS}"
    request = httpx2.Request("GET", URL)

    def by_hand() -> object:
        request.headers["Authorization"] = header
        return request

    auth = BearerAuth(_manager())
    response = httpx2.Response(200, request=request)

    def ctct() -> object:
        flow = auth.sync_auth_flow(request)
        sent = next(flow)
        try:  # noqa: SIM105 - cheaper than contextlib.suppress in a timing loop
            flow.send(response)
        except StopIteration:
            pass
        return sent

    authlib_auth = OAuth2Auth({"access_token": ACCESS, "token_type": "Bearer"})
    plain_request = httpx.Request("GET", URL)
    plain_response = httpx.Response(200, request=plain_request)

    def authlib() -> object:
        flow = authlib_auth.sync_auth_flow(plain_request)
        sent = next(flow)
        try:  # noqa: SIM105 - cheaper than contextlib.suppress in a timing loop
            flow.send(plain_response)
        except StopIteration:
            pass
        return sent

    oauthlib_auth = OAuth2(
        client_id="bench-client", token={"access_token": ACCESS, "token_type": "Bearer"}
    )
    prepared = requests.Request("GET", URL).prepare()

    def requests_oauthlib() -> object:
        return oauthlib_auth(prepared)

    return {
        "hand-set header (httpx2)": by_hand,
        "ctct BearerAuth (httpx2)": ctct,
        "Authlib OAuth2Auth (httpx)": authlib,
        "requests-oauthlib OAuth2 (requests)": requests_oauthlib,
    }


def measure() -> dict[str, float]:
    runs: dict[str, list[float]] = {}
    chosen = cases()
    for _ in range(ROUNDS):
        for name, fn in chosen.items():
            seconds = timeit.timeit(fn, number=NUMBER)
            runs.setdefault(name, []).append(seconds / NUMBER * 1e6)
    return {name: statistics.median(values) for name, values in runs.items()}


def main() -> None:
    results = measure()
    floor = results["hand-set header (httpx2)"]
    print(f"per-request authorization cost, median of {ROUNDS} runs x {NUMBER} calls")
    for name, micros in results.items():
        print(f"  {name:38s} {micros:8.3f} us   {micros / floor:6.1f}x the hand-set header")
    ours = results["ctct BearerAuth (httpx2)"]
    peers = [v for k, v in results.items() if k.startswith(("Authlib", "requests-oauthlib"))]
    within = ours <= 2 * floor
    below = all(ours < p for p in peers)
    print(
        f"  target: within 2x of the floor: {'met' if within else 'MISSED'}; "
        f"below every peer: {'met' if below else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
