"""The ``ctct`` command line.

Commands live in their own modules and import what they need inside their functions,
so ``ctct --help`` stays fast. Any ``CtctError`` that escapes a command becomes one
clear message on stderr and that error's exit code (see ``ctct.errors``).
"""

from __future__ import annotations

import sys

import click

from ctct import __version__
from ctct.cli.demo import demo
from ctct.cli.emulator_cmd import emulator
from ctct.errors import CtctError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ctct")
def cli() -> None:
    """Connect to the Constant Contact V3 API once and stay connected."""


cli.add_command(emulator)
cli.add_command(demo)


def main() -> None:
    try:
        cli(standalone_mode=True)
    except CtctError as exc:
        click.echo(f"Error: {exc.message}", err=True)
        sys.exit(exc.exit_code)
