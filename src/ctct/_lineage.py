"""Lineage: which grant a token record belongs to and which refresh token it came from.

Every record carries the grant's identity (``grant_id``, random, set at login or import
and kept by every refresh) and the fingerprint of the refresh token it was obtained with
(``parent``); a record whose refresh token the server rejected names it (``spent``).
When saving refreshed tokens loses its compare-and-swap, ``decide`` says whether our
tokens may replace the stored record: they win over a record of the same grant that
still holds their parent or marks it spent; a record of another grant (a newer login,
maybe another account) or one that moved on without us is never overwritten.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from ctct._secret import Secret
    from ctct._tokens import TokenSet

Decision = Literal["write", "ours", "deleted", "other_grant", "double_send", "newer"]


def new_grant_id() -> str:
    return secrets.token_hex(12)


def fingerprint(token: Secret | str | None) -> str | None:
    """A short public digest of a (high-entropy) refresh token; None for None."""
    if token is None:
        return None
    text = token if isinstance(token, str) else token.reveal()
    return hashlib.sha256(b"ctct-refresh-token\x00" + text.encode()).hexdigest()[:32]


def decide(ours: TokenSet, latest: TokenSet | None) -> Decision:
    """Whether ``ours`` (refreshed from ``ours.parent``) may overwrite ``latest``."""
    if latest is None:
        return "deleted"  # logged out meanwhile: do not bring the grant back
    if ours.grant_id and latest.grant_id and ours.grant_id != latest.grant_id:
        return "other_grant"
    mine = fingerprint(ours.refresh_token)
    if mine is not None and fingerprint(latest.refresh_token) == mine:
        # our own write landed (a save retried after its answer was lost: a store
        # restart or a link cut mid-save); nothing to overwrite, nobody sent twice
        return "ours"
    parent = ours.parent
    if parent is not None and fingerprint(latest.refresh_token) == parent:
        return "write"  # holds our parent (e.g. rewritten by a rekey meanwhile)
    if parent is not None and latest.spent == parent:
        return "write"  # our parent spent: ours are the live tokens
    if parent is not None and latest.parent == parent:
        # someone else also spent our parent and committed first
        return "double_send"
    return "newer"
