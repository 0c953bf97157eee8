"""``ctct store``: set up and inspect the token store.

``init`` / ``upgrade`` create or upgrade a PostgreSQL store's schema (safe when several
replicas run them at once; run them with a role that may create tables). SQLite files
are created on first use and Redis needs no schema, so for those they only check.
Other commands never change a schema: they report "schema missing or old".
"""

from __future__ import annotations

import click

from ctct.errors import ConfigError

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
