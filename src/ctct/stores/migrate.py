"""``ctct store migrate``: move every grant to another store, leaving "moved to" tombstones.

Each grant is copied under its lease in both stores (no refresh runs meanwhile on
either side), with its account state and any refresh attempt left in doubt; then the
source record is replaced by a *tombstone*, a sealed record naming the new store (its
URL without a password). Reading a tombstone raises ``StoreMoved``, so a worker still
configured for the old store fails loudly instead of rotating a refresh token the new
store now holds. Running it again is safe: a grant already moved is skipped, one the
target already holds unchanged only gets its tombstone, and one the target holds in
another form is left in the source and reported (nothing is overwritten). A token
record's writer offset is re-told against the target's clock (``ctct._store_clock``), so
its times keep meaning the same instants there.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ctct._store_clock import rebase
from ctct.stores.base import Attempt, GrantKey, StoreMoved

if TYPE_CHECKING:
    from ctct.stores.sealed import SealedStore

TOMBSTONE_PREFIX = b'{"ctct_moved_to":'
"""How a tombstone's plaintext starts (a token record never does: it starts with its
format number)."""


def tombstone(target: str, now: float) -> bytes:
    """The plaintext of a tombstone pointing at ``target`` (a URL already redacted)."""
    return json.dumps({"ctct_moved_to": target, "moved_at": now}).encode()


def is_tombstone(data: bytes) -> bool:
    return data.startswith(TOMBSTONE_PREFIX)


def moved_error(key: GrantKey, data: bytes) -> StoreMoved:
    """The ``StoreMoved`` a read of the tombstone ``data`` of ``key`` raises."""
    try:
        found = json.loads(data)
        target, moved_at = str(found["ctct_moved_to"]), float(found["moved_at"])
    except (ValueError, KeyError, TypeError):
        target, moved_at = "another store", 0.0
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(moved_at)) if moved_at else "?"
    return StoreMoved(
        f"the grant for {key} was moved to {target} by `ctct store migrate` on {when}: "
        "point CTCT_STORE (or --store, or `store` in the config file) at that store; this "
        "one no longer holds the grant and refreshing from it would spend a refresh token "
        "the new store holds",
        code="moved",
    )


@dataclass
class MigrationReport:
    """What ``migrate`` did, grant by grant."""

    copied: list[GrantKey] = field(default_factory=list)
    already_there: list[GrantKey] = field(default_factory=list)
    """The target already held the same record (a re-run after an interrupted one)."""
    moved_before: list[GrantKey] = field(default_factory=list)
    """The source held a tombstone already (moved by an earlier run)."""
    conflicts: list[GrantKey] = field(default_factory=list)
    """The target holds another record for the grant: both left as they are."""

    @property
    def total(self) -> int:
        return sum(
            len(keys)
            for keys in (self.copied, self.already_there, self.moved_before, self.conflicts)
        )


Progress = Callable[[int, int], None]
"""Called with (grants done, grants in all) after each grant."""


def migrate(
    source: SealedStore,
    target: SealedStore,
    *,
    target_shown: str,
    lock_timeout: float = 30.0,
    progress: Progress | None = None,
) -> MigrationReport:
    """Copy every grant of ``source`` to ``target`` and tombstone it (module docstring).

    ``target_shown``: the target's URL without its password, written into tombstones."""
    report = MigrationReport()
    keys = source.keys()
    for done, key in enumerate(keys, 1):
        with source.lock(key, lock_timeout), target.lock(key, lock_timeout):
            _move(source, target, key, target_shown, report)
        if progress is not None:
            progress(done, len(keys))
    return report


def _move(
    source: SealedStore,
    target: SealedStore,
    key: GrantKey,
    target_shown: str,
    report: MigrationReport,
) -> None:
    found = source.load_plain(key)
    if found is None:
        return  # deleted meanwhile
    data, version = found
    if is_tombstone(data):
        report.moved_before.append(key)
        return
    # A token record's times are told against the source's clock; the target's may be
    # another (SQLite: this host's; a server's: its own).
    data = rebase(data, target.clock_offset() - source.clock_offset())
    there = target.load_plain(key)
    if there is None or is_tombstone(there[0]):
        # (a tombstone there: the grant once moved away from the target and now back)
        target.save(key, data, expected_version=None if there is None else there[1])
        report.copied.append(key)
    elif there[0] == data:
        report.already_there.append(key)
    else:
        report.conflicts.append(key)
        return
    state = source.load_state(key)
    if state is not None:
        target.set_state(key, state)
    attempt = source.load_attempt(key)
    if attempt is not None:
        # Still in doubt in the new store; fence 0 is never a lease's, so the next
        # holder there sees it as another holder's.
        target.record_attempt(key, Attempt(attempt.holder, attempt.parent, 0))
    source.save(key, tombstone(target_shown, source.now()), expected_version=version)
