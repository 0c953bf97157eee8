"""Content negotiation for the V3 API: does the request's ``Accept`` header allow a media
type the operation produces? (RFC 9110 12.5.1; CC answers 406 when it does not.)

Pure logic. A missing or empty ``Accept`` accepts anything; ``q=0`` excludes a range; a
more specific range decides over a wider one (``application/json;q=0, */*`` refuses
JSON). Parameters other than ``q`` (e.g. ``charset``) are ignored.
"""

from __future__ import annotations

from collections.abc import Iterable


def _ranges(header: str) -> list[tuple[str, str, float]]:
    """``(type, subtype, q)`` for each media range; malformed ranges are skipped."""
    ranges: list[tuple[str, str, float]] = []
    for item in header.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        kind, slash, sub = media.lower().partition("/")
        if not slash or not kind or not sub:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0  # an unreadable weight cannot be taken as consent
        ranges.append((kind, sub, q))
    return ranges


def _weight(ranges: list[tuple[str, str, float]], media_type: str) -> float:
    kind, _, sub = media_type.lower().partition("/")
    best: tuple[int, float] | None = None  # (specificity, q)
    for r_kind, r_sub, q in ranges:
        if (r_kind, r_sub) == (kind, sub):
            specificity = 2
        elif r_kind == kind and r_sub == "*":
            specificity = 1
        elif (r_kind, r_sub) == ("*", "*"):
            specificity = 0
        else:
            continue
        if best is None or specificity > best[0]:
            best = (specificity, q)
    return 0.0 if best is None else best[1]


def acceptable(header: str | None, produces: Iterable[str]) -> bool:
    """True when ``header`` allows at least one of ``produces``."""
    if header is None or not header.strip():
        return True
    ranges = _ranges(header)
    if not ranges:
        return True  # nothing readable: treat as absent, as servers commonly do
    return any(_weight(ranges, media) > 0 for media in produces)
