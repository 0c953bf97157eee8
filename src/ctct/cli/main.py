"""The ``ctct`` command line.

Commands live in their own modules and are imported only when used (``_COMMANDS``), so
``ctct --help`` and the hot commands stay fast. Any ``CtctError`` that escapes a command
becomes one clear message on stderr and that error's exit code (see ``ctct.errors``).
"""

from __future__ import annotations

import importlib
import sys

import click

from ctct import __version__

# command name -> "module:attribute" of its click command or group
_COMMANDS: dict[str, str] = {
    "api": "ctct.cli.api_cmd:api",
    "auth": "ctct.cli.auth_cmd:auth",
    "broker": "ctct.cli.broker_cmd:broker",
    "completion": "ctct.cli.completion_cmd:completion",
    "config": "ctct.cli.config_cmd:config",
    "contacts": "ctct.cli.contacts_cmd:contacts",
    "demo": "ctct.cli.demo:demo",
    "doctor": "ctct.cli.doctor_cmd:doctor",
    "emulator": "ctct.cli.emulator_cmd:emulator",
    "keeper": "ctct.cli.keeper_cmd:keeper",
    "lists": "ctct.cli.lists_cmd:lists",
    "store": "ctct.cli.store_cmd:store",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module, _, attribute = target.partition(":")
        command: click.Command = getattr(importlib.import_module(module), attribute)
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.exceptions.NoSuchCommand as exc:
            # click suggests from the commands it holds; ours are loaded lazily.
            raise click.exceptions.NoSuchCommand(
                exc.command_name, possibilities=self.list_commands(ctx), ctx=ctx
            ) from None


def _remember_profile(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    # Read by ``with_settings`` (ctct.cli.auth_common): the profile of every command.
    if value is not None:
        ctx.meta[PROFILE_META] = value


PROFILE_META = "ctct.profile"


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(
    __version__, "-V", "--version", prog_name="ctct", message="%(prog)s %(version)s"
)
@click.option(
    "--profile",
    "-p",
    metavar="NAME",
    expose_value=False,
    callback=_remember_profile,
    help="Which connected account (profile) the command uses; the same as the "
    "command's own --profile.  [env: CTCT_PROFILE]",
)
def cli() -> None:
    """Connect to the Constant Contact V3 API once and stay connected."""


def main() -> None:
    """The console script: run the CLI and exit with the code the outcome deserves.

    Expected failures (``CtctError``) print one ``Error:`` line and exit with their
    class's code; usage errors exit 2, Ctrl-C 130, anything else 1 without a traceback
    unless ``--debug`` is given (see ``ctct.cli._errors``).
    """
    from ctct.cli._errors import run

    run(cli, sys.argv[1:])
