"""``ctct doctor``: check everything a working setup needs, and say what to fix.

Checks, in order: settings (each unusable one is a failed line; the rest still
loads); the provider and connectivity to its token endpoint, JWKS and API; the client
id and secret (a refresh with a made-up token: ``invalid_grant`` means the provider
accepted the credentials, ``invalid_client`` that it refused them); the clock against
the server's ``Date``; the token store (path, permissions, encryption); the system
keyring; the stored grant and its scopes against those needed. Each check is ``ok``,
``warn`` or ``fail``; the command exits 1 when any check failed, else 0.

The doctor changes nothing: it creates no store, folder or key file (a store that does
not exist yet is reported as such), and it never refreshes or revokes a grant.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import click

from ctct._describe import describe_error
from ctct.cli.auth_common import settings_options, with_settings

if TYPE_CHECKING:
    import httpx2

    from ctct._provider import Provider
    from ctct._settings import Settings
    from ctct.errors import CtctError

Level = Literal["ok", "warn", "fail"]
SKEW_WARN = 5.0
"""Seconds of clock difference worth a warning (Date has 1 s granularity). Up to
``ctct._clock.MAX_CLOCK_OFFSET`` ctct corrects for it; beyond, the check fails."""


@dataclass
class Check:
    name: str
    level: Level
    detail: str
    fix: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"check": self.name, "level": self.level, "detail": self.detail, "fix": self.fix}


class Doctor:
    """Runs the checks, collecting results instead of stopping at the first problem."""

    def __init__(
        self, settings: Settings, http: httpx2.Client, problems: Sequence[CtctError] = ()
    ) -> None:
        self.settings = settings
        self.http = http
        self.problems = list(problems)
        """What is wrong with the settings (each left at its default)."""
        self.checks: list[Check] = []
        self.provider: Provider | None = None
        self.clock_offset: float | None = None
        """The provider's clock minus ours, measured from a probe's ``Date`` header."""
        self.store: dict[str, Any] | None = None
        """The store's backend, location, server, persistence and latency (``--json``)."""

    def add(self, name: str, level: Level, detail: str, fix: str | None = None) -> None:
        self.checks.append(Check(name, level, detail, fix))

    def run(self) -> list[Check]:
        self.check_settings()
        self.check_provider()
        if self.provider is not None:
            self.check_connectivity(self.provider)
        self.check_store_and_grant()
        self.check_keyring()
        return self.checks

    # -- settings and provider ------------------------------------------------------------

    def check_settings(self) -> None:
        s = self.settings
        path = s.config_path
        where = f"{path}" + ("" if path is not None and path.exists() else " (not present)")
        self.add("config", "ok", f"profile {s.profile!r}; config file {where}")
        for problem in self.problems:
            self.add("settings", "fail", problem.message, "fix it; `ctct config show` lists all")
        if s.client_id is None:
            self.add(
                "client id",
                "fail",
                "no client id is configured",
                "set CTCT_CLIENT_ID (your app's API key) or client_id in the config file",
            )
        else:
            self.add("client id", "ok", f"{s.client_id} (from {s.sources.get('client_id')})")
        if s.client_secret is None:
            self.add(
                "client secret",
                "warn",
                "none configured: only public apps (device flow, PKCE) can log in",
                "for a confidential app set CTCT_CLIENT_SECRET, CTCT_CLIENT_SECRET_FILE or "
                "client_secret_file, or the keyring entry ctct/client-secret",
            )
        else:
            self.add("client secret", "ok", f"set (from {s.sources.get('client_secret')})")

    def check_provider(self) -> None:
        from ctct._oauth_http import resolve_provider
        from ctct.errors import CtctError

        try:
            self.provider = resolve_provider(self.settings, self.http)
        except CtctError as exc:
            self.add("provider", "fail", exc.message, "fix CTCT_ISSUER / CTCT_BASE_URL")
            return
        p = self.provider
        self.add("provider", "ok", f"{p.name}: token endpoint {p.token_endpoint}")

    def check_connectivity(self, provider: Provider) -> None:
        skew: float | None = None
        probes = [("token endpoint", "POST", provider.token_endpoint)]
        if self.settings.client_id is not None:
            probes = []  # the credentials probe below reaches it, and says more
            sent = time.time()
            response = self._probe_credentials(provider)
            if response is not None:
                skew = _skew(response, sent, time.time())
        if provider.jwks_uri is not None:
            probes.append(("JWKS", "GET", provider.jwks_uri))
        if provider.api_base_url is not None:
            probes.append(("V3 API", "GET", provider.api_base_url + "/account/summary"))
        for name, method, url in probes:
            sent = time.time()
            response = self._probe(name, method, url)
            if response is None:
                continue
            received = time.time()
            self.add(
                f"reach {name}",
                "ok",
                f"{method} {url} answered HTTP {response.status_code} in "
                f"{(received - sent) * 1000:.0f} ms",
            )
            if skew is None:
                skew = _skew(response, sent, received)
        self.clock_offset = skew
        self._check_clock(skew, local=provider.is_local)

    def _check_clock(self, skew: float | None, *, local: bool) -> None:
        from ctct._clock import MAX_CLOCK_OFFSET, describe_offset, duration, offset_in_range

        if skew is None:
            self.add("clock", "warn", "no server Date header seen: clock offset unknown")
            return
        whose = "the emulator's" if local else "the provider's"
        measured = describe_offset(skew, whose=whose)
        limit = duration(MAX_CLOCK_OFFSET)
        if not offset_in_range(skew):
            self.add(
                "clock",
                "fail",
                f"{measured}, more than the {limit} ctct corrects for: tokens will fail "
                "verification",
                "the emulator's clock was advanced: start a fresh emulator"
                if local
                else "synchronize the clock (NTP: timedatectl set-ntp true)",
            )
        elif abs(skew) > SKEW_WARN:
            self.add(
                "clock",
                "warn",
                f"{measured}: ctct corrects for it (up to {limit}, measured from the "
                "provider's Date header), but other software may not",
                None if local else "synchronize the clock (NTP: timedatectl set-ntp true)",
            )
        else:
            self.add("clock", "ok", f"within {max(abs(skew), 1):.0f} s of {whose} clock")

    def _probe_credentials(self, provider: Provider) -> httpx2.Response | None:
        """Refresh with a made-up token: the answer tells wrong credentials
        (``invalid_client``) from right ones (``invalid_grant``: no such token)."""
        import httpx2

        from ctct._oauth_requests import oauth_error, refresh_request
        from ctct._secret import Secret
        from ctct.errors import AuthorizationRequired, ClientRejected, TransientProviderError

        url = provider.token_endpoint
        secret = self.settings.client_secret
        request = refresh_request(
            provider, self.settings.client_credentials(), Secret(_PROBE_TOKEN)
        )
        sent = time.time()
        try:
            response = self.http.send(request)
        except httpx2.HTTPError as exc:
            self.add(
                "reach token endpoint",
                "fail",
                f"POST {url} failed: {describe_error(exc)}",
                "check the network, proxies and CTCT_BASE_URL",
            )
            return None
        self.add(
            "reach token endpoint",
            "ok",
            f"POST {url} answered HTTP {response.status_code} in "
            f"{(time.time() - sent) * 1000:.0f} ms",
        )
        held = [secret] if secret is not None else []
        error = oauth_error(response, held=held) if response.status_code != 200 else None
        with_secret = "client id and secret" if secret is not None else "client id"
        if isinstance(error, ClientRejected):
            fix = (
                "check CTCT_CLIENT_ID and the client secret (a secret regenerated in the "
                "developer portal invalidates the old one)"
                if secret is not None
                else "check CTCT_CLIENT_ID; a confidential app needs its client secret "
                "(CTCT_CLIENT_SECRET or client_secret_file)"
            )
            self.add(
                "credentials",
                "fail" if secret is not None else "warn",
                f"the provider refused the {with_secret} (invalid_client)",
                fix,
            )
        elif isinstance(error, AuthorizationRequired):
            self.add(
                "credentials",
                "ok",
                f"the provider accepted the {with_secret} (a refresh with a made-up token "
                "was refused as invalid_grant, as it should be)",
            )
        elif isinstance(error, TransientProviderError):
            self.add("credentials", "warn", f"not checked: {error.message}", "run it again later")
        elif error is not None:
            self.add("credentials", "warn", f"not checked: {error.message}")
        else:
            self.add("credentials", "warn", "not checked: the provider accepted a made-up token")
        return response

    def _probe(self, name: str, method: str, url: str) -> httpx2.Response | None:
        import httpx2

        try:
            # No credentials: these probes only show the host answers (4xx is fine).
            return self.http.request(method, url, timeout=self.settings.timeout)
        except httpx2.HTTPError as exc:
            self.add(
                f"reach {name}",
                "fail",
                f"{method} {url} failed: {describe_error(exc)}",
                "check the network, proxies and CTCT_BASE_URL",
            )
            return None

    # -- store, keyring, grant ------------------------------------------------------------

    def check_store_and_grant(self) -> None:
        from ctct._redact import redact_url
        from ctct.cli.effective import sqlite_file, store_url
        from ctct.errors import CtctError
        from ctct.stores import open_store

        path = sqlite_file(store_url(self.settings))
        if path is not None and not path.exists():
            self.add(
                "store",
                "warn",
                f"sqlite at {path}: does not exist yet (the first login creates it)",
                f"ctct auth login --profile {self.settings.profile}",
            )
            return
        try:
            store = open_store(self.settings.store)
        except CtctError as exc:
            self.add("store", "fail", exc.message)
            return
        with store:
            info = store.describe()
            self.add("store", "ok", f"{info.backend} at {redact_url(info.location)}")
            self.store = {"backend": info.backend, "location": redact_url(info.location)}
            self._check_store_server(store)
            if info.backend == "sqlite":
                self._check_permissions(Path(info.location))
            if info.encryption is None:
                self.add(
                    "encryption",
                    "warn",
                    "tokens are stored unencrypted",
                    "run `ctct store new-key` (ctct then reads the key file it writes), or "
                    "set CTCT_STORE_KEY or CTCT_STORE_KEY_FILE",
                )
            else:
                self.add("encryption", "ok", f"AES-256-GCM, key from {info.encryption}")
            for warning in info.warnings:
                if "unencrypted" not in warning:
                    self.add("store", "warn", warning)
            self._check_grant(store)

    def _check_store_server(self, store: Any) -> None:
        from ctct.errors import CtctError

        try:
            probe = store.probe()
        except CtctError as exc:
            self.add("store server", "fail", exc.message, "check that the store is reachable")
            return
        if self.store is not None:
            self.store.update(probe.as_json())
        if probe.problem is not None:
            self.add("store server", "fail", f"{probe.summary()}; {probe.problem}")
        else:
            self.add("store server", "ok", probe.summary())

    def _check_permissions(self, path: Path) -> None:
        for target, wanted in ((path.parent, 0o700), (path, 0o600)):
            try:
                mode = stat.S_IMODE(os.stat(target).st_mode)
            except FileNotFoundError:
                continue
            if mode & 0o077:
                self.add(
                    "permissions",
                    "fail",
                    f"{target} has mode {mode:04o}: other users can read it",
                    f"chmod {wanted:o} {target}",
                )
                return
        self.add("permissions", "ok", f"{path} and its folder are private to this user")

    def _check_grant(self, store: Any) -> None:
        from ctct._tokens import TokenSet
        from ctct.errors import CtctError
        from ctct.stores import GrantKey

        if self.provider is None or self.settings.client_id is None:
            return
        key = GrantKey(self.settings.profile, self.provider.storage_issuer, self.settings.client_id)
        try:
            record = store.load(key)
            tokens = (
                None if record is None else TokenSet.from_json(record.data, record.clock_offset)
            )
        except CtctError as exc:
            self.add("grant", "fail", exc.message)
            return
        if tokens is None:
            from ctct._refresh import other_grant_hint

            hint = other_grant_hint(key, store.keys())
            self.add(
                "grant",
                "fail" if hint else "warn",
                f"profile {key.profile!r} is not logged in with client id {key.client_id}"
                + (f": {hint}" if hint else ""),
                None if hint else f"ctct auth login --profile {key.profile}",
            )
            return
        state = tokens.state(time.time()).value.replace("_", " ")
        rt = "with" if tokens.refresh_token is not None else "WITHOUT"
        self.add(
            "grant", "ok", f"profile {key.profile!r}: access token {state}, {rt} refresh token"
        )
        needed = set(self.settings.scopes or self.provider.default_scopes)
        if self.provider.offline_scope:
            needed.add(self.provider.offline_scope)
        missing = tokens.missing_scopes(needed)
        if missing:
            names = " ".join(sorted(missing))
            self.add(
                "scopes",
                "warn",
                f"granted {' '.join(sorted(tokens.scopes)) or '(none)'}; missing {names}",
                f"ctct auth login --profile {key.profile} --scopes '{' '.join(sorted(needed))}'",
            )
        else:
            self.add("scopes", "ok", f"granted everything needed ({' '.join(sorted(needed))})")
        deadline = tokens.refresh_token_idle_deadline(self.provider.refresh_token_idle_ttl)
        if deadline is not None and deadline - time.time() < 30 * 86_400:
            self.add(
                "refresh token",
                "warn",
                "the refresh token expires unused within 30 days",
                "ctct auth refresh --force",
            )

    def check_keyring(self) -> None:
        from ctct import _keyring

        skipped = _keyring.unavailable()
        if skipped is not None:
            self.add("keyring", "ok", f"not used: {skipped} (keys and secrets come from files)")
            return
        found: list[str] = []
        import threading

        def probe() -> None:
            try:
                import keyring

                found.append(type(keyring.get_keyring()).__module__)
            except Exception as exc:
                found.append(f"error: {describe_error(exc)}")

        thread = threading.Thread(target=probe, name="ctct-keyring-probe", daemon=True)
        thread.start()
        thread.join(2.0)
        if not found:
            self.add(
                "keyring",
                "warn",
                "the system keyring did not answer within 2 s (common on servers)",
                "use CTCT_STORE_KEY_FILE and CTCT_CLIENT_SECRET_FILE instead; "
                "CTCT_KEYRING=0 skips it",
            )
        elif found[0].startswith("error") or "fail" in found[0] or "null" in found[0]:
            self.add(
                "keyring",
                "warn",
                f"no usable system keyring ({found[0]})",
                "fine: keys and secrets can come from files or the environment",
            )
        else:
            self.add("keyring", "ok", f"reachable ({found[0]})")


