"""One token, several shapes: what ``ctct auth token --format``, the sink and the broker
print. ``json`` is the broker's document; ``header`` suits ``curl -H @FILE``; ``env``
suits ``. FILE`` or ``docker --env-file``; ``token`` is the bare access token."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Final, Literal

Format = Literal["token", "json", "header", "env"]
FORMATS: Final[tuple[Format, ...]] = ("token", "json", "header", "env")


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def document(
    *,
    profile: str,
    access_token: str,
    token_type: str,
    expires_at: float | None,
    scopes: Iterable[str],
    now: float,
) -> dict[str, object]:
    return {
        "access_token": access_token,
        "token_type": token_type,
        "expires_at": iso(expires_at) if expires_at is not None else None,
        "expires_in": max(0, int(expires_at - now)) if expires_at is not None else None,
        "scopes": sorted(scopes),
        "profile": profile,
    }


def render(fmt: Format, doc: dict[str, object]) -> str:
    """The text for ``fmt`` (ending in a newline)."""
    token = str(doc["access_token"])
    if fmt == "token":
        return token + "\n"
    if fmt == "json":
        return json.dumps(doc, indent=2) + "\n"
    if fmt == "header":
        return f"Authorization: Bearer {token}\n"
    expires = doc["expires_at"]
    lines = [f"CTCT_ACCESS_TOKEN={token}"]
    if expires is not None:
        lines.append(f"CTCT_EXPIRES_AT={expires}")
    return "\n".join(lines) + "\n"
