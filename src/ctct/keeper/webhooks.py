"""Events as Standard Webhooks (https://www.standardwebhooks.com): signing and headers.

Each delivery carries ``webhook-id`` (the event's id: the same on every redelivery, so a
receiver can drop duplicates), ``webhook-timestamp`` (seconds) and ``webhook-signature``:
one ``v1,<base64 HMAC-SHA256>`` over ``id.timestamp.body`` per configured secret, space
separated, so a receiver keeps verifying while a secret rotates (configure the new
secret beside the old one, move receivers over, then drop the old). Receivers should
refuse timestamps more than 5 minutes from their clock (the convention's tolerance).

Signing is the reference library's (``standardwebhooks``); this module only adds the
several-secrets rule and the headers.
"""

from __future__ import annotations

import base64
import secrets as _secrets
from collections.abc import Sequence
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

from ctct.errors import ConfigError

SECRET_PREFIX = "whsec_"
TOLERANCE_SECONDS = 300


def new_secret() -> str:
    """A fresh signing secret in the convention's ``whsec_<base64>`` form."""
    return SECRET_PREFIX + base64.b64encode(_secrets.token_bytes(32)).decode()


def _signer(secret: str) -> Webhook:
    text = secret.strip()
    body = text.removeprefix(SECRET_PREFIX).rstrip("=")
    try:
        raw = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except ValueError:
        raw = b""
    if len(raw) < 16:
        # Never echo the value: it is a secret even when malformed.
        raise ConfigError(
            "A webhook signing secret is not 'whsec_' followed by base64 of at least 16 "
            "bytes: generate one with `ctct keeper new-webhook-secret`."
        )
    return Webhook(raw)


class Signer:
    """Signs event bodies with every configured secret (first = current)."""

    def __init__(self, secrets: Sequence[str]) -> None:
        if not secrets:
            raise ConfigError("webhook delivery needs at least one signing secret")
        self._webhooks = [_signer(s) for s in secrets]

    def headers(self, event_id: str, timestamp: float, body: bytes) -> dict[str, str]:
        """The three Standard Webhooks headers for ``body`` sent at ``timestamp``."""
        moment = datetime.fromtimestamp(int(timestamp), tz=UTC)
        text = body.decode()
        signatures = " ".join(w.sign(event_id, moment, text) for w in self._webhooks)
        return {
            "webhook-id": event_id,
            "webhook-timestamp": str(int(timestamp)),
            "webhook-signature": signatures,
            "content-type": "application/json",
        }

    def __repr__(self) -> str:
        return f"<Signer with {len(self._webhooks)} secret(s)>"
