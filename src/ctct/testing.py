"""Test your own application against a local Constant Contact, offline.

Three ways to get an emulator, each giving an ``EmulatorHandle``:

- ``start_emulator()``: a context manager serving the emulator on a real loopback port
  (for code that opens its own connections, subprocesses and browsers).
- ``inprocess_emulator()``: the emulator inside the test process, reached through an
  httpx2 transport (``handle.transport``, or ``handle.async_transport()``); no socket.
- pytest fixtures ``ctct_emulator`` (real port) and ``ctct_emulator_app`` (in-process),
  one emulator per test. Enable them in your ``conftest.py``::

      pytest_plugins = ["ctct.testing"]

  and override the ``ctct_emulator_config`` fixture to change settings.

The handle knows the base URL and the default app's (test) credentials, and drives the
emulator's control API over HTTP: approve a device login, approve a browser login,
advance the clock, inject faults, rotate signing keys, read counters::

    with start_emulator(access_token_ttl=60) as emu:   # provider="generic": discovery
        ...  # start a device login in your app, read its user code
        emu.approve_device(user_code)
        emu.advance_clock(61)       # the access token has now expired
        assert emu.counters()["token_requests"]["refresh_token"]["ok"] == 1

Importing this module does not need pytest, and stays cheap: the emulator (Starlette,
uvicorn) and httpx2 are imported when an emulator is started or a handle is made. That
matters because the module is also a pytest plugin that pytest loads in every run of
every project where ctct is installed (the ``pytest11`` entry point ``ctct.testing``).

Two pytest options change the fixtures' emulator for a whole run, e.g. once in CI:
``--ctct-strict`` (CC's strictest plausible behaviour, ``EmulatorConfig.strict``) and
``--ctct-split-hosts`` (CC's three hosts on three origins).
"""

from __future__ import annotations

import importlib.util
import itertools
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ctct import _cc

if TYPE_CHECKING:
    import httpx2

    from ctct._provider import Provider
    from ctct.emulator.app import Emulator
    from ctct.emulator.config import EmulatorConfig
    from ctct.emulator.hosts import Role

__all__ = [
    "EmulatorControlError",
    "EmulatorHandle",
    "inprocess_emulator",
    "start_emulator",
]

CONTROL = "/__emulator"
INPROCESS_BASE_URL = "http://127.0.0.1"
ROLES: tuple[Role, ...] = ("authz", "identity", "api")  # ctct.emulator.hosts.ROLES
# Each in-process emulator gets its own origin (a port nothing listens on: the transport
# never opens a socket), so ctct's per-origin state (JWKS caches, grant keys) never mixes
# two emulators' keys and tokens.
_inprocess_ports = itertools.count(41000)


class EmulatorControlError(Exception):
    """The emulator's control API refused a request; the message carries its reason."""

    def __init__(self, method: str, path: str, status: int, detail: str) -> None:
        super().__init__(f"{method} {path} answered {status}: {detail}")
        self.status = status
        self.detail = detail


