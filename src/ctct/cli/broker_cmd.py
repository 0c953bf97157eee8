"""``ctct broker``: serve access tokens to programs in other languages.

Declarations only (cheap for ``--help``); the broker itself is imported when run.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ctct.cli.auth_common import settings_options, with_settings


def _mode(value: str) -> int:
    try:
        mode = int(value, 8)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an octal mode such as 0600") from None
    if mode & ~0o777:
        raise click.BadParameter(f"{value!r} is not a file mode")
    return mode


@click.group("broker")
def broker() -> None:
    """A local token endpoint for programs in any language (unix socket or loopback)."""


@broker.command("run")
@settings_options
@click.option(
    "--socket",
    "socket_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Listen on this unix socket; callers are known by their uid.",
)
@click.option("--listen", metavar="HOST:PORT", help="Listen on TCP (needs --key-file).")
@click.option(
    "--key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Bearer keys of TCP callers ('NAME KEY' lines, mode 0600).",
)
@click.option(
    "--policy",
    "policy_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Which callers may read which profiles (TOML [[allow]] rules).  "
    "[default: only this user, every profile]",
)
@click.option(
    "--socket-mode",
    metavar="MODE",
    help="The socket file's mode.  [default: 0600; 0666 with --policy]",
)
@click.option("--tls-cert", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--tls-key", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--sink",
    "sinks",
    multiple=True,
    metavar="[PROFILE=]FILE",
    help="Also keep FILE holding a valid access token of PROFILE (repeatable).",
)
@click.option(
    "--sink-format",
    type=click.Choice(["token", "json", "header", "env"]),
    default="token",
    show_default=True,
)
@click.option("--sink-mode", default="0600", show_default=True, metavar="MODE")
@click.option("--sink-group", metavar="GROUP", help="Group of the sink files (e.g. www-data).")
@with_settings
def run(settings_flags: dict[str, Any], **options: Any) -> None:
    """Serve GET /v1/token?profile=NAME&min_valid=SECONDS until interrupted.

    Every request must carry the header 'Ctct-Broker: 1'. The answer is JSON with
    access_token, token_type, expires_at, expires_in, scopes and profile (never a
    refresh token); see docs/broker.md.
    """
    from ctct.cli.broker_run import run_broker

    run_broker(settings_flags, **options)


@broker.command("new-key")
@click.argument("name")
@click.option(
    "--key-file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The broker's key file (created with mode 0600).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the key alone to this file (mode 0600) for the caller.",
)
@click.option(
    "--stdout",
    "to_stdout",
    is_flag=True,
    help="Print the key (it is a secret: mind your terminal).",
)
def new_key(name: str, key_file: Path, out: Path | None, to_stdout: bool) -> None:
    """Add a key named NAME for a TCP caller."""
    from ctct.broker.keys import append_key
    from ctct.broker.sink import SinkSpec, write_atomically

    if out is None and not to_stdout:
        raise click.UsageError("Say where the caller's copy goes: --out FILE or --stdout.")
    key = append_key(key_file, name)
    if out is not None:
        write_atomically(SinkSpec(out.resolve()), key + "\n")
        click.echo(f"Added key {name!r} to {key_file}; the caller's copy is in {out}.", err=True)
    if to_stdout:
        sys.stdout.write(key + "\n")
