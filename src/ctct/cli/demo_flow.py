"""The walk behind ``ctct demo``: the whole journey against a local emulator, with the
same pieces an application uses - ``ctct.flows.Login`` (device flow), ``TokenManager``,
the status renderer of ``ctct auth status``, the V3 ``Client`` - not hand-made HTTP.

Steps: start the emulator; log in by device flow (the emulator's control API approves,
standing in for the person on their phone); show the status; call the API; let the
access token expire and watch the next call refresh it; log out (revoke, forget).

Time is virtual: the walk's clock is real time plus an offset that it advances in step
with the emulator's (through its control API), so the device flow's polling interval
and a 24-hour token lifetime pass in no time. Tokens and secrets are never printed,
only fingerprints such as ``eyJ…(1043 chars, sha256 3f2a9c1e…)``.

An emulator given with ``--emulator-url`` may be shared, and an emulator's clock only
moves forward: a day's jump would leave every later token it issues expired to the
other users' clocks. So against it the walk never moves the clock: it polls at once
(``Provider.local_pacing``), approves at once (or lets an ``--auto-approve`` emulator do
it), waits for real where a wait is due, and forces the refresh instead of waiting for
the expiry.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from ctct._describe import describe_error
from ctct._wording import duration, plural
from ctct.cli._console import countdown, escape, fingerprint
from ctct.errors import CtctError, TransientProviderError

if TYPE_CHECKING:
    import httpx2

    from ctct._manager import TokenManager
    from ctct.flows import LoginEvent
    from ctct.testing import EmulatorHandle

SCOPES = ("account_read", "contact_data")
APPROVER = "alice@example.com"


class DemoFailed(CtctError):
    """A step of the demo did not get the answer it expected."""


class DemoClock:
    """Real time plus an offset, advanced together with the emulator's clock (``shared``:
    never advanced, waits are real)."""

    def __init__(self, emulator: EmulatorHandle, *, shared: bool = False) -> None:
        self.emulator = emulator
        self.shared = shared
        self.offset = float(emulator.clock().get("offset", 0.0))
        self.advanced = 0.0
        self.on_sleep: list[Any] = []

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        if seconds <= 0:
            return
        if self.shared:
            time.sleep(seconds)  # another user's tokens must not expire under them
            return
        self.emulator.advance_clock(seconds)
        self.offset += seconds
        self.advanced += seconds

    def sleep(self, seconds: float) -> None:
        """What the library's waits call: advance time instead of sleeping."""
        self.advance(seconds)
        for hook in list(self.on_sleep):
            hook(seconds)