class EmulatorHandle:
    """A running emulator: its URLs, the default app's test credentials, and its controls.

    Works with any emulator reachable over HTTP, e.g. ``EmulatorHandle("http://127.0.0.1:7717")``
    for one started with ``ctct emulator``. ``emulator`` is the ``Emulator`` object itself
    when it runs in this process (for assertions on its internals), else None.
    """

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx2.BaseTransport | None = None,
        emulator: Emulator | None = None,
        timeout: float = 10.0,
        origins: Mapping[str, str] | None = None,
    ) -> None:
        """``base_url``: the emulator's (its authorization server's, with
        ``--split-hosts``), which serves the control API. ``origins``: each of CC's
        hosts (``authz``, ``identity``, ``api``) when known; else asked of the emulator."""
        import httpx2

        self.base_url = base_url.rstrip("/")
        self.transport = transport
        self.emulator = emulator
        self._timeout = timeout
        self._control = httpx2.Client(base_url=self.base_url, transport=transport, timeout=timeout)
        self._config: dict[str, Any] | None = None
        self._origins = {k: v.rstrip("/") for k, v in origins.items()} if origins else None

    # -- where things are (Constant Contact's paths, or the generic provider mode's) ----

    @property
    def provider(self) -> str:
        """``"constant-contact"``, or ``"generic"`` (an OAuth 2 / OIDC provider found by
        discovery from ``issuer``)."""
        return str(self.config(cached=True).get("provider", "constant-contact"))

    @property
    def issuer(self) -> str:
        """The ``iss`` of the emulator's tokens (in the generic mode: its own origin)."""
        return str(self.config(cached=True).get("issuer", _cc.ISSUER))

    def _url(self, name: str, cc_path: str, role: str = "authz") -> str:
        paths: dict[str, str] = self.config(cached=True).get("paths", {})
        return self._origin(role) + paths.get(name, cc_path)

    def _origin(self, role: str) -> str:
        if self._origins is None:
            told = self.config(cached=True).get("origins") or {}
            split = len({told.get(r) for r in ROLES}) > 1
            # One origin: this handle's own base URL (it may carry a proxy's path prefix).
            self._origins = {r: (told[r] if split else self.base_url) for r in ROLES}
        return self._origins[role]

    @property
    def split_hosts(self) -> bool:
        """True when CC's three hosts are on three origins (``--split-hosts``)."""
        return len({self._origin(r) for r in ROLES}) > 1

    @property
    def authz_origin(self) -> str:
        """The authorization server (CC's authz.constantcontact.com): OAuth endpoints,
        login pages, and the emulator's control API."""
        return self._origin("authz")

    @property
    def identity_origin(self) -> str:
        """The identity host (CC's identity.constantcontact.com): the JWKS."""
        return self._origin("identity")

    @property
    def api_origin(self) -> str:
        """The V3 API host (CC's api.cc.email); the API is under ``/v3`` there."""
        return self._origin("api")

    @property
    def authorize_url(self) -> str:
        return self._url("authorize", _cc.AUTHORIZE_PATH)

    @property
    def token_url(self) -> str:
        return self._url("token", _cc.TOKEN_PATH)

    @property
    def device_authorization_url(self) -> str:
        return self._url("device_authorize", _cc.DEVICE_AUTHORIZE_PATH)

    @property
    def revoke_url(self) -> str:
        return self._url("revoke", _cc.REVOKE_PATH)

    @property
    def jwks_url(self) -> str:
        return self._url("jwks", _cc.JWKS_PATH, "identity")

    @property
    def api_url(self) -> str:
        """The V3 API's base, e.g. ``http://127.0.0.1:7717/v3``."""
        return self._url("api", _cc.API_BASE_PATH, "api")

    def provider_profile(self) -> Provider:
        """ctct's Constant Contact profile pointed at this emulator (each host at its own
        origin with ``--split-hosts``). Not for the generic provider mode, whose profile
        comes from discovery (``CTCT_ISSUER``: see ``env()``)."""
        from ctct._provider import Provider

        if not self.split_hosts:
            return Provider.constant_contact(self.base_url)
        return Provider.constant_contact(
            auth_url=self.authz_origin, identity_url=self.identity_origin, api_url=self.api_origin
        )

    # -- the default app and users (test values) ---------------------------------------

    def _default_app(self) -> dict[str, Any]:
        config = self.config(cached=True)
        app: dict[str, Any] = next(
            a for a in config["apps"] if a["client_id"] == config["default_client_id"]
        )
        return app

    @property
    def client_id(self) -> str:
        return str(self._default_app()["client_id"])

    @property
    def client_secret(self) -> str | None:
        secret = self._default_app()["client_secret"]
        return None if secret is None else str(secret)

    @property
    def redirect_uris(self) -> list[str]:
        return [str(uri) for uri in self._default_app()["redirect_uris"]]

    @property
    def users(self) -> list[dict[str, Any]]:
        """Each user's ``username``, ``password``, ``account_id``, ``role``..."""
        return list(self.config(cached=True)["users"])

    def env(self) -> dict[str, str]:
        """The environment variables that point ctct at this emulator: ``CTCT_BASE_URL``
        (Constant Contact's profile), ``CTCT_AUTH_URL``/``CTCT_IDENTITY_URL``/``CTCT_API_URL``
        with ``--split-hosts``, or ``CTCT_ISSUER`` in the generic provider mode."""
        config = self.config(cached=True)
        if self.provider == "generic":
            env = {"CTCT_ISSUER": self.issuer, "CTCT_CLIENT_ID": self.client_id}
            if config.get("access_token_format") == "jwt":
                env["CTCT_AUDIENCE"] = str(config["audience"])
        elif self.split_hosts:
            env = {
                "CTCT_AUTH_URL": self.authz_origin,
                "CTCT_IDENTITY_URL": self.identity_origin,
                "CTCT_API_URL": self.api_origin,
                "CTCT_CLIENT_ID": self.client_id,
            }
        else:
            env = {"CTCT_BASE_URL": self.base_url, "CTCT_CLIENT_ID": self.client_id}
        if self.client_secret is not None:
            env["CTCT_CLIENT_SECRET"] = self.client_secret
        return env

    # -- HTTP clients that reach the emulator ------------------------------------------

    def http_client(self, **kwargs: Any) -> httpx2.Client:
        """An httpx2 client with ``base_url`` set to the emulator (in-process or not);
        with ``--split-hosts`` pass ``base_url=handle.api_origin`` to call ``/v3``."""
        import httpx2

        kwargs.setdefault("base_url", self.base_url)
        kwargs.setdefault("timeout", self._timeout)
        if self.transport is not None:
            kwargs.setdefault("transport", self.transport)
        return httpx2.Client(**kwargs)

    def async_transport(self) -> httpx2.AsyncBaseTransport | None:
        """An async transport into the in-process emulator; None when it has a real port."""
        if self.emulator is None or self.transport is None:
            return None
        app = getattr(self.transport, "app", None)
        if app is None:
            return None
        from ctct.emulator.inprocess import async_transport

        return async_transport(app)

    def async_http_client(self, **kwargs: Any) -> httpx2.AsyncClient:
        import httpx2

        kwargs.setdefault("base_url", self.base_url)
        kwargs.setdefault("timeout", self._timeout)
        transport = self.async_transport()
        if transport is not None:
            kwargs.setdefault("transport", transport)
        return httpx2.AsyncClient(**kwargs)

    # -- the control API ---------------------------------------------------------------

    def _call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        url = CONTROL + path
        # Always JSON for a change: the control API refuses other requests (a web page's
        # cross-site POST could send them; see ctct.emulator.control_guard).
        payload = dict(body) if body is not None else None if method == "GET" else {}
        response = self._control.request(method, url, json=payload)
        if response.status_code >= 400:
            raise EmulatorControlError(method, url, response.status_code, _detail(response))
        return response.json() if response.content else None

    def config(self, *, cached: bool = False) -> dict[str, Any]:
        """Apps with their credentials, users with their logins, lifetimes, switches, limits."""
        if self._config is None or not cached:
            self._config = self._call("GET", "/config")
        return dict(self._config)

    def pending(self) -> Any:
        """Logins waiting for a person: device codes and browser authorization requests."""
        return self._call("GET", "/pending")

    def approve_device(self, user_code: str, username: str | None = None) -> Any:
        """Approve a device login as ``username`` (default: the default user)."""
        body: dict[str, Any] = {"user_code": user_code}
        if username is not None:
            body["username"] = username
        return self._call("POST", "/device/approve", body)

    def deny_device(self, user_code: str) -> Any:
        return self._call("POST", "/device/approve", {"user_code": user_code, "deny": True})

    def approve_authorization(self, request_id: str, username: str | None = None) -> str:
        """Approve a pending browser login; returns the redirect URL (with the code)."""
        body = {"username": username} if username is not None else None
        path = f"/authorizations/{quote(request_id, safe='')}/approve"
        return str(self._call("POST", path, body)["redirect_to"])

    def deny_authorization(self, request_id: str) -> str:
        """Deny a pending browser login; returns the redirect URL (with the error)."""
        path = f"/authorizations/{quote(request_id, safe='')}/deny"
        return str(self._call("POST", path)["redirect_to"])

    def grants(self) -> Any:
        return self._call("GET", "/grants")

    def revoke_grant(self, grant_id: str) -> Any:
        return self._call("POST", f"/grants/{quote(grant_id, safe='')}/revoke")

    def counters(self) -> dict[str, Any]:
        """Token requests by grant type and outcome, API requests by route and status."""
        counters: dict[str, Any] = self._call("GET", "/counters")
        return counters

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        path = "/events" + (f"?kind={quote(kind, safe='')}" if kind else "")
        events: list[dict[str, Any]] = self._call("GET", path)["events"]
        return events

    def clock(self) -> dict[str, float]:
        """``{"now": epoch seconds, "offset": seconds ahead of real time}``."""
        clock: dict[str, float] = self._call("GET", "/clock")
        return clock

    def advance_clock(self, seconds: float) -> float:
        """Move the emulator's clock forward; returns its new time (epoch seconds)."""
        return float(self._call("POST", "/clock/advance", {"seconds": seconds})["now"])

    def inject_fault(
        self, target: str, kind: str, count: int = 1, *, delay: float | None = None
    ) -> dict[str, int]:
        """Make the next ``count`` ``target`` ("token" or "api") calls fail with ``kind``:
        "500", "503", "timeout" (silent for ``delay`` s, then 504), "garbled", "drop"."""
        body: dict[str, Any] = {"target": target, "kind": kind, "count": count}
        if delay is not None:
            body["delay"] = delay
        pending: dict[str, int] = self._call("POST", "/faults", body)["pending"]
        return pending

    def pending_faults(self) -> dict[str, int]:
        pending: dict[str, int] = self._call("GET", "/faults")["pending"]
        return pending

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def rotate_keys(self, *, retire_old: bool = False) -> str:
        """Sign with a new key from now on; returns its ``kid``."""
        return str(self._call("POST", "/keys/rotate", {"retire_old": retire_old})["kid"])

    def mint_grants(
        self, count: int, *, username: str | None = None, scopes: list[str] | None = None
    ) -> list[dict[str, Any]]:
        """Create ``count`` grants at once (no token-endpoint rate limit); returns the
        token responses, as the token endpoint would have answered each login."""
        body: dict[str, Any] = {"count": count}
        if username is not None:
            body["username"] = username
        if scopes is not None:
            body["scopes"] = scopes
        minted: list[dict[str, Any]] = self._call("POST", "/grants/mint", body)["tokens"]
        return minted

    def set_rates(
        self,
        *,
        token_rate_per_second: float | None = None,
        api_rate_per_second: float | None = None,
        api_daily_quota: int | None = None,
    ) -> dict[str, float]:
        """Change the token endpoint's and the API's limits from now on."""
        body = {
            k: v
            for k, v in {
                "token_rate_per_second": token_rate_per_second,
                "api_rate_per_second": api_rate_per_second,
                "api_daily_quota": api_daily_quota,
            }.items()
            if v is not None
        }
        limits: dict[str, float] = self._call("POST", "/rates", body)
        return limits

    def seed(self, data: Mapping[str, Any] | None = None, /, **fields: Any) -> Any:
        """Add account data (contacts, lists...) through ``POST /__emulator/seed``."""
        return self._call("POST", "/seed", {**(data or {}), **fields})

    def tracking(self) -> dict[str, Any]:
        """The switches of simulated email tracking: seed, rates, window."""
        switches: dict[str, Any] = self._call("GET", "/tracking")
        return switches

    def set_tracking(self, **switches: float) -> dict[str, Any]:
        """Change some tracking switches for sends from now on, e.g.
        ``set_tracking(seed=7, open=0.5, window_seconds=0)``; returns them all."""
        changed: dict[str, Any] = self._call("POST", "/tracking", switches)
        return changed

    def reset_tracking(self) -> dict[str, Any]:
        """Back to the default tracking switches."""
        defaults: dict[str, Any] = self._call("DELETE", "/tracking")
        return defaults

    def publish_landing_page(
        self, name: str, username: str | None = None, **fields: Any
    ) -> dict[str, Any]:
        """Publish a landing page on ``username``'s account (default: the default user's);
        ``fields``: ``contact_list_ids``, ``list_id``, ``new_contacts``, ``links``."""
        user = username or str(self.config(cached=True)["default_username"])
        page: dict[str, Any] = self._call(
            "POST", "/landing_pages", {"username": user, "name": name, **fields}
        )
        return page

    def send_sms_campaign(
        self, name: str, username: str | None = None, contact_list_ids: list[str] | None = None
    ) -> dict[str, Any]:
        """Send an SMS campaign now to the SMS-subscribed contacts (of the lists)."""
        body: dict[str, Any] = {
            "username": username or str(self.config(cached=True)["default_username"]),
            "name": name,
        }
        if contact_list_ids is not None:
            body["contact_list_ids"] = contact_list_ids
        sent: dict[str, Any] = self._call("POST", "/sms_campaigns", body)
        return sent

    def reset(self) -> None:
        """Forget grants, data, counters, faults and limits; keep settings and keys."""
        self._call("POST", "/reset")

    def confirm_account_email(self, email_address: str, username: str | None = None) -> Any:
        """Confirm an address added with ``POST /v3/account/emails`` (the owner clicking
        CC's link), on ``username``'s account (default: the default user's)."""
        body = {"email_address": email_address}
        if username is not None:
            body["username"] = username
        else:
            body["username"] = str(self.config(cached=True)["default_username"])
        return self._call("POST", "/account_emails/confirm", body)

    def confirm_resubscribe(self, contact_id: str) -> Any:
        """The contact confirms the email ``PUT /v3/contacts/resubscribe/{id}`` sent."""
        return self._call("POST", f"/contacts/{quote(contact_id, safe='')}/confirm_resubscribe")

    def webhook_deliveries(self, *, wait: bool = True) -> list[dict[str, Any]]:
        """Partner webhook notifications sent (``wait``: after those under way finish)."""
        path = "/webhooks?wait=" + ("true" if wait else "false")
        deliveries: list[dict[str, Any]] = self._call("GET", path)["deliveries"]
        return deliveries

    def close(self) -> None:
        self._control.close()

    def __enter__(self) -> EmulatorHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = "in-process" if self.transport is not None else "socket"
        return f"EmulatorHandle({self.base_url!r}, {where})"


