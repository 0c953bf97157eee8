"""Asking before a destructive command acts, the same way everywhere.

``--yes``/``-y`` skips the question. Without a terminal on standard input there is
no one to ask, so the command refuses (a usage error, exit 2) and names ``--yes``
instead of waiting on a pipe or guessing. Answering no, or ending the input (Ctrl-D),
is an answer, not an interrupt: the command says what it did not do and exits
``EXIT_DECLINED``; Ctrl-C stays an interrupt (130).
"""

from __future__ import annotations

import sys

import click

from ctct.cli._errors import Declined, safe

_YES = frozenset({"y", "yes"})
_NO = frozenset({"", "n", "no"})


def confirm(question: str, *, yes: bool, action: str, declined: str) -> None:
    """Return when the person agrees (or ``yes``); raise ``Declined(declined)`` when
    they do not. ``action`` names what needs ``--yes`` off a terminal ("Deleting a
    list")."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise click.UsageError(
            f"{action} asks for confirmation, and there is no terminal to ask on: add "
            "--yes (-y) to go ahead."
        )
    while True:
        sys.stderr.write(f"{safe(question)} [y/N]: ")
        sys.stderr.flush()
        line = sys.stdin.readline()
        if not line:  # end of input: no answer is no
            sys.stderr.write("\n")
            raise Declined(declined)
        answer = line.strip().lower()
        if answer in _YES:
            return
        if answer in _NO:
            raise Declined(declined)
        sys.stderr.write("Answer y or n.\n")
