"""What ``ctct api``, ``ctct contacts`` and ``ctct lists`` share: a ``Client`` built
from the settings flags, the per-key limits (``CTCT_API_RATE``/``CTCT_API_DAILY_QUOTA``
for partner keys), a progress display for long work, and list lookup by name or id."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ctct.api.errors import InputError
from ctct.cli import _console
from ctct.cli.auth_common import load_settings

if TYPE_CHECKING:
    from rich.progress import Progress

    from ctct.api import Client

_LABELS = {"upload": "Uploading", "processing": "Processing"}
_UUID = re.compile(r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")


@contextmanager
def api_client(settings_flags: dict[str, Any]) -> Iterator[Client]:
    """A ``Client`` for the configured profile, closed afterwards."""
    from ctct._manager import TokenManager
    from ctct.api import Client

    manager = TokenManager.from_settings(load_settings(settings_flags))
    try:
        with Client(manager) as client:  # CTCT_API_RATE / CTCT_API_DAILY_QUOTA apply
            yield client
    finally:
        manager.close()


def is_uuid(text: str) -> bool:
    return bool(_UUID.match(text))


def find_list(client: Client, name_or_id: str, *, advice: str | None = None) -> dict[str, Any]:
    """A contact list by id, else by exact name; ``InputError`` when there is none,
    naming the closest list name (if one is close) and ``advice`` (what to do)."""
    from ctct.api import NotFound

    if is_uuid(name_or_id):
        try:
            return {**client.lists.get(name_or_id)}
        except NotFound:
            pass
    found, close = find_list_by_name(client, name_or_id)
    if found is None:
        guess = f" (did you mean {close!r}?)" if close else ""
        advice = advice or (
            f"see `ctct lists list`, or create it with `ctct lists create {quote(name_or_id)}`"
        )
        raise InputError(f"No contact list named {name_or_id!r}{guess}: {advice}.")
    return {**found}


def find_list_by_name(client: Client, name: str) -> tuple[dict[str, Any] | None, str | None]:
    """The list named exactly ``name`` (None if there is none) and, when there is none,
    the closest list name (None if no name is close). One pass over the lists."""
    import difflib

    names: dict[str, str] = {}
    for item in client.lists.iter():
        if item.get("name") == name:
            return {**item}, None
        names.setdefault(str(item.get("name", "")).casefold(), str(item.get("name", "")))
    # Compared case-blind: 'regulars' for 'Regulars' is the likeliest slip.
    close = difflib.get_close_matches(name.casefold(), list(names), n=1, cutoff=0.6)
    return None, names[close[0]] if close else None


def quote(text: str) -> str:
    return f"'{text}'" if re.search(r"\s", text) else text


@contextmanager
def progress_display() -> Iterator[Callable[[str, int, int], None]]:
    """An ``on_progress(phase, done, total)`` callback: a rich progress bar on a
    terminal (stderr), one line per phase otherwise."""
    console = _console.err()
    if not console.is_terminal:
        shown: dict[str, int] = {}

        def plain(phase: str, done: int, total: int) -> None:
            # Off a terminal: one line per phase and per quarter done, not a redraw.
            quarter = 4 * done // total if total > 0 else 0
            if shown.get(phase, -1) < quarter:
                shown[phase] = quarter
                amount = f"{done:,}/{total:,}" if total > 0 else f"{done:,}"
                _console.note(f"{_LABELS.get(phase, phase.capitalize())}: {amount}")

        yield plain
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress: Progress = Progress(
        TextColumn("{task.description:<11}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    tasks: dict[str, Any] = {}

    def update(phase: str, done: int, total: int) -> None:
        if phase not in tasks:
            label = _LABELS.get(phase, phase.capitalize())
            tasks[phase] = progress.add_task(label, total=total if total > 0 else None)
        progress.update(tasks[phase], completed=done, total=total if total > 0 else None)

    with progress:
        yield update
