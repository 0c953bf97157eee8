"""``ctct store``: set up and inspect the token store.

``new-key`` makes a store key (to a 0600 file; printed only with ``--stdout``);
``rekey`` re-encrypts every record under the first configured key.
``init`` / ``upgrade`` create or upgrade a PostgreSQL store's schema (safe when several
replicas run them at once; run them with a role that may create tables). SQLite files
are created on first use and Redis needs no schema, so for those they only check.
Other commands never change a schema: they report "schema missing or old".

``migrate --to URL`` moves every grant to another store and leaves "moved to"
tombstones behind (``ctct.stores.migrate``): a process still using the old store then
fails with exit 19 naming the new one.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from ctct.errors import ConfigError, StoreError

if TYPE_CHECKING:
    from ctct.stores import GrantKey
    from ctct.stores.migrate import MigrationReport

_STORE_OPTION = click.option(
    "--store",
    "store_url",
    envvar="CTCT_STORE",
    help="Store URL (default: $CTCT_STORE, else the local SQLite file).",
)


@click.group()
def store() -> None:
    """Set up and inspect the token store."""


def _schema(store_url: str | None, verb: str) -> None:
    from ctct.stores.urls import redact_url

    url = (store_url or "sqlite://").strip()
    scheme = url.partition("://")[0].lower()
    shown = redact_url(url)
    if scheme in ("postgresql", "postgres"):
        from ctct.stores.postgres import initialize_schema

        before, after = initialize_schema(url)
        if before is None:
            click.echo(f"created the ctct schema (revision {after}) in {shown}")
        elif before < after:
            click.echo(f"upgraded the ctct schema from revision {before} to {after} in {shown}")
        else:
            click.echo(f"the ctct schema in {shown} is up to date (revision {after})")
        return
    if scheme not in ("sqlite", "memory", "redis", "rediss"):
        raise ConfigError(f"cannot {verb} the store {shown}: unknown URL scheme {scheme!r}")
    from ctct.stores import open_store

    with open_store(url) as opened:
        click.echo(f"{opened.describe().backend} store {opened.location()}: nothing to {verb}")


@store.command("init")
@_STORE_OPTION
def init(store_url: str | None) -> None:
    """Create the store's schema (PostgreSQL)."""
    _schema(store_url, "initialize")


@store.command("upgrade")
@_STORE_OPTION
def upgrade(store_url: str | None) -> None:
    """Upgrade the store's schema to this release (PostgreSQL)."""
    _schema(store_url, "upgrade")


@store.command("new-key")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the key to this file, created with mode 0600 (never overwritten).  "
    "[default: store.key in the user config directory, the file ctct reads by itself]",
)
@click.option(
    "--stdout",
    "to_stdout",
    is_flag=True,
    help="Print the key instead of writing a file (it is a secret: mind your terminal "
    "and shell history).",
)
def new_key(out: Path | None, to_stdout: bool) -> None:
    """Make a new random store key (32 bytes, base64url).

    Use it as CTCT_STORE_KEY, or CTCT_STORE_KEY_FILE=FILE. To rotate keys, see
    docs/cli.md (add it as the second key everywhere, make it first, `ctct store
    rekey`, drop the old one). With --stdout, this and `ctct auth token` are the only
    commands that print a secret.
    """
    import sys

    from ctct.stores import default_key_file, generate_key, write_key_file

    if to_stdout:
        if out is not None:
            raise click.UsageError("Choose one: --out FILE or --stdout.")
        sys.stdout.write(generate_key() + "\n")
        sys.stdout.flush()
        return
    path = out if out is not None else default_key_file()
    write_key_file(path)
    click.echo(f"Wrote a new store key to {path} (mode 0600).", err=True)
    if out is not None:
        click.echo(f"Use it with CTCT_STORE_KEY_FILE={path}, or add it to CTCT_STORE_KEY.")
    else:
        click.echo("ctct reads this file when CTCT_STORE_KEY and CTCT_STORE_KEY_FILE are unset.")