def _detail(response: httpx2.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict):
        return str(body.get("error_description") or body.get("error") or body)
    return str(body)[:200]


def _config(config: EmulatorConfig | None, changes: Mapping[str, Any]) -> EmulatorConfig:
    from ctct.emulator.config import EmulatorConfig

    config = config or EmulatorConfig()
    return config.with_changes(**changes) if changes else config


@contextmanager
def start_emulator(
    config: EmulatorConfig | None = None,
    *,
    port: int = 0,
    host: str = "127.0.0.1",
    identity_port: int = 0,
    api_port: int = 0,
    **changes: Any,
) -> Iterator[EmulatorHandle]:
    """Serve an emulator on a loopback port (any free one by default) for the block.

    Keyword arguments other than the ports and ``host`` change settings, e.g.
    ``start_emulator(access_token_ttl=60, refresh_token_reuse="grant")``, or
    ``start_emulator(strict=True)`` and ``start_emulator(split_hosts=True)`` (then
    ``identity_port``/``api_port`` place CC's identity host and API; ``port`` is the
    authorization server's).
    """
    from ctct.emulator.server import EmulatorServer

    server = EmulatorServer(
        _config(config, changes),
        host=host,
        port=port,
        identity_port=identity_port,
        api_port=api_port,
    )
    with (
        server,
        EmulatorHandle(server.base_url, emulator=server.emulator, origins=server.origins) as handle,
    ):
        yield handle


