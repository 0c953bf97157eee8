"""How the ``ctct`` command line fails: one clear message, one exit code, no traceback.

Every expected failure is a ``ctct.errors.CtctError``; its class carries the exit code
(the table is in ``ctct.errors`` and in docs/cli.md). The command line adds:

    0    success
    1    any other ctct error, or an unexpected failure (a bug: rerun with --debug)
    2    usage error (unknown flag, missing argument, --client-secret refused, a
         confirmation with no terminal to ask on and no --yes)
    17   declined: the person answered no to a confirmation (nothing was done)
    18   ``ctct auth keep-alive``: some profile needs a new login
    130  interrupted (Ctrl-C)

With ``--json``, a failure is also one JSON document on stdout (unless the command
already printed its own): ``{"error": {"code": ..., "message": ..., "exit_code": ...}}``,
so a script reading stdout always gets a document.

``--debug`` (anywhere on the command line) or ``CTCT_DEBUG=1`` adds the traceback and
ctct's debug log on stderr; neither contains a token or secret, because ctct's
messages and log lines never do. As a last line of defence, everything this module
writes to stderr has JWT-shaped runs masked and control characters escaped
(``ctct._redact``), so server text quoted in a message cannot drive the terminal.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

import click

from ctct.errors import CtctError

if TYPE_CHECKING:
    import logging

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_DECLINED = 17
EXIT_INTERRUPTED = 130

SECRET_FLAG_REFUSAL = (
    "--client-secret is not accepted on the command line: arguments are visible to every "
    "user of this machine (ps, /proc) and are kept in shell history. Set CTCT_CLIENT_SECRET, "
    "or CTCT_CLIENT_SECRET_FILE / client_secret_file in the config file (a file only you can "
    "read), or store it in the system keyring (service 'ctct', user 'client-secret')."
)


class Declined(Exception):
    """The person answered no to a confirmation (``ctct.cli._confirm``): not an error
    and not an interrupt. ``message`` says what was not done ("Not deleted.")."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def debug_requested(argv: Sequence[str]) -> tuple[bool, list[str]]:
    """Whether ``--debug`` or ``CTCT_DEBUG`` asks for details, and ``argv`` without it.

    ``--debug`` is taken out wherever it appears (before a ``--``), so it works after
    any subcommand without each one declaring it.
    """
    args = list(argv)
    stop = args.index("--") if "--" in args else len(args)
    found = "--debug" in args[:stop]
    kept = [a for a in args[:stop] if a != "--debug"] + args[stop:]
    env = os.environ.get("CTCT_DEBUG", "").strip().lower() not in {"", "0", "no", "false", "off"}
    return found or env, kept


def enable_debug_logging() -> None:
    """ctct's loggers at DEBUG on stderr (they never log tokens or secrets)."""
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_safe_formatter("debug: %(name)s: %(message)s"))
    logger = logging.getLogger("ctct")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)


def show_library_warnings() -> None:
    """ctct's own warnings as ``Warning: ...`` lines on stderr (instead of Python's bare
    last-resort output); they never contain tokens or secrets."""
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(_safe_formatter("Warning: %(message)s"))
    logging.getLogger("ctct").addHandler(handler)


