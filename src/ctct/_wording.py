"""How ctct words numbers in its messages, one rule each, so every command reads alike:
a count with its noun (``1 contact``, ``2 contacts``, ``12,500 contacts``) and a
duration (``2 min 5 s``, ``23 h 59 min``, ``1 d 1 h``). Timestamps in JSON are ISO 8601
in UTC (``ctct.cli._console.iso``)."""

from __future__ import annotations

import math

_UNITS = ((86_400, "d"), (3_600, "h"), (60, "min"), (1, "s"))


def plural(count: int, noun: str, plural_noun: str | None = None) -> str:
    """``1 contact``, ``0 contacts``, ``12,500 contacts`` (``plural_noun`` when adding
    an s is wrong)."""
    word = noun if count == 1 else (plural_noun or noun + "s")
    return f"{count:,} {word}"


def duration(seconds: float) -> str:
    """The two largest units of d, h, min and s, zero parts left out: ``2 min 5 s``,
    ``2 min``, ``23 h 59 min``, ``1 d 1 h``. Whole seconds, rounded down (a countdown
    never promises more time than is left); under a second, one decimal (``0.1 s``).
    The sign is dropped: the caller says "ago" or "ahead"."""
    left = abs(seconds)
    if not math.isfinite(left):
        return "forever"
    if left < 1:
        tenths = round(left, 1)
        return f"{tenths:g} s" if tenths else "0 s"
    whole = int(left)
    parts: list[tuple[int, str]] = []
    for size, unit in _UNITS:
        amount, whole = divmod(whole, size)
        if amount or parts:
            parts.append((amount, unit))
    return " ".join(f"{n} {unit}" for n, unit in parts[:2] if n)
