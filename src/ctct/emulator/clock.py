"""The emulator's clock: real time plus an offset that tests can advance.

Every server-side expiry and the ``Date`` header read this clock, so advancing it
moves them all together. The offset is kept in the database so a restart with
``--data`` keeps the emulated time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Clock:
    def __init__(self, source: Callable[[], float] = time.time, offset: float = 0.0) -> None:
        self._source = source
        self._offset = offset
        self._lock = threading.Lock()
        self.listeners: list[Callable[[float], None]] = []

    def now(self) -> float:
        return self._source() + self._offset

    @property
    def offset(self) -> float:
        return self._offset

    def advance(self, seconds: float) -> float:
        """Move emulated time forward (never backward) and return the new offset."""
        if seconds < 0:
            raise ValueError("the emulator's clock only moves forward")
        with self._lock:
            self._offset += seconds
            offset = self._offset
        for listener in self.listeners:
            listener(offset)
        return offset

    def set_offset(self, offset: float) -> None:
        with self._lock:
            self._offset = offset
