"""``ctct auth``: log in once, then keep the grant usable.

This module only declares the commands (cheap to import for ``--help``); each body
lives in ``auth_login``, ``auth_status`` or ``auth_manage`` and is imported when run.
Every command takes the settings flags (``--profile``, ``--config``, ``--client-id``,
``--base-url``, ``--issuer``, ``--store``); the client secret is never a flag.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ctct.cli._errors import secret_flag_refused
from ctct.cli._types import Seconds
from ctct.cli.auth_common import settings_options, with_settings


@click.group("auth")
@secret_flag_refused()
def auth() -> None:
    """Authorize once (login/import), then inspect, refresh, print or revoke the grant."""


@auth.command("login")
@settings_options
@click.option(
    "--scopes",
    "--scope",
    "scopes",
    metavar="SCOPES",
    help="Scopes to ask for, space- or comma-separated (offline_access is always added).  "
    "[default: the configured scopes, else account_read account_update contact_data "
    "campaign_data]",
)
@click.option(
    "--device", "method", flag_value="device", help="Use the device flow (code + URL + QR code)."
)
@click.option(
    "--browser",
    "method",
    flag_value="browser",
    help="Open a browser; the answer comes back to a loopback port.",
)
@click.option(
    "--no-browser",
    "method",
    flag_value="paste",
    help="Print the URL; paste back the URL the browser was redirected to (or the code).",
)
@click.option(
    "--timeout",
    type=Seconds(1),
    metavar="SECONDS",
    help="Give up after this long.  [default: until the device code expires; 300 for "
    "--browser/--no-browser]",
)
@click.option(
    "--force",
    is_flag=True,
    help="Replace this profile's stored record even if it cannot be read (a lost store "
    "key, an altered record) without asking.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
@with_settings
def login(settings_flags: dict[str, Any], **options: Any) -> None:
    """Log in to a Constant Contact account and store the grant for this profile.

    Picks the flow by itself: the device flow when no browser can be opened here (no
    display, an SSH session, a container), else the browser with a loopback callback.
    Two logins for one profile do not fight: the second waits for the first.
    """
    from ctct.cli.auth_login import login as run_login

    run_login(settings_flags, **options)


@auth.command("import")
@settings_options
@click.option(
    "--scopes",
    "--scope",
    "scopes",
    metavar="SCOPES",
    help="The scopes the refresh token was granted, if the provider does not say.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
@with_settings
def import_(settings_flags: dict[str, Any], **options: Any) -> None:
    """Store a refresh token you already have, after checking it with one refresh.

    The token is read from stdin (pipe it, or type it: input is not echoed), or from
    CTCT_REFRESH_TOKEN when stdin is a terminal and the variable is set; never from an
    argument, which other users could read in the process list.
    """
    from ctct.cli.auth_login import import_grant

    import_grant(settings_flags, **options)


@auth.command("status")
@settings_options
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON on stdout.")
@with_settings
def status(settings_flags: dict[str, Any], as_json: bool) -> None:
    """Show the grant: account, verified claims, expiry, refresh token, store.

    Exits 0 when the profile holds a usable grant, else with the failure's code
    (4: log in again, 12: network, ...).
    """
    from ctct.cli import _console
    from ctct.cli.auth_common import http_client, load_settings, token_manager
    from ctct.cli.auth_status import collect_status, render_status

    settings = load_settings(settings_flags)
    with http_client(settings) as http, token_manager(settings, http) as manager:
        report = collect_status(manager, http, timeout=settings.timeout, leeway=settings.leeway)
    if as_json:
        _console.print_json(report.as_json())
    else:
        render_status(_console.out(), report)
    if report.error is not None:
        raise report.error


@auth.command("token")
@settings_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["token", "json", "header", "env"]),
    default="token",
    show_default=True,
    help="token: the bare token; json: the broker's document (with expires_at); header: "
    "'Authorization: Bearer ...' (for curl -H @FILE); env: CTCT_ACCESS_TOKEN=... lines.",
)
@click.option(
    "--min-valid",
    type=Seconds(0),
    default=0,
    metavar="SECONDS",
    help="Refresh first if the token would expire within this many seconds.",
)
@click.option(
    "--sink",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Instead of printing, keep FILE holding a valid token (rewritten atomically "
    "before each expiry) until interrupted.",
)
@click.option("--sink-mode", default="0600", show_default=True, metavar="MODE")
@click.option("--sink-group", metavar="GROUP", help="Group of the sink file (e.g. www-data).")
@with_settings
def token(settings_flags: dict[str, Any], **options: Any) -> None:
    """Print a valid access token on stdout (refreshed if due), for scripts.

    This and `ctct store new-key --stdout` are the only commands that print a secret.
    Example:
    curl -H "Authorization: Bearer $(ctct auth token)" https://api.cc.email/v3/account/summary
    """
    from ctct.cli.auth_manage import print_token

    print_token(settings_flags, **options)


@auth.command("refresh")
@settings_options
@click.option("--force", is_flag=True, help="Refresh even if the access token is still fresh.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
@with_settings
def refresh(settings_flags: dict[str, Any], force: bool, as_json: bool) -> None:
    """Refresh the access token if it is due (or now, with --force)."""
    from ctct.cli.auth_manage import refresh as run_refresh

    run_refresh(settings_flags, force=force, as_json=as_json)


@auth.command("keep-alive")
@settings_options
@click.option(
    "--margin",
    "margin_days",
    type=Seconds(0, 180),
    default=30.0,
    show_default=True,
    metavar="DAYS",
    help="Refresh a refresh token this many days before it would die unused.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@with_settings
def keep_alive(settings_flags: dict[str, Any], margin_days: float, as_json: bool) -> int:
    """Keep every profile's refresh token from dying unused (CC: after 180 days); for cron.

    Refreshes each profile of this provider and client whose refresh token is within
    --margin of that deadline, and no other, paced on the token endpoint's shared rate
    limit. Exits 18 when some profile needs a new login, 11 when a refresh failed for
    now (the next run retries), else 0.
    """
    from ctct.cli.auth_keepalive import keep_alive as run_keep_alive

    return run_keep_alive(settings_flags, margin_days=margin_days, as_json=as_json)


@auth.command("logout")
@settings_options
@click.option(
    "--local",
    is_flag=True,
    help="Forget the tokens even if the server cannot be told (network or server failure).",
)
@click.option(
    "--force",
    is_flag=True,
    help="With --local: also remove a record that cannot be read (a lost store key, an "
    "altered record); other profiles are not touched.",
)
@with_settings
def logout(settings_flags: dict[str, Any], local: bool, force: bool) -> None:
    """Revoke the grant at the server, then delete it from the store.

    If the server cannot be reached or fails, the tokens are kept (exit 12 or 11)
    unless --local asks to forget them anyway. A record that cannot be read is
    removed only with --local --force.
    """
    from ctct.cli.auth_manage import logout as run_logout

    if force and not local:
        raise click.UsageError("--force goes with --local: `ctct auth logout --local --force`.")
    run_logout(settings_flags, local=local, force=force)


@auth.command("list")
@settings_options
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON on stdout.")
@with_settings
def list_(settings_flags: dict[str, Any], as_json: bool) -> None:
    """List the profiles (connected accounts) in the store, with their state."""
    from ctct.cli.auth_manage import list_profiles

    list_profiles(settings_flags, as_json=as_json)
