"""One status line on a terminal, redrawn every second (a device login's countdown).

A daemon thread rewrites the line in place (carriage return, erase line); whatever
else is printed meanwhile goes through ``paused()``, which erases the line first and
draws it again after, so the two never interleave. Only for a terminal: off one the
caller prints a single static line instead (a log has no use for redraws).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import TextIO

_ERASE = "\r\x1b[2K"


class LiveLine:
    """``render()`` drawn on ``stream`` now and every ``every`` seconds until ``stop()``."""

    def __init__(self, stream: TextIO, render: Callable[[], str], *, every: float = 1.0) -> None:
        self._stream = stream
        self._render = render
        self._every = every
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._shown = False
        self._thread = threading.Thread(target=self._run, name="ctct-live-line", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                if self._stopped.is_set():
                    return
                self._draw()
            if self._stopped.wait(self._every):
                return

    def _draw(self) -> None:
        with contextlib.suppress(OSError, ValueError):  # the terminal went away
            self._stream.write(_ERASE + self._render())
            self._stream.flush()
            self._shown = True

    def _erase(self) -> None:
        if self._shown:
            with contextlib.suppress(OSError, ValueError):
                self._stream.write(_ERASE)
                self._stream.flush()
            self._shown = False

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Print something else: the line is erased first and drawn again after."""
        with self._lock:
            self._erase()
            try:
                yield
            finally:
                if not self._stopped.is_set():
                    self._draw()

    def stop(self) -> None:
        """Erase the line and stop redrawing (idempotent)."""
        with self._lock:
            self._stopped.set()
            self._erase()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)
