"""The bodies of ``ctct auth login`` and ``ctct auth import``, over ``ctct.flows.Login``.

What the person must see (the device code and URL with a QR code, the authorization
URL, waiting notices, a difference in granted scopes) goes to stderr, so stdout stays
free for the result (``--json``). Neither command ever prints a token: the refresh
token to import is read from stdin or ``CTCT_REFRESH_TOKEN``, never from an argument.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING, Any

from ctct.cli import _console
from ctct.cli._console import countdown, escape, fingerprint, iso
from ctct.cli.auth_common import http_client, load_settings, token_manager
from ctct.errors import FlowError
from ctct.flows._show import EventPrinter

if TYPE_CHECKING:
    from ctct._tokens import TokenSet
    from ctct.flows import LoginResult

REFRESH_TOKEN_ENV = "CTCT_REFRESH_TOKEN"


def parse_scopes(text: str | None) -> tuple[str, ...] | None:
    """``"a b,c"`` -> ``("a", "b", "c")``; None when not given."""
    if text is None:
        return None
    scopes = tuple(s for s in text.replace(",", " ").split() if s)
    if not scopes:
        raise FlowError("--scopes is empty: name at least one scope, e.g. --scopes contact_data.")
    return scopes


def ask_pasted(prompt: str) -> str:
    """Read what the person pasted (one line from stdin); an empty line asks again (an
    Enter pressed too early), the end of input gives up."""
    sys.stderr.write(prompt + ":\n> ")
    sys.stderr.flush()
    while True:
        line = sys.stdin.readline()
        if not line or line.strip():
            return line.strip()
        sys.stderr.write(
            "Nothing was pasted. Paste the address (or the code), or Ctrl-C to stop:\n> "
        )
        sys.stderr.flush()


def login(
    settings_flags: dict[str, Any],
    *,
    scopes: str | None,
    method: str | None,
    timeout: float | None,
    as_json: bool,
    force: bool = False,
) -> None:
    """Run the chosen (or the detected) flow and report the stored grant."""
    from ctct.flows import DEFAULT_BROWSER_TIMEOUT, Login, choose_flow

    wanted = parse_scopes(scopes)
    settings = load_settings(settings_flags)
    if method is None:
        choice = choose_flow()
        method = choice.flow
        _console.note(
            f"Using the {method} flow ({choice.reason}); --device, --browser or "
            "--no-browser choose another."
        )
    printer = EventPrinter()
    with http_client(settings) as http, token_manager(settings, http) as manager:
        manager.replace_unreadable = _may_replace_unreadable(manager, force)
        printer.clock = manager.clock
        previous = _stored(manager)
        flow = Login(
            manager,
            scopes=wanted if wanted is not None else settings.scopes,
            redirect_uri=settings.login_redirect_uri(),
            on_event=printer,
            http=http,
            leeway=settings.leeway,
        )
        try:
            with flow:
                if method == "device":
                    result = flow.device(timeout=timeout)
                elif method == "browser":
                    result = flow.browser(timeout=timeout or DEFAULT_BROWSER_TIMEOUT)
                else:
                    result = flow.paste(ask_pasted)
        finally:
            printer.close()
        report(result, printer, as_json=as_json, clock=manager.clock, previous=previous)


def _may_replace_unreadable(manager: Any, force: bool) -> bool:
    """Whether the login may replace the profile's stored record although it cannot be
    read: ``--force``, or the person said yes. Asked before the login, not after it."""
    from ctct.stores import RecordUnreadable

    try:
        manager.store.load(manager.key)
    except RecordUnreadable as error:
        if force:
            return True
        if not sys.stdin.isatty():
            error.message = f"{error.message}. Nothing was changed."
            raise
        from ctct.cli._confirm import confirm

        _console.warn(error.message)
        confirm(
            "Replace that record with the grant of this login?",
            yes=False,
            action="Replacing an unreadable record",
            declined="Not replaced: nothing was changed.",
        )
        return True
    return False


def import_grant(settings_flags: dict[str, Any], *, scopes: str | None, as_json: bool) -> None:
    """Store a refresh token from stdin or ``CTCT_REFRESH_TOKEN``, verified by one refresh."""
    from ctct.flows import Login

    parse_scopes(scopes)  # validated; the refresh tells the real scopes
    token, source = read_refresh_token()
    settings = load_settings(settings_flags)
    printer = EventPrinter()
    with http_client(settings) as http, token_manager(settings, http) as manager:
        previous = _stored(manager)
        flow = Login(manager, on_event=printer, http=http, leeway=settings.leeway)
        with flow:
            result = flow.import_tokens(token)
        _console.note(f"Read the refresh token from {source}.")
        report(result, printer, as_json=as_json, clock=manager.clock, previous=previous)


def read_refresh_token() -> tuple[str, str]:
    """The token and where it came from: piped stdin first, else the environment, else
    a prompt on the terminal (not echoed)."""
    stdin = sys.stdin
    interactive = stdin is not None and stdin.isatty()
    if not interactive and stdin is not None:
        text = stdin.read().strip()
        if text:
            return _single_token(text), "standard input"
    value = os.environ.get(REFRESH_TOKEN_ENV, "").strip()
    if value:
        return _single_token(value), REFRESH_TOKEN_ENV
    if interactive:
        import getpass

        text = getpass.getpass("Refresh token (input hidden): ", stream=sys.stderr).strip()
        if text:
            return _single_token(text), "the terminal"
    raise FlowError(
        "No refresh token to import: pipe it on standard input (e.g. `ctct auth import < "
        f"token.txt`) or set {REFRESH_TOKEN_ENV}. It is never taken as an argument, which "
        "other users could read in the process list.",
        code="empty_token",
    )


def _single_token(text: str) -> str:
    if len(text.split()) != 1:
        raise FlowError(
            "The refresh token to import has spaces or several lines: provide exactly one "
            "token (CC's refresh tokens are one opaque string).",
            code="bad_token",
        )
    return text


def _stored(manager: Any) -> TokenSet | None:
    """The profile's grant before the login (None if none, or unreadable: the login
    then replaces it, and says nothing of what it could not read)."""
    from ctct.errors import CtctError

    try:
        tokens: TokenSet | None = manager.tokens()
    except CtctError:
        return None
    return tokens


def replaced_grant(previous: TokenSet | None, result: LoginResult) -> dict[str, Any] | None:
    """What became of the profile's earlier grant: None when there was none or the login
    kept it (the same refresh token, or another login's grant reused)."""
    if previous is None or result.reused:
        return None
    old, new = previous.refresh_token, result.tokens.refresh_token
    if old is not None and new is not None and old.reveal() == new.reveal():
        return None
    return {"subject": previous.subject, "revoked": False}


def _say_replaced(profile: str, replaced: dict[str, Any]) -> None:
    who = f" ({replaced['subject']})" if replaced.get("subject") else ""
    _console.note(
        f"Profile {profile!r} had a grant before{who}: it was replaced here but not "
        "revoked, so it may stay valid at the provider until it expires unused "
        "(Constant Contact: 180 days). To end it too, run `ctct auth logout` first."
    )


def report(
    result: LoginResult,
    printer: EventPrinter,
    *,
    as_json: bool,
    clock: Any = time.time,
    previous: TokenSet | None = None,
) -> None:
    """Say what was stored (fingerprints only), what became of the grant it replaced,
    and any difference in scopes."""
    tokens = result.tokens
    difference = result.scope_difference
    if difference is not None and not printer.scopes_warned:
        _console.warn(difference.message)
    replaced = replaced_grant(previous, result)
    if replaced is not None:
        _say_replaced(result.profile, replaced)
    if as_json:
        _console.print_json(
            {
                "profile": result.profile,
                "flow": result.flow,
                "reused": result.reused,
                "subject": result.subject,
                "requested_scopes": sorted(result.requested_scopes),
                "granted_scopes": sorted(result.granted_scopes),
                "scopes_differ": difference is not None,
                "expires_at": iso(tokens.expires_at),
                "refresh_token": tokens.refresh_token is not None,
                "replaced_grant": replaced,
            }
        )
        return
    console = _console.out()
    how = {
        "device": "device flow",
        "browser": "browser",
        "paste": "pasted redirect",
        "import": "imported refresh token",
        "web": "web callback",
    }.get(result.flow, result.flow)
    who = f" as {escape(result.subject)}" if result.subject else ""
    verb = "Reused the grant another login just stored" if result.reused else "Logged in"
    console.print(f"[green]{verb}[/]{who} (profile {escape(result.profile)}, {how}).")
    console.print(f"Granted scopes: {escape(' '.join(sorted(result.granted_scopes)) or '(none)')}")
    access = tokens.access_token
    if access is not None and tokens.expires_at is not None:
        console.print(
            f"Access token {fingerprint(access.reveal())} expires "
            f"{countdown(tokens.expires_at, clock())}; ctct refreshes it when due."
        )
    if tokens.refresh_token is None:
        _console.warn(
            "no refresh token was issued (offline_access not granted): this grant ends "
            "when its access token expires"
        )
