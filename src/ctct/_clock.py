"""The provider's clock as seen from here: one measured offset for every time comparison.

A machine whose clock is off is common (VMs without NTP, containers). ctct never trusts
the local clock against a provider's timestamps directly: the *offset* (provider clock
minus local clock) is measured from the ``Date`` header of the provider's own token
responses (``ctct._tokens.compute_expiry``), stored with the grant
(``TokenSet.clock_skew``, so a fresh process uses it too), and applied both to expiry
maths and to JWT verification (``iat``/``nbf``/``exp``, ``ctct._jwt``).

The offset is *bounded*: a ``Date`` that is hours off is not a clock to correct for but
a clock that is badly wrong (or a forged header, which could otherwise make an expired
token look valid). Beyond ``MAX_CLOCK_OFFSET`` only the bound is applied, and messages
say the clock must be fixed. There is deliberately no setting that moves ctct's clock:
such a switch would be a way to accept expired tokens (tests move the clock of a whole
test process with a ``sitecustomize`` shim that lives only in the tests).
"""

from __future__ import annotations

import math
from typing import Final

from ctct._wording import duration as duration  # the one rule, re-exported

MAX_CLOCK_OFFSET: Final = 900.0
"""How far (seconds, either way) ctct corrects for a clock that disagrees with the
provider's: 15 minutes covers a VM without NTP; more means a clock to fix."""


def usable_offset(offset: float) -> float:
    """``offset`` within ``±MAX_CLOCK_OFFSET`` (a non-finite value counts as 0)."""
    if not math.isfinite(offset):
        return 0.0
    if abs(offset) > MAX_CLOCK_OFFSET:
        # A Date hours off (or forged) must not make an expired token look valid.
        offset = math.copysign(MAX_CLOCK_OFFSET, offset)
    return offset


def offset_in_range(offset: float) -> bool:
    """Whether ``offset`` is fully corrected for (not clamped)."""
    return math.isfinite(offset) and abs(offset) <= MAX_CLOCK_OFFSET


def describe_offset(offset: float, *, whose: str = "the provider's") -> str:
    """``"this machine's clock is 2 min 0 s behind the provider's"`` (offset > 0:
    the provider's clock is ahead of ours)."""
    if not math.isfinite(offset):
        return "the clock offset is unknown"
    if abs(offset) < 1.5:  # Date has one-second granularity
        return f"this machine's clock agrees with {whose} to within 1 s"
    side = "behind" if offset > 0 else "ahead of"
    return f"this machine's clock is {duration(offset)} {side} {whose}"


def offset_json(offset: float) -> dict[str, object]:
    """The offset as ``auth status --json`` and ``doctor --json`` report it."""
    return {
        "seconds": round(offset, 1) if math.isfinite(offset) else None,
        "corrected": offset_in_range(offset),
        "max_corrected_seconds": MAX_CLOCK_OFFSET,
    }
