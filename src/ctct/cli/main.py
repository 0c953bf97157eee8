"""The ``ctct`` command line."""

from __future__ import annotations

import click

from ctct import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ctct")
def cli() -> None:
    """Connect to the Constant Contact V3 API once and stay connected."""


def main() -> None:
    cli()
