"""The web app callback: a Starlette app run by uvicorn with two worker processes and a
WSGI app on wsgiref, both sharing a SQLite store, driven by an HTTP client that keeps
the cookie as a browser would: start -> emulator approve -> callback. State and the
PKCE verifier live in the store, so the callback works on whichever worker gets it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx2
import pytest

from ctct._oauth_requests import ClientCredentials
from ctct._provider import Provider
from ctct._secret import Secret
from ctct._tokens import TokenSet
from ctct.emulator import EmulatorConfig
from ctct.emulator.config import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from ctct.emulator.server import EmulatorServer
from ctct.flows import WebLogin
from ctct.stores import GrantKey, generate_key, open_store, static_keys
from ctct.testing import EmulatorHandle

ROOT = Path(__file__).resolve().parents[2]
SIGNING_KEY = "test-signing-key-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Site:
    """A running web app with the login mounted at /auth, and its emulator."""

    base_url: str
    emulator: EmulatorServer
    control: EmulatorHandle
    store_url: str
    store_key: str

    def stored(self, profile: str) -> TokenSet | None:
        key = GrantKey(
            profile,
            Provider.constant_contact(self.emulator.base_url).storage_issuer,
            DEFAULT_CLIENT_ID,
        )
        with open_store(self.store_url, key_provider=static_keys(self.store_key)) as store:
            record = store.load(key)
        return None if record is None else TokenSet.from_json(record.data)


@dataclass
class Step:
    response: httpx2.Response

    @property
    def pid(self) -> str | None:
        return self.response.headers.get("x-worker-pid")


def fresh_get(url: str, *, cookie: str | None = None, **headers: str) -> httpx2.Response:
    """One request on a new connection (so any worker may answer), no redirects."""
    if cookie is not None:
        headers["cookie"] = cookie
    with httpx2.Client(timeout=10) as client:
        return client.get(url, headers=headers)


def set_cookie_pair(response: httpx2.Response) -> str:
    header = response.headers["set-cookie"]
    return header.split(";", 1)[0]


@dataclass
class Attempt:
    start: httpx2.Response
    callback: httpx2.Response | None
    callback_url: str
    cookie: str


def login_through(site: Site, *, tenant: str = "tenant-1", next: str = "/settings") -> Attempt:
    start = fresh_get(f"{site.base_url}/auth/start?next={next}", **{"x-tenant": tenant})
    assert start.status_code == 303, start.text
    cookie = set_cookie_pair(start)
    authorize = start.headers["location"]
    assert authorize.startswith(site.emulator.base_url)
    # The person signs in on the provider's page (the control API stands in for them).
    assert fresh_get(authorize).status_code == 200
    request_id = site.control.pending()["authorizations"][-1]["request_id"]
    callback_url = site.control.approve_authorization(request_id)
    callback = fresh_get(callback_url, cookie=cookie)
    return Attempt(start, callback, callback_url, cookie)


def emulator_for(redirect_uri: str) -> EmulatorServer:
    config = EmulatorConfig(loopback_redirect_any_port=False)
    app = replace(config.default_app, redirect_uris=(redirect_uri,))
    return EmulatorServer(config.with_changes(apps=(app,))).start()


@pytest.fixture
def uvicorn_site(tmp_path: Path) -> Iterator[Site]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    emulator = emulator_for(f"{base}/auth/callback")
    store_key = generate_key()
    store_url = f"sqlite:///{tmp_path}/web.db"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "FLOWS_EMULATOR": emulator.base_url,
        "FLOWS_STORE": store_url,
        "FLOWS_REDIRECT_URI": f"{base}/auth/callback",
        "CTCT_WEB_SIGNING_KEY": SIGNING_KEY,
        "CTCT_STORE_KEY": store_key,
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "tests.flows.web_app:create_app",
            "--factory",
            "--workers",
            "2",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    control = EmulatorHandle(emulator.base_url)
    try:
        deadline = time.monotonic() + 30
        pids: set[str] = set()
        while len(pids) < 2:  # both workers up and answering
            assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
            assert time.monotonic() < deadline, "uvicorn workers did not come up"
            try:
                pids.add(fresh_get(f"{base}/done").headers["x-worker-pid"])
            except httpx2.TransportError:
                time.sleep(0.1)
        yield Site(base, emulator, control, store_url, store_key)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            output, _ = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
        control.close()
        emulator.stop()
    # Nothing the workers printed may carry a code or the callback's query string.
    assert b"code=" not in output and b"/auth/callback?" not in output, output[-2000:]


def test_uvicorn_two_workers_callback_on_the_other_worker(uvicorn_site: Site) -> None:
    site = uvicorn_site
    crossed: Attempt | None = None
    for _ in range(20):
        attempt = login_through(site)
        assert attempt.callback is not None
        assert attempt.callback.status_code == 303, attempt.callback.text
        assert attempt.callback.headers["location"] == "/settings"
        assert "Max-Age=0" in attempt.callback.headers["set-cookie"]
        if Step(attempt.start).pid != Step(attempt.callback).pid:
            crossed = attempt
            break
    assert crossed is not None, "every callback landed on the worker that started the login"
    tokens = site.stored("tenant-1")
    assert tokens is not None and tokens.refresh_token is not None
    assert "offline_access" in tokens.scopes
    # The profile came from the record written at start, not from the callback's query.
    assert site.stored("default") is None
    # The same callback again (same cookie): the single-use record is gone.
    replay = fresh_get(crossed.callback_url, cookie=crossed.cookie)
    assert replay.status_code == 400 and "or was already completed" in replay.text
    assert site.stored("tenant-1") == tokens


def test_uvicorn_refuses_open_redirects_and_foreign_callbacks(uvicorn_site: Site) -> None:
    site = uvicorn_site
    for target in ("https://evil.example/", "//evil.example/", "/not-listed"):
        response = fresh_get(f"{site.base_url}/auth/start?next={target}")
        assert response.status_code == 400, target
        assert "location" not in response.headers and "set-cookie" not in response.headers
        assert "allow-list" in response.text
    assert site.control.pending()["authorizations"] == []
    # A callback delivered to another browser (its own login's cookie): state mismatch.
    mine = fresh_get(f"{site.base_url}/auth/start", **{"x-tenant": "victim"})
    theirs = login_through(site, tenant="attacker")
    assert theirs.callback is not None and theirs.callback.status_code == 303
    foreign = fresh_get(theirs.callback_url, cookie=set_cookie_pair(mine))
    assert foreign.status_code == 400 and "does not match" in foreign.text
    assert site.stored("victim") is None
    # No cookie at all.
    bare = fresh_get(theirs.callback_url)
    assert bare.status_code == 400 and "no login in progress" in bare.text
    # A forged cookie.
    forged = fresh_get(theirs.callback_url, cookie="ctct_login=abc.def")
    assert forged.status_code == 400 and "not valid" in forged.text


# -- WSGI -----------------------------------------------------------------------------------


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """No access log: the callback's query carries the code."""


