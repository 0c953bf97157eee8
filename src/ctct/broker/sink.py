"""A file kept holding a valid access token (like Vault Agent's file sink).

Before each expiry the token is refreshed (through the manager: one refresh however
many sinks and workers share the grant) and the file rewritten atomically: the new text
goes to a temporary file in the same directory, gets its final mode and group, is
fsync'd, then renamed over the old one; so a reader sees the old file or the new one,
never half of one and never with a looser mode.
"""

from __future__ import annotations

import grp
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ctct._manager import TokenManager
from ctct._private_file import write_private
from ctct.broker.formats import Format, document, render
from ctct.errors import ConfigError, CtctError

log = logging.getLogger("ctct.sink")

MIN_SLEEP = 1.0
MAX_SLEEP = 3_600.0
RETRY = 10.0


@dataclass(frozen=True)
class SinkSpec:
    path: Path
    mode: int = 0o600
    group: str | int | None = None
    format: Format = "token"

    def gid(self) -> int:
        if self.group is None:
            return -1
        if isinstance(self.group, int):
            return self.group
        if self.group.isdigit():
            return int(self.group)
        try:
            return grp.getgrnam(self.group).gr_gid
        except KeyError:
            raise ConfigError(f"There is no group {self.group!r} for the sink file.") from None

    def check(self) -> None:
        if self.mode & ~0o777 or self.mode & 0o007:
            raise ConfigError(
                f"Sink mode {self.mode:04o} would let every user read the token; use 0600 "
                "or 0640 with --sink-group."
            )
        if not self.path.parent.is_dir():
            raise ConfigError(f"The sink's directory {self.path.parent} does not exist.")
        self.gid()


def write_atomically(spec: SinkSpec, text: str) -> None:
    write_private(spec.path, text.encode(), mode=spec.mode, gid=spec.gid())


class Sink:
    """Keeps ``spec.path`` current for ``manager``'s grant."""

    def __init__(
        self,
        manager: TokenManager,
        spec: SinkSpec,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        spec.check()
        self.manager = manager
        self.spec = spec
        self.clock = clock
        self._written: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.writes = 0

    def run_once(self) -> float:
        """Write the file if the token changed; return the seconds until the next check."""
        tokens = self.manager.current()
        access = tokens.access_token.reveal() if tokens.access_token is not None else ""
        now = self.clock()
        if access and access != self._written:
            doc = document(
                profile=self.manager.profile,
                access_token=access,
                token_type=tokens.token_type,
                expires_at=tokens.expires_at,
                scopes=tokens.scopes,
                now=now,
            )
            write_atomically(self.spec, render(self.spec.format, doc))
            self._written = access
            self.writes += 1
            log.info("sink %s now holds a token valid until %s", self.spec.path, doc["expires_at"])
        policy = self.manager.policy
        due = tokens.refresh_due_at(margin=policy.margin, max_fraction=policy.max_fraction)
        if due is None:
            return MAX_SLEEP
        return min(MAX_SLEEP, max(MIN_SLEEP, due - now))

    def run(self) -> None:
        """Loop until ``stop()``; errors are logged (never with a token) and retried."""
        while not self._stop.is_set():
            try:
                wait = self.run_once()
            except CtctError as error:
                log.warning("sink %s: %s; retrying in %g s", self.spec.path, error.message, RETRY)
                wait = RETRY
            self._stop.wait(wait)

    def start(self) -> Sink:
        self._thread = threading.Thread(target=self.run, name="ctct-sink", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