class Walk:
    """Numbered steps on one console."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.steps = 0
        self.title = ""

    def step(self, title: str, why: str) -> None:
        self.steps += 1
        self.title = title
        self.console.print()
        self.console.rule(f"[bold]Step {self.steps}. {escape(title)}", align="left")
        self.console.print(escape(why), style="dim")

    def say(self, text: str) -> None:
        self.console.print(f"   {text}")

    def fail(self, text: str) -> DemoFailed:
        return DemoFailed(f"step {self.steps} ({self.title}): {text}")


@contextmanager
def _emulator(url: str | None, console: Console) -> Iterator[EmulatorHandle]:
    from ctct.testing import EmulatorHandle, start_emulator

    if url is not None:
        handle = EmulatorHandle(url.rstrip("/"))
        try:
            handle.config()
        except Exception as exc:  # connection refused, not an emulator, ...
            handle.close()
            raise DemoFailed(
                f"no emulator answers at {url.rstrip('/')} ({describe_error(exc)}): start one "
                "with `ctct emulator`, or run `ctct demo` without --emulator-url."
            ) from None
        with handle:
            yield handle
        return
    with start_emulator() as handle:
        yield handle


def run_demo(emulator_url: str | None = None, console: Console | None = None) -> None:
    """Walk the whole journey; raises ``DemoFailed`` (exit 1) at the first surprise."""
    console = console or Console(highlight=False)
    if not console.is_terminal:
        console.width = max(console.width, 120)
    started = time.monotonic()
    walk = Walk(console)
    with (
        _emulator(emulator_url, console) as emulator,
        tempfile.TemporaryDirectory(prefix="ctct-demo-") as folder,
    ):
        _journey(walk, emulator, Path(folder), shared=emulator_url is not None)
    console.print()
    console.rule("[bold green]Demo complete")
    console.print(
        f"{walk.steps} steps in {time.monotonic() - started:.1f} s. No token or secret was "
        "printed: only fingerprints."
    )
    console.print(
        "Next: `ctct emulator` in one terminal, then `ctct auth login` in another with the "
        "exports it prints (see docs/cli.md)."
    )


def _journey(walk: Walk, emulator: EmulatorHandle, folder: Path, *, shared: bool) -> None:
    import httpx2

    from ctct._manager import TokenManager
    from ctct._oauth_requests import ClientCredentials
    from ctct._provider import Provider
    from ctct._secret import Secret
    from ctct.stores import generate_key, open_store, static_keys

    walk.step(
        "Start a local Constant Contact",
        "An emulator of CC's authorization server and V3 API, on a loopback port.",
    )
    clock = DemoClock(emulator, shared=shared)
    secret = emulator.client_secret
    walk.say(f"emulator   {emulator.base_url}")
    walk.say(f"app        client id {emulator.client_id}")
    walk.say("secret     " + ("********** (a test value; never shown)" if secret else "none"))
    store_url = f"sqlite://{folder}/tokens.db"
    walk.say(f"store      {folder}/tokens.db, encrypted with a throw-away key")

    provider = Provider.constant_contact(emulator.base_url)
    if shared:
        provider = provider.local_pacing()  # poll at once: no interval to wait out
    client = ClientCredentials(emulator.client_id, Secret(secret) if secret else None)
    store = open_store(
        store_url,
        key_provider=static_keys(generate_key(), source="a throw-away demo key"),
        clock=clock,
    )
    with (
        httpx2.Client(timeout=10.0) as http,
        TokenManager(
            provider=provider,
            client=client,
            store=store,
            http=http,
            clock=clock,
            sleep=clock.sleep,
            owns_store=True,
        ) as manager,
    ):
        if shared:
            _login_shared(walk, emulator, manager, http)
        else:
            _login(walk, emulator, manager, clock, http)
        _status(walk, manager, http)
        _call_api(walk, manager, clock)
        if shared:
            _force_refresh(walk, emulator, manager, clock)
        else:
            _expire_and_refresh(walk, emulator, manager, clock)
        _logout(walk, manager, http)


def _login(
    walk: Walk, emulator: EmulatorHandle, manager: TokenManager, clock: DemoClock, http: Any
) -> None:
    from ctct.flows import Login

    walk.step(
        "Log in with the device flow",
        "ctct asks for a device code; the person opens the URL on any device and approves. "
        "Here the emulator's control API approves for them, on the second poll.",
    )
    code: list[str] = []
    polls: list[float] = []
    on_event = _login_events(walk, code, clock)

    def on_wait(seconds: float) -> None:
        polls.append(seconds)
        walk.console.print(
            f"   ⏩ waited {duration(seconds)} for the next poll "
            "(the clock was advanced, not slept)",
            style="cyan",
        )
        if len(polls) == 2 and code:
            emulator.approve_device(code[0], APPROVER)
            walk.say(f"✓ {APPROVER} approved the code on the verification page")

    clock.on_sleep.append(on_wait)
    try:
        with Login(
            manager, scopes=SCOPES, on_event=on_event, http=http, sleep=clock.sleep
        ) as login:
            result = login.device()
    finally:
        clock.on_sleep.remove(on_wait)
    if len(polls) < 2:
        raise walk.fail("the login finished before the approval: the emulator auto-approves?")
    walk.say("the first poll was answered authorization_pending; the second brought the tokens")
    _logged_in(walk, result)


def _login_events(walk: Walk, code: list[str], clock: Any) -> Any:
    """The login's events as the walk shows them; the user code is appended to ``code``."""
    from ctct.flows import DeviceCodeIssued, PollingSlowedDown, ScopesDiffer

    def on_event(event: LoginEvent) -> None:
        if isinstance(event, DeviceCodeIssued):
            code.append(event.user_code)
            expires = countdown(event.expires_at, clock())
            walk.say(
                f"open [bold]{escape(event.verification_uri)}[/] and enter "
                f"[bold]{escape(event.user_code)}[/] (expires {expires})"
            )
        elif isinstance(event, PollingSlowedDown):
            walk.say(f"the server asked to poll less often: every {duration(event.interval)}")
        elif isinstance(event, ScopesDiffer):
            walk.say(escape(event.message))

    return on_event