@contextmanager
def inprocess_emulator(
    config: EmulatorConfig | None = None, **changes: Any
) -> Iterator[EmulatorHandle]:
    """Run an emulator inside this process, without a socket, for the block.

    Point your httpx2 client at it with ``handle.http_client()`` or
    ``transport=handle.transport`` (sync), ``handle.async_transport()`` (async). With
    ``split_hosts=True`` each of CC's hosts gets its own (socket-less) origin, all
    reached through the one transport.
    """
    from ctct.emulator.app import Emulator, create_app
    from ctct.emulator.inprocess import SyncASGITransport

    emulator = Emulator(_config(config, changes))
    roles = ROLES if emulator.config.split_hosts else ROLES[:1]
    ports = {role: next(_inprocess_ports) for role in roles}
    if emulator.config.split_hosts:
        emulator.host_roles.ports = dict(ports)
    transport = SyncASGITransport(create_app(emulator=emulator))
    origins: dict[str, str] = {
        role: f"{INPROCESS_BASE_URL}:{ports.get(role, ports['authz'])}" for role in ROLES
    }
    try:
        with EmulatorHandle(
            origins["authz"], transport=transport, emulator=emulator, origins=origins
        ) as handle:
            yield handle
    finally:
        transport.close()
        emulator.close()