@store.command("rekey")
@_STORE_OPTION
def rekey(store_url: str | None) -> None:
    """Re-encrypt every record under the first configured store key.

    Run it once after making the new key the first one on every host
    (CTCT_STORE_KEY=new,old); when it reports, the old key can be dropped.
    """
    from ctct.errors import StoreError
    from ctct.stores import RecordUnreadable, open_store
    from ctct.stores import rekey as rekey_store
    from ctct.stores.urls import redact_url

    with open_store((store_url or "sqlite://").strip()) as opened:
        info = opened.describe()
        if info.encryption is None:
            raise ConfigError(
                "No store key is configured, so there is nothing to encrypt with: set "
                "CTCT_STORE_KEY=new,old (or CTCT_STORE_KEY_FILE), new key first."
            )
        total = len(opened.keys())
        try:
            rewritten = rekey_store(opened)
        except RecordUnreadable as error:
            raise StoreError(
                f"Stopped re-encrypting: {error.message}. Records already re-encrypted stay "
                "so; add the missing key after the first one and run `ctct store rekey` again."
            ) from None
    click.echo(
        f"Re-encrypted {rewritten} of {total} records in {redact_url(info.location)} with the "
        f"first store key ({info.encryption}); the others already used it. No record needs "
        "the older keys now: drop them once every host has the new key first."
    )


@store.command("migrate")
@_STORE_OPTION
@click.option(
    "--to",
    "target_url",
    required=True,
    help="URL of the store to move every grant to (its schema must exist: `ctct store init`).",
)
@click.option("--json", "as_json", is_flag=True, help="Print what was moved as JSON on stdout.")
def migrate(store_url: str | None, target_url: str, as_json: bool) -> None:
    """Move every grant to another store; the old one then redirects (exit 19) to it.

    Each grant is copied under its lease in both stores, with its account state; the
    source keeps a "moved to" tombstone. Safe to run again (already moved grants are
    skipped); a grant the target holds in another form is left alone and reported.
    """
    from ctct.cli import _console
    from ctct.cli.api_common import progress_display
    from ctct.stores import open_store
    from ctct.stores.migrate import migrate as run
    from ctct.stores.urls import redact_url

    source_url = (store_url or "sqlite://").strip()
    shown = redact_url(target_url.strip())
    if _same_store(source_url, target_url):
        raise ConfigError(f"--to {shown} is the store being migrated: name another store")
    with (
        open_store(source_url) as source,
        open_store(target_url) as target,
        progress_display() as update,
    ):
        report = run(
            source,
            target,
            target_shown=shown,
            progress=lambda done, total: update("copying", done, total),
        )
    if as_json:
        _console.print_json(
            {
                "from": redact_url(source_url),
                "to": shown,
                **{name: [k.profile for k in keys] for name, keys in _groups(report).items()},
            }
        )
    else:
        click.echo(
            f"moved {len(report.copied)} grant(s) to {shown}"
            + (f"; {len(report.already_there)} were there already" if report.already_there else "")
            + (f"; {len(report.moved_before)} moved before" if report.moved_before else "")
            + f". {redact_url(source_url)} now redirects to it."
        )
    if report.conflicts:
        names = ", ".join(repr(k.profile) for k in report.conflicts)
        raise StoreError(
            f"{len(report.conflicts)} grant(s) were left in {redact_url(source_url)} because "
            f"{shown} holds another record for them ({names}): check which is current, "
            "remove the other (`ctct auth logout --store ...`), then run this again"
        )


def _groups(report: MigrationReport) -> dict[str, list[GrantKey]]:
    return {
        "copied": report.copied,
        "already_there": report.already_there,
        "moved_before": report.moved_before,
        "conflicts": report.conflicts,
    }


def _same_store(a: str, b: str) -> bool:
    return a.strip().rstrip("/") == b.strip().rstrip("/")