def _login_shared(walk: Walk, emulator: EmulatorHandle, manager: TokenManager, http: Any) -> None:
    """The login against an emulator that may be shared: approved at once, polled at once."""
    from ctct.flows import DeviceCodeIssued, Login

    auto = bool(emulator.config(cached=True).get("switches", {}).get("auto_approve"))
    walk.step(
        "Log in with the device flow",
        "ctct asks for a device code; the person opens the URL on any device and approves. "
        + (
            "This emulator approves every code by itself (--auto-approve)."
            if auto
            else "Here the emulator's control API approves for them, at once."
        )
        + " Against an emulator ctct polls at once instead of waiting out the interval.",
    )
    code: list[str] = []
    shown = _login_events(walk, code, manager.clock)

    def on_event(event: LoginEvent) -> None:
        shown(event)
        if isinstance(event, DeviceCodeIssued) and not auto:
            emulator.approve_device(event.user_code, APPROVER)
            walk.say(f"✓ {APPROVER} approved the code on the verification page")

    with Login(manager, scopes=SCOPES, on_event=on_event, http=http) as login:
        result = login.device()
    walk.say("the first poll brought the tokens")
    _logged_in(walk, result)


def _logged_in(walk: Walk, result: Any) -> None:
    tokens = result.tokens
    walk.say(f"✓ logged in as {escape(result.subject or '?')}; stored before first use")
    walk.say(f"access token   {_fp(tokens.access_token)}")
    walk.say(f"refresh token  {_fp(tokens.refresh_token)}")
    walk.say(
        f"scopes         {' '.join(sorted(result.granted_scopes))} (offline_access is always "
        "requested: without it there is no refresh token)"
    )


def _status(walk: Walk, manager: TokenManager, http: httpx2.Client) -> None:
    from ctct.cli.auth_status import collect_status, render_status

    walk.step(
        "Status",
        "What `ctct auth status` shows: the account, the verified token, the refresh token, "
        "the store.",
    )
    report = collect_status(manager, http, timeout=10.0, leeway=60.0)
    if report.error is not None:
        raise walk.fail(report.error.message)
    render_status(walk.console, report)


def _call_api(walk: Walk, manager: TokenManager, clock: DemoClock) -> None:
    from ctct.api import Client

    walk.step(
        "Call the V3 API",
        "ctct's API client takes its bearer token from the manager and respects CC's "
        "4 requests/s per app.",
    )
    with Client(manager, clock=clock, sleep=clock.sleep) as api:
        summary = api.account.summary()
        walk.say(
            f"GET /v3/account/summary → {escape(str(summary.get('organization_name')))} "
            f"({escape(str(summary.get('encoded_account_id')))})"
        )
        contact = api.contacts.create(
            {
                "email_address": {"address": "demo@example.com", "permission_to_send": "implicit"},
                "first_name": "Demo",
                "create_source": "Account",
            }
        )
        walk.say(f"POST /v3/contacts → contact {escape(str(contact.get('contact_id')))}")
        walk.say(f"GET /v3/contacts → {plural(api.contacts.count(), 'contact')} in the account")


