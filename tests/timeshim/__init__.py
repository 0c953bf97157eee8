"""A test-only shim that moves the wall clock of Python subprocesses (see README.md).

    from tests.timeshim import clock_env, MovableClock

    subprocess.run([...], env=clock_env(-300))      # this process runs 5 minutes slow

    clock = MovableClock(tmp_path / "clock")         # move a running process's clock
    proc = subprocess.Popen([...], env=clock.env())
    clock.advance(179 * 86_400)                       # it is now 179 days later there

``time.monotonic`` never moves; only subprocesses started with these environments are
affected (the test process itself and in-process emulators keep the real clock).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Final

SHIM_DIR: Final = Path(__file__).resolve().parent
"""The directory holding ``sitecustomize.py``: put it first on ``PYTHONPATH``."""
OFFSET_VAR: Final = "CTCT_TEST_CLOCK_OFFSET"
FILE_VAR: Final = "CTCT_TEST_CLOCK_FILE"

__all__ = ["FILE_VAR", "OFFSET_VAR", "SHIM_DIR", "MovableClock", "clock_env"]


def clock_env(
    offset: float = 0.0,
    *,
    env: Mapping[str, str] | None = None,
    file: Path | None = None,
) -> dict[str, str]:
    """A copy of ``env`` (default ``os.environ``) in which Python subprocesses see the
    wall clock ``offset`` seconds away from the machine's (negative: behind), plus the
    offset in ``file`` when given (see ``MovableClock``)."""
    result = dict(os.environ if env is None else env)
    path = result.get("PYTHONPATH", "")
    parts = [p for p in path.split(os.pathsep) if p and p != str(SHIM_DIR)]
    result["PYTHONPATH"] = os.pathsep.join([str(SHIM_DIR), *parts])
    result[OFFSET_VAR] = repr(float(offset))
    if file is not None:
        result[FILE_VAR] = str(file)
    else:
        result.pop(FILE_VAR, None)
    return result


class MovableClock:
    """A clock file: processes started with ``env()`` follow ``set``/``advance`` while
    they run (each write is atomic, a rename, so a reader never sees half a number)."""

    def __init__(self, path: Path, offset: float = 0.0) -> None:
        self.path = path
        self._offset = 0.0
        self.set(offset)

    @property
    def offset(self) -> float:
        return self._offset

    def env(self, env: Mapping[str, str] | None = None, *, fixed: float = 0.0) -> dict[str, str]:
        """The environment for a subprocess on this clock (plus ``fixed`` seconds)."""
        return clock_env(fixed, env=env, file=self.path)

    def set(self, offset: float) -> None:
        staging = self.path.with_name(self.path.name + ".tmp")
        staging.write_text(repr(float(offset)), encoding="ascii")
        os.replace(staging, self.path)
        self._offset = float(offset)

    def advance(self, seconds: float) -> float:
        """Move the clock by ``seconds`` (either way); returns the new offset."""
        self.set(self._offset + seconds)
        return self._offset