if importlib.util.find_spec("pytest") is not None:
    import pytest

    def pytest_addoption(parser: pytest.Parser) -> None:
        group = parser.getgroup("ctct", "ctct emulator (ctct.testing)")
        group.addoption(
            "--ctct-strict",
            action="store_true",
            help="Run the ctct_emulator fixtures' emulator in strict mode (CC's strictest "
            "plausible OAuth behaviour).",
        )
        group.addoption(
            "--ctct-split-hosts",
            action="store_true",
            help="Serve CC's three hosts (authz, identity, api) on three origins.",
        )

    @pytest.fixture
    def ctct_emulator_config(request: pytest.FixtureRequest) -> EmulatorConfig:
        """Settings for ``ctct_emulator``/``ctct_emulator_app``; override to change them
        (``--ctct-strict``/``--ctct-split-hosts`` still apply to what you return)."""
        from ctct.emulator.config import EmulatorConfig

        return EmulatorConfig()

    def _with_options(request: pytest.FixtureRequest, config: EmulatorConfig) -> EmulatorConfig:
        changes: dict[str, bool] = {}
        if request.config.getoption("--ctct-strict", default=False):
            changes["strict"] = True
        if request.config.getoption("--ctct-split-hosts", default=False):
            changes["split_hosts"] = True
        return config.with_changes(**changes) if changes else config

    @pytest.fixture
    def ctct_emulator(
        request: pytest.FixtureRequest, ctct_emulator_config: EmulatorConfig
    ) -> Iterator[EmulatorHandle]:
        """An emulator on a loopback port, fresh for each test."""
        with start_emulator(_with_options(request, ctct_emulator_config)) as handle:
            yield handle

    @pytest.fixture
    def ctct_emulator_app(
        request: pytest.FixtureRequest, ctct_emulator_config: EmulatorConfig
    ) -> Iterator[EmulatorHandle]:
        """An emulator inside the test process (``handle.transport``), fresh for each test."""
        with inprocess_emulator(_with_options(request, ctct_emulator_config)) as handle:
            yield handle
