"""``ctct config``: the effective settings and where each came from.

Precedence (``ctct._settings.Settings.load``): flags, then the environment
(``CTCT_*``), then the TOML config file (``[profiles.NAME]``, then its top level), then
defaults. Secrets are shown as ``**********``, never their value.
"""

from __future__ import annotations

from typing import Any

import click

from ctct.cli._errors import secret_flag_refused
from ctct.cli.auth_common import settings_options, with_settings


@click.group("config")
@secret_flag_refused()
def config() -> None:
    """Show the effective configuration and where the config file is."""


@config.command("show")
@settings_options
@click.option("--json", "as_json", is_flag=True, help="Print the settings as JSON on stdout.")
@with_settings
def show(settings_flags: dict[str, Any], as_json: bool) -> None:
    """Print every setting (secrets redacted) and its source."""
    from ctct.cli import _console
    from ctct.cli.auth_common import load_settings

    settings = load_settings(settings_flags)
    values = settings.redacted()
    sources = dict(settings.sources)
    config_path = settings.config_path
    exists = config_path is not None and config_path.exists()
    if as_json:
        _console.print_json(
            {
                "settings": values,
                "sources": {k: sources.get(k, "default") for k in values},
                "config_file": str(config_path) if config_path else None,
                "config_file_exists": exists,
            }
        )
        return
    from rich.table import Table

    from ctct.cli._console import escape

    console = _console.out()
    state = "" if exists else " [dim](does not exist)[/]"
    console.print(f"Config file: {escape(str(config_path))}{state}")
    table = Table(show_edge=False, pad_edge=False, box=None)
    table.add_column("setting", style="bold", no_wrap=True)
    table.add_column("value")
    table.add_column("from", style="dim")
    for name, value in values.items():
        if name == "config_path":
            continue
        shown = "-" if value is None else " ".join(value) if isinstance(value, list) else value
        table.add_row(name, escape(str(shown)), escape(sources.get(name, "default")))
    console.print(table)
    if settings.client_secret is None:
        console.print(
            "[dim]No client secret: fine for a public app (device flow, PKCE); a confidential "
            "app needs CTCT_CLIENT_SECRET, client_secret_file, or the keyring.[/]"
        )


@config.command("path")
@settings_options
@with_settings
def path(settings_flags: dict[str, Any]) -> None:
    """Print the path of the config file in use (it may not exist yet)."""
    import os
    from pathlib import Path

    from ctct._settings import default_config_path

    explicit = settings_flags.get("config") or os.environ.get("CTCT_CONFIG")
    click.echo(str(Path(explicit) if explicit else default_config_path()))
