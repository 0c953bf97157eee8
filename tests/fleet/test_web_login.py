"""A web login started on one test host completes on another: the web app of
``tests/flows/web_app.py`` runs on every host (one uvicorn each) behind one public
redirect URI, as behind a load balancer; the state and PKCE verifier are single-use
records in the shared store (Redis here), so the host that gets the callback
finishes the login, and a replay on a third host finds the record gone."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import replace
from urllib.parse import urlsplit

import httpx2

from ctct._provider import Provider
from ctct._tokens import TokenSet
from ctct.emulator import EmulatorConfig
from ctct.emulator.config import DEFAULT_CLIENT_ID
from ctct.stores import GrantKey, open_store, static_keys
from ctct.testing import EmulatorHandle
from tests.fleet.hosts import Fleet, Host
from tests.fleet.support import emulator_on, shared_env
from tests.flows.test_web import SIGNING_KEY, fresh_get, set_cookie_pair
from tests.servers import RedisServer, free_port, fresh_redis_prefix

REDIRECT_URI = "https://app.example.test/auth/callback"
"""The app's one public callback; the test, as the load balancer, picks the host."""


def start_app(host: Host, port: int, emulator: str, store: str, env: dict[str, str]) -> str:
    """The web app on ``host``, listening on its own address; returns its origin."""
    settings = {
        **env,
        "FLOWS_EMULATOR": emulator,
        "FLOWS_STORE": store,
        "FLOWS_REDIRECT_URI": REDIRECT_URI,
        "CTCT_WEB_SIGNING_KEY": SIGNING_KEY,
    }
    host.popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "tests.flows.web_app:create_app",
            "--factory",
            "--host",
            host.address,
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env=settings,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return f"http://{host.address}:{port}"


def wait_up(origin: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if fresh_get(f"{origin}/done").status_code == 200:
                return
        except httpx2.TransportError:
            pass
        assert time.monotonic() < deadline, f"the web app at {origin} did not come up"
        time.sleep(0.1)


def test_a_web_login_started_on_one_host_completes_on_another(
    fleet: Fleet, fleet_redis: RedisServer
) -> None:
    fleet_store, cleanup = fresh_redis_prefix(fleet_redis)
    try:
        login_across_hosts(fleet, fleet_store)
    finally:
        cleanup()


def login_across_hosts(fleet: Fleet, fleet_store: str) -> None:
    config = EmulatorConfig(loopback_redirect_any_port=False)
    app = replace(config.default_app, redirect_uris=(REDIRECT_URI,))
    with emulator_on(fleet, config.with_changes(apps=(app,))) as emu:
        env, port = shared_env(), free_port()
        origins = [
            start_app(h, port, emu.base_url, fleet.local_url(fleet_store), env) for h in fleet.hosts
        ]
        for origin in origins:
            wait_up(origin)
        first, second, third = origins

        start = fresh_get(f"{first}/auth/start?next=/settings", **{"x-tenant": "tenant-1"})
        assert start.status_code == 303, start.text
        cookie = set_cookie_pair(start)
        # The person's browser reaches the provider (not through a host's relay).
        authorize = start.headers["location"].replace(emu.base_url, emu.server.base_url)
        assert fresh_get(authorize).status_code == 200
        with EmulatorHandle(emu.server.base_url) as control:
            request_id = control.pending()["authorizations"][-1]["request_id"]
            callback = urlsplit(control.approve_authorization(request_id))
        assert callback.path == "/auth/callback"

        done = fresh_get(f"{second}{callback.path}?{callback.query}", cookie=cookie)
        assert done.status_code == 303, done.text
        assert done.headers["location"] == "/settings"
        key = GrantKey(
            "tenant-1", Provider.constant_contact(emu.base_url).storage_issuer, DEFAULT_CLIENT_ID
        )
        keys = static_keys(env["CTCT_STORE_KEY"])
        with open_store(fleet_store, key_provider=keys) as store:
            record = store.load(key)
        assert record is not None
        tokens = TokenSet.from_json(record.data)
        assert tokens.refresh_token is not None and "offline_access" in tokens.scopes

        # The same callback on a third host: the single-use record is gone everywhere.
        replay = fresh_get(f"{third}{callback.path}?{callback.query}", cookie=cookie)
        assert replay.status_code == 400 and "or was already completed" in replay.text
        with open_store(fleet_store, key_provider=keys) as store:
            again = store.load(key)
        assert again is not None and again.version == record.version