_PROBE_TOKEN = "ctct-doctor-probe-not-a-refresh-token"
"""Sent as the refresh token of the credentials probe: no provider has issued it."""


def _skew(response: httpx2.Response, sent: float, received: float) -> float | None:
    """The server's clock minus ours, from its ``Date`` header (None without one)."""
    from ctct._tokens import parse_http_date

    server = parse_http_date(response.headers.get("date"))
    if server is None:
        return None
    # Date is truncated to the second: the server's clock read [D, D + 1).
    return server + 0.5 - (sent + received) / 2


@click.command("doctor")
@settings_options
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON on stdout.")
@with_settings
def doctor(settings_flags: dict[str, Any], as_json: bool) -> None:
    """Check settings, connectivity, clock, store, keyring and the grant's scopes."""
    from ctct._clock import offset_json
    from ctct.cli import _console
    from ctct.cli.auth_common import http_client
    from ctct.cli.effective import effective_settings

    found = effective_settings(settings_flags)
    settings = found.settings
    with http_client(settings) as http:
        doctor = Doctor(settings, http, found.problems)
        checks = doctor.run()
    failed = [c for c in checks if c.level == "fail"]
    if as_json:
        offset = doctor.clock_offset
        _console.print_json(
            {
                "ok": not failed,
                "clock_offset": None if offset is None else offset_json(offset),
                "store": doctor.store,
                "checks": [c.as_json() for c in checks],
            }
        )
    else:
        from ctct.cli._console import escape

        console = _console.out()
        marks = {"ok": "[green]✓[/]", "warn": "[yellow]![/]", "fail": "[red]✗[/]"}
        for check in checks:
            console.print(f"{marks[check.level]} {escape(check.name)}: {escape(check.detail)}")
            if check.fix and check.level != "ok":
                console.print(f"    [dim]→ {escape(check.fix)}[/]")
        warned = sum(c.level == "warn" for c in checks)
        console.print(
            f"{len(checks)} checks: {len(failed)} failed, {warned} warnings."
            if failed or warned
            else f"{len(checks)} checks passed."
        )
    if failed:
        raise click.exceptions.Exit(1)
