"""``ctct auth status``: what one profile's grant looks like, checked against the server.

``collect_status`` gathers a ``StatusReport`` (a valid access token, refreshed if due;
its verified claims; the account from ``GET /v3/account/summary``; the refresh token's
type and idle deadline; the clock offset measured from the provider's ``Date``; the
store and its encryption); ``render_status`` prints it, and
``ctct demo`` uses the same renderer. Only fingerprints of tokens are ever shown.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ctct._clock import MAX_CLOCK_OFFSET, describe_offset, duration, offset_in_range, offset_json
from ctct._describe import describe_error
from ctct._redact import Held, in_response, redact_url, scrub, server_text
from ctct.cli._console import (
    countdown,
    escape,
    fingerprint,
    iso,
    provider_label,
    timestamp,
)
from ctct.errors import (
    ApiError,
    AuthorizationRequired,
    CtctError,
    NetworkError,
    TransientProviderError,
)

if TYPE_CHECKING:
    import httpx2
    from rich.console import Console

    from ctct._manager import TokenManager
    from ctct._tokens import TokenSet
    from ctct.stores import StoreInfo
    from ctct.stores.base import StoreProbe

ACCOUNT_FIELDS = (
    "organization_name",
    "encoded_account_id",
    "first_name",
    "last_name",
    "contact_email",
)
IDLE_WARNING_DAYS = 30


@dataclass
class StatusReport:
    """Everything ``status`` shows; ``error`` is the failure that decides the exit code."""

    profile: str
    issuer: str
    client_id: str
    store: StoreInfo
    tokens: TokenSet | None = None
    store_probe: StoreProbe | None = None
    """The store's server, persistence and round-trip latency (None if unreachable)."""
    state: str = "not logged in"
    claims: dict[str, Any] | None = None
    claims_error: str | None = None
    account: dict[str, Any] | None = None
    account_error: str | None = None
    refresh_token_idle_deadline: float | None = None
    refreshed_now: bool = False
    warnings: list[str] = field(default_factory=list)
    error: CtctError | None = None
    now: float = field(default_factory=time.time)
    local_provider: bool = False
    """The provider is an emulator on loopback (its clock may have been advanced)."""

    @property
    def logged_in(self) -> bool:
        """A grant is stored and the provider has not refused it. Being offline does
        not end a grant: its tokens still work once the network is back."""
        return self.tokens is not None and not isinstance(self.error, AuthorizationRequired)

    @property
    def offline(self) -> bool:
        """The provider or the API could not be reached (or failed for a while)."""
        return isinstance(self.error, NetworkError | TransientProviderError)

    def as_json(self) -> dict[str, Any]:
        tokens = self.tokens
        data: dict[str, Any] = {
            "profile": self.profile,
            "issuer": self.issuer,
            "client_id": self.client_id,
            "logged_in": self.logged_in,
            "provider_reachable": not self.offline,
            "state": self.state,
            "store": {
                "backend": self.store.backend,
                "location": redact_url(self.store.location),
                "encrypted": self.store.encryption is not None,
                "encryption": self.store.encryption,
                **(self.store_probe.as_json() if self.store_probe is not None else {}),
            },
            "warnings": list(self.warnings),
            "error": None
            if self.error is None
            else {
                "type": type(self.error).__name__,
                "code": self.error.code,
                "exit_code": self.error.exit_code,
                "message": self.error.message,
            },
        }
        if tokens is not None:
            data["token"] = {
                "access_token_fingerprint": fingerprint(tokens.access_token.reveal())
                if tokens.access_token is not None
                else None,
                "expires_at": iso(tokens.expires_at),
                "expires_in": None
                if tokens.expires_at is None
                else round(tokens.expires_at - self.now),
                "scopes": sorted(tokens.scopes),
                "refresh_token": tokens.refresh_token is not None,
                "refresh_token_type": tokens.refresh_token_type,
                "refresh_token_idle_deadline": iso(self.refresh_token_idle_deadline),
                "obtained_at": iso(tokens.obtained_at),
                "last_refresh_at": iso(tokens.last_refresh_at),
                "refreshed_now": self.refreshed_now,
            }
            data["clock_offset"] = offset_json(tokens.clock_skew)
            data["claims"] = self.claims
            data["claims_error"] = self.claims_error
            data["account"] = self.account
            data["account_error"] = self.account_error
        return data


