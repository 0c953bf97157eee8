"""The ``ctct`` command line.

Commands live in their own modules and are imported only when used (``_COMMANDS``), so
``ctct --help`` and the hot commands stay fast. Any ``CtctError`` that escapes a command
becomes one clear message on stderr and that error's exit code (see ``ctct.errors``).

To add a top-level command:

1. write it in its own module, ``ctct/cli/NAME_cmd.py``, as a click command or group,
   importing at module level only click and what its options need (the work's imports
   go inside the function body: rich, httpx2, the API client, the stores);
2. register it in ``_COMMANDS`` below (``"name": "ctct.cli.name_cmd:attribute"``);
3. give its one-line help in ``_SHORT_HELP`` (the text ``ctct --help`` lists), so
   ``--help`` need not import the module. tests/cli/test_startup.py checks that
   ``ctct --help`` imports no command module and that each line matches the
   command's own help.

Subcommands of a group (``ctct auth login``) are declared in the group's module, with
their bodies in other modules imported when run (see ``ctct.cli.auth_cmd``).
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


# command name -> its one-line help for ``ctct --help``: the command's own short help,
# ``command.get_short_help_str(limit=10_000)`` (its docstring's first sentence)
_SHORT_HELP: dict[str, str] = {
    "api": "Send a request to the Constant Contact V3 API and print the response.",
    "auth": "Authorize once (login/import), then inspect, refresh, print or revoke the grant.",
    "broker": "A local token endpoint for programs in any language (unix socket or loopback).",
    "config": "Show the effective configuration and where the config file is.",
    "contacts": "Import and export contacts.",
    "demo": "Walk the whole journey against a local Constant Contact emulator.",
    "doctor": "Check settings, connectivity, clock, store, keyring and the grant's scopes.",
    "emulator": "Run a local Constant Contact (OAuth2 server + V3 API) until Ctrl-C.",
    "keeper": "A service that refreshes every connected account at the token endpoint's limit.",
    "lists": "Work with contact lists.",
    "store": "Set up and inspect the token store.",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_COMMANDS})

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's command list, from ``_SHORT_HELP``: listing must not import every
        command (one missing there is imported for its help, as click would)."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            text = _SHORT_HELP.get(name)
            if text is None:
                command = self.get_command(ctx, name)
                if command is None or command.hidden:
                    continue
                text = command.get_short_help_str(limit=10_000)
            # click's own truncation, through its public API
            rows.append((name, click.Command(name, help=text).get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

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