def _expire_and_refresh(
    walk: Walk, emulator: EmulatorHandle, manager: TokenManager, clock: DemoClock
) -> None:

    walk.step(
        "The access token expires",
        "CC's access tokens live 24 hours. Jump a day ahead: the next API call finds the "
        "token expired, refreshes it once (under a lock shared by every process), stores "
        "the new pair, then makes the call.",
    )
    before = manager.tokens()
    if before is None or before.expires_at is None:
        raise walk.fail("no stored token with an expiry")
    refreshes = _refresh_count(emulator)
    clock.advance(before.expires_at - clock() + 1)
    walk.console.print("   ⏩ advanced the clocks 24 h", style="cyan")
    walk.say(f"the stored access token expired {countdown(before.expires_at, clock())}")
    _after_refresh(walk, emulator, manager, clock, before, refreshes)


def _force_refresh(
    walk: Walk, emulator: EmulatorHandle, manager: TokenManager, clock: DemoClock
) -> None:
    walk.step(
        "The access token is refreshed",
        "CC's access tokens live 24 hours. This emulator may be shared and its clock only "
        "moves forward, so the demo does not jump it a day ahead (every later token would "
        "look expired to the others using it). It forces the refresh instead, as "
        "`ctct auth refresh --force` does: once, under a lock shared by every process, the "
        "new pair stored before use; then the API call uses the new token.",
    )
    before = manager.tokens()
    if before is None:
        raise walk.fail("no stored token")
    refreshes = _refresh_count(emulator)
    try:
        manager.refresh(force=True)
    except TransientProviderError as error:
        # The login's last poll spent the token endpoint's 1 request/s a moment ago (a
        # 429 is refused unread: the refresh token was not used). Wait as asked, once.
        if not error.rate_limited:
            raise
        time.sleep(min(5.0, error.retry_after or 1.0))
        manager.refresh(force=True)
    _after_refresh(walk, emulator, manager, clock, before, refreshes)


def _after_refresh(
    walk: Walk,
    emulator: EmulatorHandle,
    manager: TokenManager,
    clock: DemoClock,
    before: Any,
    refreshes: int,
) -> None:
    from ctct.api import Client

    with Client(manager, clock=clock, sleep=clock.sleep) as api:
        summary = api.account.summary()
    after = manager.tokens()
    if after is None or after.access_token == before.access_token:
        raise walk.fail("the access token was not refreshed")
    walk.say(
        f"GET /v3/account/summary → {escape(str(summary.get('organization_name')))}, after "
        f"{_refresh_count(emulator) - refreshes} refresh"
    )
    walk.say(f"access token   {_fp(before.access_token)} → {_fp(after.access_token)}")
    if after.refresh_token != before.refresh_token:
        walk.say(
            f"refresh token  {_fp(before.refresh_token)} → {_fp(after.refresh_token)} "
            "(rotated: the old one is dead)"
        )
    else:
        walk.say("refresh token  unchanged (a long-lived refresh token)")
    if after.expires_at is not None:
        walk.say(f"the new access token expires {countdown(after.expires_at, clock())}")


def _refresh_count(emulator: EmulatorHandle) -> int:
    counts = emulator.counters()["token_requests"].get("refresh_token", {})
    return int(counts.get("success", counts.get("ok", 0)))


def _logout(walk: Walk, manager: TokenManager, http: httpx2.Client) -> None:
    from ctct.cli.auth_manage import revoke

    walk.step(
        "Log out",
        "What `ctct auth logout` does: revoke the grant at the server, and only then "
        "delete it from the store.",
    )
    tokens = manager.tokens()
    if tokens is None or tokens.access_token is None:
        raise walk.fail("nothing stored to log out")
    failure = revoke(manager, http, tokens, 10.0)
    if failure is not None:
        raise walk.fail(f"the server did not revoke the grant: {failure.message}")
    manager.forget()
    walk.say("✓ revoked at the server; deleted from the store")
    provider = manager.provider
    response = http.get(
        f"{provider.api_base_url}/account/summary",
        headers={"Authorization": f"Bearer {tokens.access_token.reveal()}"},
    )
    walk.say(
        f"the last access token now gets HTTP {response.status_code} from the API"
        + (" (revoked with its grant)" if response.status_code == 401 else "")
    )
    if manager.tokens() is not None:
        raise walk.fail("the grant is still in the store")


def _fp(secret: Any) -> str:
    return "-" if secret is None else fingerprint(secret.reveal())