def _safe_formatter(fmt: str) -> logging.Formatter:
    import logging

    class SafeFormatter(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            return safe(super().format(record))

    return SafeFormatter(fmt)


def safe(text: str) -> str:
    """``text`` fit for the terminal: JWT-shaped runs masked, control characters
    escaped (newlines kept)."""
    from ctct._redact import NOTHING, printable  # not on ``ctct --help``'s path

    text = NOTHING.mask(text)
    text = printable(text, lines=True)
    return text  # noqa: RET504 - one step a line, each named by a safety test


def run(command: click.Command, argv: Sequence[str], *, prog_name: str = "ctct") -> NoReturn:
    """Run ``command`` with ``argv`` and exit with the code the failure deserves."""
    debug, args = debug_requested(argv)
    if debug:
        enable_debug_logging()
    elif any(not arg.startswith("-") for arg in args):
        # A command will run (not just --help or --version, which log nothing and
        # should not pay for importing logging).
        show_library_warnings()
    failure: list[tuple[str, str]] = []
    code = _invoke(command, args, prog_name, debug, failure)
    if failure and wants_json(args):
        _print_json_error(failure[0], code)
    sys.stdout.flush()
    sys.exit(code)


def wants_json(args: Sequence[str]) -> bool:
    """Whether the command line asks for JSON output (``--json`` before any ``--``)."""
    stop = list(args).index("--") if "--" in args else len(args)
    return "--json" in args[:stop]


def _invoke(
    command: click.Command,
    args: list[str],
    prog_name: str,
    debug: bool,
    failure: list[tuple[str, str]],
) -> int:
    """Run the command; on failure, put ``(code, message)`` into ``failure``."""
    try:
        result = command.main(args=args, prog_name=prog_name, standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        # A bare group (``ctct``, ``ctct auth``) asks for its help: on stdout, exit 0.
        click.echo(exc.ctx.get_help())
        return EXIT_OK
    except click.ClickException as exc:
        exc.show()
        kind = "usage" if isinstance(exc, click.UsageError) else "error"
        failure.append((kind, exc.format_message()))
        return exc.exit_code
    except Declined as exc:
        _echo_error(exc.message)
        failure.append(("declined", exc.message))
        return EXIT_DECLINED
    except (click.Abort, KeyboardInterrupt):
        # click turns Ctrl-C (and EOF at a prompt) into Abort
        _echo_error("Interrupted.")
        failure.append(("interrupted", "Interrupted."))
        return EXIT_INTERRUPTED
    except CtctError as exc:
        failure.append((exc.code or _snake(type(exc).__name__), exc.message))
        return report(exc, debug=debug)
    except BrokenPipeError:
        # The reader went away (``ctct auth token | head -c1``): not worth a message.
        _silence_stdout()
        return EXIT_ERROR
    except Exception as exc:
        failure.append(("unexpected", "An unexpected failure (a bug in ctct)."))
        return report_unexpected(exc, debug=debug)
    return result if isinstance(result, int) else EXIT_OK


def _snake(name: str) -> str:
    """``ConfigError`` -> ``config_error``: a code for errors the provider gave none."""
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def _print_json_error(failure: tuple[str, str], exit_code: int) -> None:
    from ctct.cli import _console

    if _console.json_printed:
        return
    code, message = failure
    with contextlib.suppress(OSError, ValueError):
        _console.print_json(
            {"error": {"code": code, "message": safe(message), "exit_code": exit_code}}
        )


def report(exc: CtctError, *, debug: bool = False) -> int:
    """Print ``exc`` as one ``Error:`` line (its traceback too with ``debug``)."""
    if debug:
        _print_traceback(exc)
    _echo_error(f"Error: {exc.message}")
    return exc.exit_code


def report_unexpected(exc: BaseException, *, debug: bool = False) -> int:
    """A failure ctct did not foresee: a bug. Its message and type are not shown (it
    could come from any library and carry anything; a class name tells a person
    nothing); the way to learn more is."""
    if debug:
        _print_traceback(exc)
        _echo_error("Error: an unexpected failure (a bug in ctct; please report it).")
    else:
        _echo_error(
            "Error: an unexpected failure (a bug in ctct). Rerun with --debug for the "
            "traceback, and please report it."
        )
    return EXIT_ERROR


def refuse_secret(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """Callback of the hidden ``--client-secret`` option: refuse any use of it."""
    if value is not None:
        raise click.UsageError(SECRET_FLAG_REFUSAL, ctx=ctx)


def secret_flag_refused() -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A hidden ``--client-secret`` option whose only job is to explain why it is refused."""
    return click.option(
        "--client-secret",
        hidden=True,
        is_flag=False,
        flag_value="(given without a value)",  # so a bare --client-secret is refused too
        expose_value=False,
        is_eager=True,
        callback=refuse_secret,
        metavar="SECRET",
        help="Refused: see CTCT_CLIENT_SECRET.",
    )


def _print_traceback(exc: BaseException) -> None:
    import traceback

    with contextlib.suppress(OSError):
        sys.stderr.write(safe("".join(traceback.format_exception(exc))))
        sys.stderr.flush()


def _echo_error(text: str) -> None:
    with contextlib.suppress(OSError):  # stderr closed: nothing more to say
        click.echo(safe(text), err=True)


def _silence_stdout() -> None:
    # Python would complain about the broken pipe again while flushing at exit.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
