"""The plan as a picture: planned refreshes per time bin against the keeper's capacity.

An inline SVG (no script, no external asset, so the page's strict CSP allows it): one
bar per bin, red where a bin holds more refreshes than the keeper's share of the token
endpoint can make in it, and a dashed line at that capacity. Pure: returns a string.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from html import escape

WIDTH, HEIGHT, PAD = 720, 180, 28


def bins(times: Iterable[float], *, start: float, span: float, count: int) -> list[int]:
    """Count ``times`` in ``count`` equal bins over ``[start, start + span)``; earlier
    times (overdue work) fall in the first bin, later ones are left out."""
    result = [0] * count
    width = span / count
    for t in times:
        index = 0 if t < start else int((t - start) // width)
        if index < count:
            result[index] += 1
    return result


def plan_svg(counts: list[int], capacity_per_bin: float, *, title: str, span_hours: float) -> str:
    peak = max([*counts, math.ceil(capacity_per_bin), 1])
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD
    bar_w = inner_w / max(1, len(counts))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{escape(title)}" class="plan">',
        f"<title>{escape(title)}</title>",
    ]
    for i, count in enumerate(counts):
        h = inner_h * count / peak
        x = PAD + i * bar_w
        y = PAD + inner_h - h
        fill = "#c0392b" if count > capacity_per_bin else "#2e86c1"
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(bar_w - 1, 0.5):.1f}" '
            f'height="{h:.1f}" fill="{fill}"><title>{count} planned</title></rect>'
        )
    cap_y = PAD + inner_h - inner_h * capacity_per_bin / peak
    parts.append(
        f'<line x1="{PAD}" x2="{WIDTH - PAD}" y1="{cap_y:.1f}" y2="{cap_y:.1f}" '
        'stroke="#555" stroke-dasharray="4 3"/>'
    )
    parts.append(
        f'<text x="{WIDTH - PAD}" y="{max(cap_y - 4, 10):.1f}" text-anchor="end" '
        f'font-size="11">capacity {capacity_per_bin:,.0f} per bin</text>'
    )
    parts.append(
        f'<text x="{PAD}" y="{HEIGHT - 8}" font-size="11">now</text>'
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - 8}" font-size="11" text-anchor="end">'
        f"+{span_hours:g} h</text>"
    )
    parts.append("</svg>")
    return "".join(parts)
