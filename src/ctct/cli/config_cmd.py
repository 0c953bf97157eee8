"""``ctct config``: the effective settings and where each came from.

Precedence (``ctct._settings.Settings.load``): flags, then the environment
(``CTCT_*``), then the TOML config file (``[profiles.NAME]``, then its top level), then
defaults. Secrets are shown as ``**********``, never their value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from ctct.cli._errors import secret_flag_refused
from ctct.cli.auth_common import settings_options, with_settings

if TYPE_CHECKING:
    from ctct.cli.effective import Effective


@click.group("config")
@secret_flag_refused()
def config() -> None:
    """Show the effective configuration and where the config file is."""


@config.command("show")
@settings_options
@click.option("--json", "as_json", is_flag=True, help="Print the settings as JSON on stdout.")
@with_settings
def show(settings_flags: dict[str, Any], as_json: bool) -> None:
    """Print every setting (secrets redacted), its source, and what is in effect.

    A setting that cannot be used (an unreadable secret file, a bad value) is one
    error line; the rest is still shown, and the command then exits 3.
    """
    from ctct.cli import _console
    from ctct.cli.effective import effective_settings, problem_json

    found = effective_settings(settings_flags)
    settings = found.settings
    values = settings.redacted()
    sources = dict(settings.sources)
    config_path = settings.config_path
    exists = config_path is not None and config_path.exists()
    if as_json:
        _console.print_json(
            {
                "settings": values,
                "sources": {k: sources.get(k, "default") for k in values},
                "effective": found.values,
                "effective_sources": found.sources,
                "problems": [problem_json(p) for p in found.problems],
                "config_file": str(config_path) if config_path else None,
                "config_file_exists": exists,
            }
        )
    else:
        _print_tables(found, values, sources)
    if found.problems:
        raise click.exceptions.Exit(found.problems[0].exit_code)


def _print_tables(found: Effective, values: dict[str, Any], sources: dict[str, str]) -> None:
    from rich.table import Table

    from ctct.cli import _console
    from ctct.cli._console import escape

    console = _console.out()
    config_path = found.settings.config_path
    exists = config_path is not None and config_path.exists()
    state = "" if exists else " [dim](does not exist)[/]"
    console.print(f"Config file: {escape(str(config_path))}{state}")
    for title, shown, where in (
        ("setting", values, sources),
        ("in effect", found.values, found.sources),
    ):
        table = Table(show_edge=False, pad_edge=False, box=None)
        table.add_column(title, style="bold", no_wrap=True)
        table.add_column("value")
        table.add_column("from", style="dim")
        for name, value in shown.items():
            if name == "config_path":
                continue
            text = _shown(value)
            table.add_row(name, escape(text), escape(where.get(name, "default")))
        console.print(table)
    if found.settings.client_secret is None and not found.problems:
        console.print(
            "[dim]No client secret: fine for a public app (device flow, PKCE); a confidential "
            "app needs CTCT_CLIENT_SECRET, client_secret_file, or the keyring.[/]"
        )
    for problem in found.problems:
        _console.err().print(f"[red]Error:[/] {escape(problem.message)}")


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


def _shown(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "on" if value else "off"
    return " ".join(value) if isinstance(value, list) else str(value)