@pytest.fixture
def wsgi_site(tmp_path: Path) -> Iterator[Site]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    emulator = emulator_for(f"{base}/auth/callback")
    store_key = generate_key()
    store_url = f"sqlite:///{tmp_path}/wsgi.db"
    web = WebLogin(
        provider=Provider.constant_contact(emulator.base_url),
        client=ClientCredentials(DEFAULT_CLIENT_ID, Secret(DEFAULT_CLIENT_SECRET)),
        store=open_store(store_url, key_provider=static_keys(store_key)),
        redirect_uri=f"{base}/auth/callback",
        signing_key=SIGNING_KEY,
        allowed_next=["/settings"],
        # PKCE on purpose (the profile's "auto" sends none with a secret): the verifier
        # must make the trip through the shared store too.
        pkce="always",
        owns_store=True,
    )
    inner = web.wsgi_app(
        profile=lambda environ: str(environ.get("HTTP_X_TENANT", "default")),
        start_path="/auth/start",
        callback_path="/auth/callback",
    )
    server = make_server(
        "127.0.0.1", port, inner, server_class=WSGIServer, handler_class=QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    control = EmulatorHandle(emulator.base_url)
    try:
        yield Site(base, emulator, control, store_url, store_key)
    finally:
        server.shutdown()
        server.server_close()
        web.close()
        control.close()
        emulator.stop()


def test_wsgi_login(wsgi_site: Site) -> None:
    attempt = login_through(wsgi_site, tenant="shop-7")
    assert attempt.callback is not None
    assert (
        attempt.callback.status_code == 303 and attempt.callback.headers["location"] == "/settings"
    )
    authorize = parse_qs(urlsplit(attempt.start.headers["location"]).query)
    assert authorize["code_challenge_method"] == ["S256"]
    cookie = attempt.start.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    tokens = wsgi_site.stored("shop-7")
    assert tokens is not None and tokens.access_token is not None


def test_wsgi_denied_and_open_redirect(wsgi_site: Site) -> None:
    response = fresh_get(f"{wsgi_site.base_url}/auth/start?next=https://evil.example/")
    assert response.status_code == 400 and "location" not in response.headers
    start = fresh_get(f"{wsgi_site.base_url}/auth/start", **{"x-tenant": "shop-8"})
    assert start.headers["location"].startswith(wsgi_site.emulator.base_url)
    assert fresh_get(start.headers["location"]).status_code == 200
    request_id = wsgi_site.control.pending()["authorizations"][-1]["request_id"]
    denied = fresh_get(
        wsgi_site.control.deny_authorization(request_id), cookie=set_cookie_pair(start)
    )
    assert denied.status_code == 403 and "Access denied" in denied.text
    assert wsgi_site.stored("shop-8") is None


# -- odd cookies ----------------------------------------------------------------------------


def raw_get(url: str, cookie: bytes) -> tuple[int, bytes]:
    """GET over a plain socket with a ``Cookie`` header of exactly these bytes (HTTP
    clients refuse to send non-ASCII headers; browsers and attackers do not)."""
    parts = urlsplit(url)
    target = f"{parts.path}?{parts.query}".encode()
    request = (
        b"GET " + target + b" HTTP/1.1\r\nHost: " + parts.netloc.encode() + b"\r\n"
        b"Cookie: " + cookie + b"\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as conn:
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    return status, answer.partition(b"\r\n\r\n")[2]


NON_ASCII_COOKIES = [
    "ctct_login=abc.dé".encode(),  # in the signature
    "ctct_login=é.abc".encode(),  # in the id
    "ctct_login=\u0430bc.\u0434ef".encode(),  # Cyrillic look-alikes
    b"ctct_login=abc.\xff\xfe",  # not even UTF-8
    "ctct_login=\U0001f600".encode(),
]


def test_a_non_ascii_login_cookie_is_a_400_not_a_500(uvicorn_site: Site, wsgi_site: Site) -> None:
    for site in (uvicorn_site, wsgi_site):
        theirs = login_through(site, tenant="someone")
        for cookie in NON_ASCII_COOKIES:
            status, body = raw_get(theirs.callback_url, cookie)
            assert status == 400, (site.base_url, cookie, body[:300])
            assert b"not valid" in body
        # The server is still fine afterwards.
        assert fresh_get(f"{site.base_url}/auth/start").status_code == 303
