"""``peek_claims``: the unverified claims of a JWT, without the JOSE stack.

Reading a token's ``exp`` or ``scope`` to schedule a refresh or check scopes happens
on every cold start (``ctct api``, ``ctct lists``); importing joserfc and cryptography
for it would cost more than the command. Verification stays ``ctct._jwt``'s job.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Final

MAX_TOKEN_BYTES: Final = 16 * 1024
"""Longer tokens are not looked into (``ctct._jwt`` refuses them too)."""


def peek_claims(token: str) -> dict[str, Any] | None:
    """The *unverified* claims of a JWS-shaped token, or ``None`` if it is not one.

    Only for values that cannot be abused when forged (an earlier ``exp``).
    """
    if len(token) > MAX_TOKEN_BYTES or token.count(".") != 2:
        return None
    header, payload, _signature = token.split(".")
    try:
        if not isinstance(json.loads(_b64url(header)), dict):
            return None
        claims = json.loads(_b64url(payload))
    except (binascii.Error, ValueError, UnicodeError):
        return None
    return claims if isinstance(claims, dict) else None


def _b64url(segment: str) -> bytes:
    """Strict base64url without padding (RFC 7515): anything else raises."""
    if "=" in segment:
        raise ValueError("padded segment")
    padded = segment + "=" * (-len(segment) % 4)
    return base64.b64decode(padded.encode("ascii"), altchars=b"-_", validate=True)
