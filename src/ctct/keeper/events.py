"""Events into the store's outbox (delivered by ``delivery``), one kind per change an
operator or a receiving system must know about.

Kinds: ``needs_login`` (a person must connect the account again), ``recovered`` (it
works again: reconnected, or the app's secret fixed), ``app_error`` (the application's
credentials are refused), ``at_risk`` (refreshes failing while the access token runs
out), ``overload`` (more keep-fresh accounts than the token endpoint allows),
``shed``, ``paused``, ``resumed``, ``disconnected``. The payload never holds a token or
server text; it is sealed in the outbox like every record.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ctct.stores import GrantKey, Store

log = logging.getLogger("ctct.keeper")

KINDS = frozenset(
    {
        "needs_login",
        "recovered",
        "app_error",
        "at_risk",
        "overload",
        "shed",
        "paused",
        "resumed",
        "disconnected",
    }
)


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def emit(
    store: Store,
    kind: str,
    key: GrantKey | None,
    now: float,
    data: Mapping[str, Any] | None = None,
) -> None:
    """Queue one event (the outbox assigns its id and per-account sequence number)."""
    assert kind in KINDS, kind
    body: dict[str, Any] = {"at": iso(now)}
    if key is not None:
        body.update({"profile": key.profile, "client_id": key.client_id, "issuer": key.issuer})
    body.update(data or {})
    store.add_event(kind, key, json.dumps(body, sort_keys=True).encode())
    log.info("event %s for %s", kind, key.profile if key is not None else "the fleet")
