"""``strict``: Constant Contact's strictest plausible behaviour, one switch away.

Where ``shared/constant-contact/spec.md`` marks a behaviour unconfirmed, the emulator's
defaults are lenient (what well-behaved clients get away with). A client that passes only
against the lenient defaults may fail against CC, so ``strict`` turns each of them to the
strict side: run your CI once with it (``ctct emulator --strict``).

=====================================  ========================  =========================
setting                                lenient default           strict
=====================================  ========================  =========================
``loopback_redirect_any_port``         any port (RFC 8252 7.3)   the registered port only
``require_state``                      optional                  required on authorize
``allow_client_secret_post``           accepted                  HTTP Basic only
``allow_pkce_for_confidential``        accepted                  refused
``refresh_token_reuse``                ``token`` (that token)    ``grant`` (revoke it all)
``refresh_token_grace_seconds``        0                         0 (no grace)
=====================================  ========================  =========================
"""

from __future__ import annotations

from typing import Any, Final

STRICT: Final[dict[str, Any]] = {
    "loopback_redirect_any_port": False,
    "require_state": True,
    "allow_client_secret_post": False,
    "allow_pkce_for_confidential": False,
    "refresh_token_reuse": "grant",
    "refresh_token_grace_seconds": 0,
}


def apply(config: Any) -> None:
    """Force the strict values onto a (frozen) ``EmulatorConfig`` being constructed."""
    for name, value in STRICT.items():
        object.__setattr__(config, name, value)
