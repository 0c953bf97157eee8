"""Shared output helpers for the ``ctct`` commands: consoles, times, fingerprints.

Human output goes to stdout through rich; warnings and errors go to stderr. Nothing
here prints a token: a credential is shown only as its ``fingerprint`` (length and a
SHA-256 prefix), which identifies it without revealing it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ctct._wording import duration as duration  # re-exported for the commands
from ctct._wording import plural as plural

if TYPE_CHECKING:
    from rich.console import Console

_out: Console | None = None
_err: Console | None = None


def out() -> Console:
    """The console for results (stdout)."""
    global _out
    if _out is None:
        from rich.console import Console

        _out = Console(highlight=False, soft_wrap=True, width=_width())
    return _out


def _width() -> int | None:
    # Piped output (tests, logs) would otherwise wrap tables at 80 columns.
    if sys.stdout.isatty() or os.environ.get("COLUMNS"):
        return None
    return 160


def err() -> Console:
    """The console for warnings and progress (stderr)."""
    global _err
    if _err is None:
        from rich.console import Console

        _err = Console(stderr=True, highlight=False, soft_wrap=True)
    return _err


def warn(text: str) -> None:
    """One warning line on stderr."""
    err().print(f"[yellow]Warning:[/] {escape(text)}")


def note(text: str) -> None:
    """One progress line on stderr (keeps stdout for results)."""
    err().print(escape(text))


def escape(text: str) -> str:
    """``text`` with rich markup neutralized (URLs and messages contain ``[``) and
    control characters escaped: text from a server must never drive the terminal."""
    from rich.markup import escape as rich_escape

    from ctct._redact import printable

    text = printable(text, lines=True)
    return rich_escape(text)


json_printed = False
"""Whether this process printed its JSON document (then a failure adds none)."""


def print_json(data: Mapping[str, Any] | list[Any]) -> None:
    """Machine-readable output: one JSON document on stdout, no markup."""
    global json_printed
    json_printed = True
    json_text(json.dumps(data, indent=2, sort_keys=True, default=str))


def json_text(text: str) -> None:
    """A JSON document's text on stdout: colourised on a terminal (rich's JSON
    highlighting), byte for byte when piped or with ``NO_COLOR`` set."""
    if not sys.stdout.isatty() or os.environ.get("NO_COLOR"):
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()
        return
    from rich.highlighter import JSONHighlighter
    from rich.text import Text

    shown = Text(text.rstrip("\n"))
    JSONHighlighter().highlight(shown)
    out().print(shown)


def table(
    columns: Sequence[str], rows: Iterable[Sequence[str]], *, no_wrap: Collection[str] = ()
) -> None:
    """Rows on stdout. On a terminal: aligned under a header. Piped or redirected, as
    gh prints them for scripts: one line per row, cells separated by a tab, no header,
    padding or colour; a cell's own tabs, newlines and control characters are escaped
    (``\\x09``), so a row stays one line of as many fields as there are columns."""
    if not sys.stdout.isatty():
        from ctct._redact import printable

        lines = ("\t".join(printable(cell) for cell in row) + "\n" for row in rows)
        sys.stdout.write("".join(lines))
        sys.stdout.flush()
        return
    from rich.table import Table

    grid = Table(box=None, pad_edge=False, show_edge=False)
    for column in columns:
        grid.add_column(column, no_wrap=column in no_wrap)
    for row in rows:
        grid.add_row(*(escape(cell) for cell in row))
    out().print(grid)


def fingerprint(value: str) -> str:
    """Identify a credential without revealing it: length and a short SHA-256 prefix."""
    digest = hashlib.sha256(value.encode("utf-8")).hexdigest()[:8]
    head = "eyJ" if value.startswith("eyJ") else ""  # every JWT starts so: reveals nothing
    return f"{head}…({len(value)} chars, sha256 {digest}…)"


def countdown(at: float, now: float | None = None) -> str:
    """``in 23 h 59 min`` or ``5 min 2 s ago`` for the epoch time ``at``."""
    delta = at - (time.time() if now is None else now)
    if delta >= 0:
        return f"in {duration(delta)}"
    return f"{duration(delta)} ago"


def timestamp(at: float | None) -> str:
    """Local date and time of an epoch time, or ``never``."""
    if at is None:
        return "never"
    return time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(at))


def iso(at: float | None) -> str | None:
    """UTC ISO-8601 for JSON output."""
    if at is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


def provider_label(storage_issuer: str) -> str:
    """A readable name for a grant's issuer key (``Constant Contact via URL``)."""
    from ctct import _cc

    return _cc.provider_label(storage_issuer)