def collect_status(
    manager: TokenManager, http: httpx2.Client, *, timeout: float, leeway: float
) -> StatusReport:
    """Gather the report; network and provider failures are recorded, not raised."""
    info = manager.store.describe()
    report = StatusReport(
        profile=manager.profile,
        issuer=manager.provider.storage_issuer,
        client_id=manager.client.client_id,
        store=info,
        now=manager.clock(),
        local_provider=manager.provider.is_local,
    )
    report.warnings.extend(info.warnings)
    report.store_probe = _probe(manager, report)
    before = manager.tokens()
    if before is None:
        hint = manager.other_grant_hint()
        report.error = AuthorizationRequired(
            f"Profile {manager.profile!r} is not logged in (no grant in the store at "
            f"{redact_url(info.location)}): "
            + (hint or f"run `ctct auth login --profile {manager.profile}` or `ctct auth import`."),
            code="not_logged_in",
        )
        return report
    report.tokens = before
    try:
        access = manager.token()
    except CtctError as exc:
        report.error = exc
        report.state = _state_name(before, report.now, manager)
        _fill_refresh_info(report, manager)
        return report
    after = manager.tokens() or before
    report.tokens = after
    report.now = manager.clock()
    report.refreshed_now = after.received_at != before.received_at
    report.state = _state_name(after, report.now, manager)
    _fill_refresh_info(report, manager)
    report.claims, report.claims_error = _verified_claims(
        manager, http, access, timeout, leeway, skew=after.clock_skew
    )
    report.account, account_error = fetch_account(manager, http, access, timeout)
    if account_error is not None:
        report.account_error = account_error.message
        if report.error is None and not isinstance(account_error, ApiError):
            report.error = account_error
    return report


def _probe(manager: TokenManager, report: StatusReport) -> StoreProbe | None:
    probe = getattr(manager.store, "probe", None)  # every backend of ctct.stores has it
    if probe is None:
        return None
    try:
        found: StoreProbe = probe()
    except CtctError as exc:
        report.warnings.append(f"the store did not answer a probe: {exc.message}")
        return None
    if found.problem is not None:
        report.warnings.append(f"the store's server: {found.problem}")
    return found


def _state_name(tokens: TokenSet, now: float, manager: TokenManager) -> str:
    state = tokens.state(
        now, margin=manager.policy.margin, max_fraction=manager.policy.max_fraction
    )
    return state.value.replace("_", " ")


def clock_text(offset: float, *, local: bool = False) -> str:
    """The ``Clock`` row: the offset measured from the provider's ``Date`` header."""
    whose = "the emulator's" if local else "the provider's"
    text = describe_offset(offset, whose=whose) + " (from its Date header"
    if offset_in_range(offset):
        return text + ("; corrected for)" if abs(offset) >= 1.5 else ")")
    return text + f"; more than the {duration(MAX_CLOCK_OFFSET)} ctct corrects for)"


def _fill_refresh_info(report: StatusReport, manager: TokenManager) -> None:
    tokens = report.tokens
    if tokens is None:
        return
    if not offset_in_range(tokens.clock_skew):
        local = manager.provider.is_local
        whose = "the emulator's" if local else "the provider's"
        fix = (
            "the emulator's clock was advanced; start a fresh emulator"
            if local
            else "fix the system clock (NTP)"
        )
        report.warnings.append(
            f"{describe_offset(tokens.clock_skew, whose=whose)}, more than the "
            f"{duration(MAX_CLOCK_OFFSET)} ctct corrects for: {fix}, or tokens will fail "
            "verification"
        )
    deadline = tokens.refresh_token_idle_deadline(manager.provider.refresh_token_idle_ttl)
    report.refresh_token_idle_deadline = deadline
    if tokens.refresh_token is None:
        report.warnings.append(
            "no refresh token is stored (offline_access was not granted): this grant ends "
            "when its access token expires"
        )
    elif deadline is not None and deadline - report.now < IDLE_WARNING_DAYS * 86_400:
        report.warnings.append(
            f"the refresh token dies unused {countdown(deadline, report.now)}: run "
            "`ctct auth refresh --force` (or any API call) before then"
        )


def _verified_claims(
    manager: TokenManager,
    http: httpx2.Client,
    access: str,
    timeout: float,
    leeway: float,
    *,
    skew: float,
) -> tuple[dict[str, Any] | None, str | None]:
    provider = manager.provider
    if provider.jwks_uri is None or provider.access_token_format == "opaque":
        return None, "this provider's access tokens are opaque: nothing to verify locally"
    from ctct._jwt import JwtVerifier
    from ctct._oauth_http import fetch_jwks

    jwks_uri = provider.jwks_uri
    verifier = JwtVerifier.for_provider(
        provider, manager.client.client_id, clock=manager.clock, leeway=leeway
    )
    try:
        # The stored offset: measured when this token arrived (maybe by another process).
        claims = verifier.verify(
            access, lambda: fetch_jwks(http, jwks_uri, timeout=timeout), skew=skew
        )
    except CtctError as exc:
        # The token's header and claims are the provider's text.
        return None, scrub(exc, manager.held_secrets()).message
    return {
        "verified": True,
        "issuer": claims.issuer,
        "subject": claims.subject,
        "client_id": claims.client_id,
        "scopes": sorted(claims.scopes),
        "expires_at": iso(claims.expires_at),
        "issued_at": iso(claims.issued_at),
        "platform_user_id": claims.claims.get("platform_user_id"),
    }, None


