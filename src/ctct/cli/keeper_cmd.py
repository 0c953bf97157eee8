"""``ctct keeper``: keep every connected account alive, and say which need a person.

Declarations only (cheap for ``--help``); bodies live in ``keeper_run`` and
``keeper_admin``, imported when a command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ctct.cli._types import Seconds

_CONFIG = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="CTCT_KEEPER_CONFIG",
    help="The keeper's TOML file ([[apps]], policies, webhooks).  [env: CTCT_KEEPER_CONFIG]",
)
_STORE = click.option(
    "--store",
    metavar="URL",
    help="The shared token store.  [env: CTCT_STORE; or store= in --config]",
)
_PROFILE = click.argument("profile")
_CLIENT = click.option("--client-id", metavar="ID", help="When PROFILE has grants of several apps.")


@click.group("keeper")
def keeper() -> None:
    """A service that refreshes every connected account at the token endpoint's limit."""


@keeper.command("run")
@_CONFIG
@_STORE
@click.option("--ops-listen", metavar="HOST:PORT", help="/livez, /readyz and /metrics (no auth).")
@click.option("--ui-listen", metavar="HOST:PORT", help="The status page (operator login).")
@click.option(
    "--ui-socket",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The status page on a unix socket (no login: the socket's mode is the boundary).",
)
@click.option(
    "--no-auth", is_flag=True, help="No operator login on the status page (trusted networks only)."
)
@click.option(
    "--operator-secret-file",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="CTCT_KEEPER_OPERATOR_SECRET_FILE",
    help="The operator's password hash (`ctct keeper hash-password`) or token.  "
    "[env: CTCT_KEEPER_OPERATOR_SECRET_FILE]",
)
@click.option(
    "--ui-secret-file",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="CTCT_KEEPER_UI_SECRET_FILE",
    help="Signs sessions and CSRF tokens; the same file on every replica "
    "(`ctct keeper new-ui-secret FILE`).  [env: CTCT_KEEPER_UI_SECRET_FILE]",
)
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    metavar="HOST",
    help="A Host the status page answers to (repeatable; the listen address is added).",
)
@click.option(
    "--public-url",
    metavar="URL",
    help="The status page's URL as browsers reach it (for the login callback).",
)
@click.option(
    "--broker-socket",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also serve the token broker on this unix socket (see `ctct broker run`).",
)
@click.option(
    "--broker-listen",
    metavar="HOST:PORT",
    help="Also serve the broker on TCP (needs --broker-key-file).",
)
@click.option("--broker-key-file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--broker-policy", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--sink",
    "sinks",
    multiple=True,
    metavar="PROFILE=FILE",
    help="Also keep FILE holding a valid access token of PROFILE (repeatable).",
)
@click.option(
    "--sink-format", type=click.Choice(["token", "json", "header", "env"]), default="token"
)
@click.option("--sink-mode", default="0600", show_default=True, metavar="MODE")
@click.option("--sink-group", metavar="GROUP", help="Group of the sink files.")
@click.option(
    "--worker-name",
    metavar="NAME",
    help="This replica's name in logs and claims.  [default: host:pid:random]",
)
def run(**options: Any) -> None:
    """Run the keeper until interrupted (SIGTERM or Ctrl-C stops it cleanly).

    Several replicas may run against one store (PostgreSQL or Redis: on any hosts); they
    share the work with no leader.
    """
    from ctct.cli.keeper_run import run_keeper

    run_keeper(**options)


@keeper.command("status")
@_CONFIG
@_STORE
@click.option(
    "--state",
    "states",
    multiple=True,
    metavar="STATE",
    help="Only accounts in this state (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
def status(**options: Any) -> None:
    """Every account's state, read from the store (no running keeper needed)."""
    from ctct.cli.keeper_admin import show_status

    show_status(**options)


@keeper.command("plan")
@_CONFIG
@_STORE
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
def plan(**options: Any) -> None:
    """What will be refreshed when, and whether it fits the token endpoint's limit."""
    from ctct.cli.keeper_admin import show_plan

    show_plan(**options)


@keeper.command("pause")
@_CONFIG
@_STORE
@_PROFILE
@_CLIENT
def pause(**options: Any) -> None:
    """Stop refreshing PROFILE (workers still may)."""
    from ctct.cli.keeper_admin import act

    act("pause", **options)


@keeper.command("resume")
@_CONFIG
@_STORE
@_PROFILE
@_CLIENT
def resume(**options: Any) -> None:
    """Refresh PROFILE again (planned at once)."""
    from ctct.cli.keeper_admin import act

    act("resume", **options)


@keeper.command("disconnect")
@_CONFIG
@_STORE
@_PROFILE
@_CLIENT
@click.option("--force", is_flag=True, help="Forget the grant even if the provider cannot be told.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def disconnect(**options: Any) -> None:
    """Revoke PROFILE's grant at the provider, then forget it."""
    from ctct.cli.keeper_admin import act

    act("disconnect", **options)


@keeper.command("reconnect-link")
@_CONFIG
@_STORE
@_PROFILE
@_CLIENT
@click.option(
    "--ttl",
    type=Seconds(60, 30 * 86_400),
    default=72 * 3_600.0,
    show_default=True,
    metavar="SECONDS",
    help="How long the link works (it works once).",
)
@click.option(
    "--public-url",
    metavar="URL",
    required=True,
    envvar="CTCT_KEEPER_PUBLIC_URL",
    help="The status page's public URL.  [env: CTCT_KEEPER_PUBLIC_URL]",
)
def reconnect_link(**options: Any) -> None:
    """A single-use, expiring link the account's owner opens to connect PROFILE again.

    The link is printed on stdout; it lets whoever opens it reconnect that account (the
    same Constant Contact account only), so send it to its owner privately.
    """
    from ctct.cli.keeper_admin import reconnect_link as make

    make(**options)


@keeper.command("hash-password")
def hash_password() -> None:
    """Read an operator password (prompt or stdin) and print its hash for a secret file."""
    from ctct.cli.keeper_admin import hash_password as run_hash

    run_hash()


@keeper.command("new-ui-secret")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def new_ui_secret(path: Path) -> None:
    """Write a new session/CSRF signing secret to PATH (mode 0600)."""
    from ctct.cli.keeper_admin import new_secret_file

    new_secret_file(path, "ui")


@keeper.command("new-webhook-secret")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def new_webhook_secret(path: Path) -> None:
    """Write a new webhook signing secret (whsec_...) to PATH (mode 0600)."""
    from ctct.cli.keeper_admin import new_secret_file

    new_secret_file(path, "webhook")
