"""Tokens per profile, through ``TokenManager``, with the guards the shared budget needs.

Callers cannot spend the token endpoint's per-application budget on their own:

- ``min_valid`` (how long the token must stay valid) is capped at half a token's
  lifetime, so no caller can make every request a refresh; beyond that is a 400;
- a caller whose API request got a 401 sends the rejected token's SHA-256; the broker
  refreshes only if that is the token it currently serves (a stale fingerprint gets the
  current token, no refresh), once per token however many callers report it (the
  manager's single flight), and at most once per ``forced_interval`` per grant;
- everything else is the manager's usual path: one refresh per expiry across threads,
  processes and hosts.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

import anyio.to_thread

from ctct._manager import TokenManager
from ctct._tokens import TokenSet
from ctct.errors import (
    AuthorizationRequired,
    ConfigError,
    CtctError,
    NetworkError,
    StoreError,
    TransientProviderError,
)

DEFAULT_FORCED_INTERVAL = 30.0
MAX_MIN_VALID_FRACTION = 0.5
MIN_FINGERPRINT = 16
MAX_BACKOFF = 30.0


def token_fingerprint(token: str) -> str:
    """What a caller sends back for a rejected token: the SHA-256 of it, in hex."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Served:
    profile: str
    access_token: str
    token_type: str
    expires_at: float | None
    scopes: frozenset[str]


class BrokerError(Exception):
    """An answer other than a token: HTTP status, a machine-readable code, a message."""

    def __init__(
        self, status: int, error: str, message: str, *, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.retry_after = retry_after


class TokenSource:
    """Serves profiles' tokens. ``factory(profile)`` builds a manager (may block)."""

    def __init__(
        self,
        factory: Callable[[str], TokenManager],
        *,
        clock: Callable[[], float] = time.time,
        forced_interval: float = DEFAULT_FORCED_INTERVAL,
    ) -> None:
        self._factory = factory
        self._clock = clock
        self._forced_interval = forced_interval
        self._managers: dict[str, TokenManager] = {}
        self._building: dict[str, asyncio.Lock] = {}
        self._forced: dict[str, tuple[str, float]] = {}  # profile -> (fingerprint, when)
        # profile -> (retry at, backoff): while the token endpoint is down and no valid
        # token is left, callers get 503 at once instead of each trying the endpoint.
        self._down: dict[str, tuple[float, float]] = {}

    async def manager(self, profile: str) -> TokenManager:
        found = self._managers.get(profile)
        if found is not None:
            return found
        lock = self._building.setdefault(profile, asyncio.Lock())
        async with lock:
            found = self._managers.get(profile)
            if found is None:
                try:
                    found = await anyio.to_thread.run_sync(self._factory, profile)
                except ConfigError as error:
                    raise BrokerError(404, "unknown_profile", error.message) from None
                self._managers[profile] = found
            return found

    async def get(self, profile: str, *, min_valid: float, rejected: str | None) -> Served:
        manager = await self.manager(profile)
        down = self._down.get(profile)
        if down is not None and self._clock() < down[0]:
            raise BrokerError(
                503,
                "unavailable",
                f"No valid token for profile {profile!r}: the token endpoint failed; "
                "retrying shortly.",
                retry_after=down[0] - self._clock(),
            )
        try:
            if rejected is not None:
                await self._after_rejection(profile, manager, rejected)
            tokens = await manager.acurrent()
            self._check_min_valid(tokens, min_valid)
            if min_valid > 0:
                tokens = await manager.acurrent(min_valid=min_valid)
        except AuthorizationRequired as error:
            raise BrokerError(
                424,
                "needs_login",
                f"Profile {profile!r} needs a new login ({error.code or 'rejected'}).",
            ) from None
        except (TransientProviderError, NetworkError, StoreError) as error:
            backoff = min(MAX_BACKOFF, max(1.0, (down[1] if down else 0.5) * 2))
            self._down[profile] = (self._clock() + backoff, backoff)
            raise BrokerError(
                503,
                "unavailable",
                f"No valid token for profile {profile!r} right now: {error.message}",
                retry_after=backoff,
            ) from None
        except CtctError as error:
            raise BrokerError(502, error.code or "error", error.message) from None
        self._down.pop(profile, None)
        if tokens.access_token is None:
            raise BrokerError(424, "needs_login", f"Profile {profile!r} has no access token.")
        return Served(
            profile,
            tokens.access_token.reveal(),
            tokens.token_type,
            tokens.expires_at,
            tokens.scopes,
        )

    def _check_min_valid(self, tokens: TokenSet, min_valid: float) -> None:
        lifetime = tokens.lifetime
        if lifetime is None or lifetime <= 0:
            return
        limit = lifetime * MAX_MIN_VALID_FRACTION
        if min_valid > limit:
            raise BrokerError(
                400,
                "min_valid_too_long",
                f"min_valid={min_valid:g} is more than half a token's lifetime "
                f"({lifetime:.0f} s): ask for at most {limit:.0f} seconds.",
            )

    async def _after_rejection(self, profile: str, manager: TokenManager, rejected: str) -> None:
        current = await manager.acurrent()
        token = current.access_token.reveal() if current.access_token is not None else ""
        fingerprint = token_fingerprint(token) if token else ""
        if not fingerprint.startswith(rejected):
            return  # stale: another caller's report already replaced it
        now = self._clock()
        last = self._forced.get(profile)
        if last is not None and last[0] == fingerprint:
            # Others report the same token: join the refresh already under way (the
            # manager's single flight answers them with its result).
            await manager.aunauthorized(token)
            return
        if last is not None and now - last[1] < self._forced_interval:
            wait = self._forced_interval - (now - last[1])
            raise BrokerError(
                429,
                "refresh_rate_limited",
                f"Profile {profile!r} was refreshed after a 401 {now - last[1]:.0f} s ago; "
                "if the API still refuses the new token, the cause is not its age "
                "(scopes? account access?).",
                retry_after=wait,
            )
        self._forced[profile] = (fingerprint, now)
        await manager.aunauthorized(token)

    def close(self) -> None:
        for manager in self._managers.values():
            manager.close()
        self._managers.clear()


def parse_fingerprint(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    text = value.strip().lower().removeprefix("sha256:")
    hexdigits = set("0123456789abcdef")
    if not MIN_FINGERPRINT <= len(text) <= 64 or not set(text) <= hexdigits:
        raise BrokerError(
            400,
            "bad_rejected",
            "rejected must be the SHA-256 of the refused token in hex (at least 16 digits).",
        )
    return text