def fetch_account(
    manager: TokenManager, http: httpx2.Client, access: str, timeout: float
) -> tuple[dict[str, Any] | None, CtctError | None]:
    """``GET /v3/account/summary``: the account behind the grant (or why not)."""
    api = manager.provider.api_base_url
    if api is None:
        return None, None
    import httpx2

    url = api + "/account/summary"
    header = f"Bearer {access}"
    for _attempt in range(2):
        try:
            response = http.get(
                url,
                headers={"Authorization": header, "Accept": "application/json"},
                timeout=timeout,
                follow_redirects=False,
            )
        except httpx2.HTTPError as exc:
            return None, NetworkError(
                f"Could not reach the V3 API at {api} ({describe_error(exc)}): check the "
                "network and CTCT_BASE_URL."
            )
        if response.status_code == 401 and _attempt == 0:
            renewed = manager.unauthorized(access)
            if renewed is not None:
                header = renewed
                continue
        break
    if response.status_code == 200:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            return {k: body[k] for k in ACCOUNT_FIELDS if k in body}, None
        return None, ApiError("The account summary is not a JSON object.", status=200)
    if response.status_code == 401:
        return None, AuthorizationRequired(
            "The V3 API refused the access token, even after a refresh: the grant was "
            "revoked (or the app disconnected from the account). Run `ctct auth login`.",
            code="unauthorized",
        )
    return None, ApiError(
        f"GET /v3/account/summary answered HTTP {response.status_code}"
        f"{_api_error_text(response, Held(in_response(response), manager.held_secrets()))}.",
        status=response.status_code,
    )


def _api_error_text(response: httpx2.Response, held: Held) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    first = body[0] if isinstance(body, list) and body else body
    if isinstance(first, dict) and "error_key" in first:
        key = server_text(first.get("error_key"), held, limit=100)
        return f" ({key}: {server_text(first.get('error_message'), held)})"
    return ""


# -- rendering ----------------------------------------------------------------------------


def render_status(console: Console, report: StatusReport) -> None:
    """Print the report as a two-column table (the status renderer ``demo`` uses too)."""
    from rich.table import Table

    rows: list[tuple[str, str]] = []
    add: Callable[[str, str], None] = lambda name, value: rows.append((name, value))  # noqa: E731
    add("Profile", report.profile)
    add("Provider", escape(provider_label(report.issuer)))
    add("Client", report.client_id)
    tokens = report.tokens
    if tokens is None:
        add("Status", "[red]not logged in[/]")
    else:
        if report.error is None:
            status = "[green]logged in[/]"
        elif report.offline:
            status = "[yellow]logged in, but the provider could not be reached[/]"
        elif report.logged_in:
            status = f"[yellow]logged in, but failing[/] (exit {report.error.exit_code})"
        else:
            status = "[red]the provider refused the grant[/]"
        add("Status", status + (" (refreshed just now)" if report.refreshed_now else ""))
        if report.account is not None:
            account = report.account
            who = " ".join(str(account.get(k, "")) for k in ("first_name", "last_name")).strip()
            add(
                "Account",
                escape(
                    f"{account.get('organization_name', '?')} "
                    f"({account.get('encoded_account_id', '?')})"
                    + (f", {who}" if who else "")
                    + (f" <{account['contact_email']}>" if account.get("contact_email") else "")
                ),
            )
        elif report.account_error is not None:
            add("Account", f"[yellow]unavailable:[/] {escape(report.account_error)}")
        access = tokens.access_token
        if access is not None:
            add("Access token", fingerprint(access.reveal()))
        if tokens.expires_at is not None:
            add(
                "Expires",
                f"{timestamp(tokens.expires_at)} ({countdown(tokens.expires_at, report.now)}); "
                f"{report.state}",
            )
        if report.claims is not None:
            claims = report.claims
            add(
                "Verified claims",
                escape(f"signature ✓, issuer ✓, audience ✓, client ✓; sub {claims.get('subject')}"),
            )
            add("Scopes", escape(" ".join(claims["scopes"]) or "(none)"))
        else:
            add("Scopes", escape(" ".join(sorted(tokens.scopes)) or "(none)"))
            if report.claims_error is not None:
                add("Verified claims", f"[yellow]not verified:[/] {escape(report.claims_error)}")
        if tokens.refresh_token is None:
            add("Refresh token", "[yellow]none[/] (no offline_access)")
        else:
            kind = tokens.refresh_token_type or "type unknown until the first refresh"
            deadline = report.refresh_token_idle_deadline
            idle = (
                f"; dies if unused until {timestamp(deadline)} ({countdown(deadline, report.now)})"
                if deadline is not None
                else ""
            )
            add("Refresh token", escape(f"{kind}{idle}"))
        add("Clock", escape(clock_text(tokens.clock_skew, local=report.local_provider)))
        add("Obtained", timestamp(tokens.obtained_at))
        add("Last refresh", timestamp(tokens.last_refresh_at))
    store = report.store
    encryption = (
        f"encrypted (key from {escape(store.encryption)})"
        if store.encryption is not None
        else "[yellow]NOT encrypted[/]"
    )
    add("Store", f"{escape(store.backend)} {escape(redact_url(store.location))}, {encryption}")
    probe = report.store_probe
    if probe is not None:
        add("Store server", escape(probe.summary()))

    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    for warning in report.warnings:
        console.print(f"[yellow]Warning:[/] {escape(warning)}")
