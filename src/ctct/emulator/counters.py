"""Counters read through the control API: token requests by grant type and outcome,
API requests by route and status. Tests assert on these (e.g. exactly one refresh per
expiry), so they count what the emulator answered, including injected faults."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class Counters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._token: Counter[tuple[str, str]] = Counter()
        self._api: Counter[tuple[str, str, int]] = Counter()
        self._events: list[dict[str, Any]] = []

    def token_request(self, grant_type: str, outcome: str) -> None:
        with self._lock:
            self._token[(grant_type or "none", outcome)] += 1

    def api_request(self, method: str, route: str, status: int) -> None:
        with self._lock:
            self._api[(method, route, status)] += 1

    def event(self, kind: str, **details: Any) -> None:
        """Append to the emulator's log of notable events (e.g. each refresh answered)."""
        with self._lock:
            self._events.append({"kind": kind, **details})

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            token: dict[str, dict[str, int]] = {}
            for (grant, outcome), n in sorted(self._token.items()):
                token.setdefault(grant, {})[outcome] = n
            api: dict[str, dict[str, int]] = {}
            for (method, route, status), n in sorted(self._api.items()):
                api.setdefault(f"{method} {route}", {})[str(status)] = n
            return {"token_requests": token, "api_requests": api}

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self._events if kind is None or e["kind"] == kind]

    def reset(self) -> None:
        with self._lock:
            self._token.clear()
            self._api.clear()
            self._events.clear()
