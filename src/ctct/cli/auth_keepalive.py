"""The body of ``ctct auth keep-alive``: keep idle refresh tokens from dying, for cron.

Refresh tokens die after a period of disuse (CC: 180 days). For every profile in the
store with the configured provider and client, this refreshes the ones whose refresh
token is within ``margin`` of that deadline, and nothing else. Each refresh takes its
turn at the token endpoint's shared rate limit (the store's bucket, the one every
process and host uses), so a long list is paced, not throttled. It prints one line per
profile and a summary; the exit code says whether any profile needs a new login.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from ctct.cli import _console
from ctct.cli._console import countdown, escape, iso
from ctct.cli.auth_common import http_client, load_settings, token_manager
from ctct.errors import AuthorizationRequired, CtctError

if TYPE_CHECKING:
    import httpx2

    from ctct._manager import TokenManager
    from ctct._tokens import TokenSet
    from ctct.stores import GrantKey

EXIT_NEEDS_LOGIN: Final = 18
"""Some profile needs a new login (the others were kept alive)."""

ATTEMPTS: Final = 3
"""Tries of one refresh that the provider failed for now (429, 5xx)."""
SPACING: Final = 0.25
"""Seconds added to the token endpoint's interval between this run's requests."""

REFRESHED, NOT_DUE, NEEDS_LOGIN, FAILED = "refreshed", "not_due", "needs_login", "failed"


@dataclass(frozen=True)
class Kept:
    """What keep-alive did for one profile."""

    profile: str
    result: str  # REFRESHED, NOT_DUE, NEEDS_LOGIN or FAILED
    idle_deadline: float | None
    message: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "result": self.result,
            "idle_deadline": iso(self.idle_deadline),
            "message": self.message or None,
        }


def keep_alive(flags: dict[str, Any], *, margin_days: float, as_json: bool) -> int:
    """Run keep-alive over every profile of this provider and client; the exit code."""
    settings = load_settings(flags)
    margin = margin_days * 86_400
    with http_client(settings) as http, token_manager(settings, http) as manager:
        pace = _Pace(manager.provider.token_rate_per_second)
        results = [
            _keep(_for_profile(manager, key.profile, http, settings.leeway), margin, pace)
            for key in _grants(manager)
        ]
    if as_json:
        _console.print_json(_summary_json(results, margin_days))
    else:
        _print(results, margin_days, manager.clock())
    if any(r.result == NEEDS_LOGIN for r in results):
        return EXIT_NEEDS_LOGIN
    failed = [r for r in results if r.result == FAILED]
    return _failed_code(failed)


def _grants(manager: TokenManager) -> list[GrantKey]:
    """This provider's and client's grants in the store (not the bookkeeping records)."""
    mine = manager.key
    return [
        key
        for key in manager.store.keys()  # noqa: SIM118 - a store, not a dict
        if key.issuer == mine.issuer and key.client_id == mine.client_id
    ]


def _for_profile(
    manager: TokenManager, profile: str, http: httpx2.Client, leeway: float
) -> TokenManager:
    """A manager for ``profile`` sharing ``manager``'s provider, client and store."""
    from ctct._manager import TokenManager

    return TokenManager(
        provider=manager.provider,
        client=manager.client,
        store=manager.store,
        profile=profile,
        http=http,
        clock=manager.clock,
        policy=manager.policy,
        timeout=manager.timeout,
        leeway=leeway,
    )


def _keep(manager: TokenManager, margin: float, pace: _Pace) -> Kept:
    from ctct._timer import idle_refresh_needed

    profile, idle_ttl = manager.profile, manager.provider.refresh_token_idle_ttl
    try:
        tokens = manager.tokens()
        if tokens is None:  # deleted meanwhile
            return Kept(profile, NOT_DUE, None, "no stored grant any more")
        deadline = tokens.refresh_token_idle_deadline(idle_ttl) if idle_ttl else None
        if tokens.refresh_token is None:
            return Kept(profile, NEEDS_LOGIN, None, _login_needed("it has no refresh token left"))
        if not idle_refresh_needed(tokens, manager.clock(), idle_ttl, margin):
            return Kept(profile, NOT_DUE, deadline)
        after = pace.refresh(manager)
    except AuthorizationRequired as error:
        return Kept(profile, NEEDS_LOGIN, None, error.message)
    except CtctError as error:
        return Kept(profile, FAILED, None, error.message)
    if after.refresh_token is None:  # rejected; the access token still works a while
        return Kept(profile, NEEDS_LOGIN, None, _login_needed("the provider rejected it"))
    return Kept(profile, REFRESHED, after.refresh_token_idle_deadline(idle_ttl))


class _Pace:
    """Spaces this run's token requests a little wider than the limit. The shared bucket
    (in the store) already keeps every process under it, but it and the server's limiter
    count from different moments: a request sent exactly one interval after the previous
    one can arrive early (the first paid for the connection) and get a 429."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / (rate or 1.0) + SPACING
        self.last = -float("inf")

    def refresh(self, manager: TokenManager) -> TokenSet:
        """A forced refresh; a 429 or 5xx is tried again (``ATTEMPTS`` in all)."""
        from ctct.errors import TransientProviderError

        for attempt in range(1, ATTEMPTS + 1):
            time.sleep(max(0.0, self.last + self.interval - time.monotonic()))
            self.last = time.monotonic()
            try:
                return manager.refresh(force=True)
            except TransientProviderError:
                if attempt == ATTEMPTS:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover


def _login_needed(why: str) -> str:
    return f"the refresh token cannot be kept alive ({why}): run `ctct auth login`"


def _failed_code(failed: list[Kept]) -> int:
    # A failure for now (network, 5xx, the rate limit's wait): cron's next run retries.
    from ctct.errors import TransientProviderError

    return TransientProviderError.exit_code if failed else 0


def _counts(results: list[Kept]) -> dict[str, int]:
    return {name: sum(r.result == name for r in results) for name in _LABELS}


_LABELS = {
    REFRESHED: "refreshed",
    NOT_DUE: "not due",
    NEEDS_LOGIN: "need a new login",
    FAILED: "failed for now",
}


def _summary_json(results: list[Kept], margin_days: float) -> dict[str, Any]:
    return {
        "margin_days": margin_days,
        "profiles": [r.as_json() for r in results],
        **_counts(results),
    }


def _print(results: list[Kept], margin_days: float, now: float) -> None:
    console = _console.out()
    if not results:
        console.print("No grants of this provider and client in the store: nothing to do.")
        return
    for r in results:
        until = (
            f"; dies if unused until {iso(r.idle_deadline)} ({countdown(r.idle_deadline, now)})"
            if r.idle_deadline is not None
            else ""
        )
        detail = f": {r.message}" if r.message else ""
        console.print(escape(f"{r.profile}: {_LABELS[r.result]}{until}{detail}"))
    counts = _counts(results)
    console.print(
        ", ".join(f"{counts[name]} {label}" for name, label in _LABELS.items())
        + f" (margin {margin_days:g} days before the idle deadline)."
    )
