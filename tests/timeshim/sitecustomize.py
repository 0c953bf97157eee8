"""Test-only time shim: moves the wall clock of a whole Python process.

Python imports ``sitecustomize`` at start-up from ``sys.path``; tests put this directory
on a subprocess's ``PYTHONPATH`` (build the environment with
``tests.timeshim.clock_env()`` or ``MovableClock.env()``) to give that process a clock
that disagrees with the machine's. Never shipped, never a ctct setting: a setting that
moves ctct's clock would be a switch to accept expired tokens.

``CTCT_TEST_CLOCK_OFFSET`` (seconds, may be negative) is a fixed offset;
``CTCT_TEST_CLOCK_FILE`` names a file holding a further offset, re-read whenever the file
changes, so a test can move a running process's clock (``MovableClock.set``). Without
either variable this module does nothing.

Moved: ``time.time``/``time_ns``, ``time.gmtime``/``localtime``/``ctime``/``asctime``/
``strftime`` without an explicit time, ``time.clock_gettime[_ns](CLOCK_REALTIME)``,
``datetime.datetime.now``/``utcnow``/``today`` and ``datetime.date.today``. Not moved:
``time.monotonic``/``perf_counter``/``process_time`` (timeouts and sleeps stay real),
and clocks outside Python (SQLite's ``CURRENT_TIMESTAMP``, PostgreSQL's ``now()``,
other processes). Only what the process looks up after start-up is moved, which is
everything imported normally; a module that copied ``time.time`` before this ran (none
can: ``site`` runs first) would keep the real one.
"""

from __future__ import annotations

import datetime as _datetime
import functools
import os
import time as _time
from collections.abc import Callable
from typing import Any

OFFSET_VAR = "CTCT_TEST_CLOCK_OFFSET"
FILE_VAR = "CTCT_TEST_CLOCK_FILE"


def _float(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SystemExit(f"timeshim: {where} is not a number of seconds: {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise SystemExit(f"timeshim: {where} must be finite: {text!r}")
    return value


class _Offset:
    """The fixed offset plus the clock file's, the file re-read when it changes."""

    def __init__(self, fixed: float, path: str | None) -> None:
        self.fixed = fixed
        self.path = path
        self._seen: tuple[int, int, int] | None = None
        self._from_file = 0.0

    def __call__(self) -> float:
        if self.path is None:
            return self.fixed
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            return self.fixed + self._from_file
        stamp = (info.st_ino, info.st_mtime_ns, info.st_size)
        if stamp != self._seen:
            with open(self.path, encoding="ascii") as handle:
                text = handle.read().strip()
            if text:  # a writer renames a complete file in place; empty means 0
                self._from_file = _float(text, self.path)
            else:
                self._from_file = 0.0
            self._seen = stamp
        return self.fixed + self._from_file


def _install(offset: _Offset) -> None:
    real_time = _time.time
    real_time_ns = _time.time_ns
    real_gmtime, real_localtime = _time.gmtime, _time.localtime
    real_ctime, real_asctime, real_strftime = _time.ctime, _time.asctime, _time.strftime
    real_clock_gettime, real_clock_gettime_ns = _time.clock_gettime, _time.clock_gettime_ns

    def time() -> float:
        return real_time() + offset()

    def time_ns() -> int:
        return real_time_ns() + round(offset() * 1e9)

    def gmtime(secs: Any = None) -> _time.struct_time:
        return real_gmtime(time() if secs is None else secs)

    def localtime(secs: Any = None) -> _time.struct_time:
        return real_localtime(time() if secs is None else secs)

    def ctime(secs: Any = None) -> str:
        return real_ctime(time() if secs is None else secs)

    def asctime(t: Any = None) -> str:
        return real_asctime(localtime() if t is None else t)

    def strftime(format: str, t: Any = None) -> str:
        return real_strftime(format, localtime() if t is None else t)

    def clock_gettime(clock_id: int) -> float:
        if clock_id == _time.CLOCK_REALTIME:
            return time()
        return real_clock_gettime(clock_id)

    def clock_gettime_ns(clock_id: int) -> int:
        if clock_id == _time.CLOCK_REALTIME:
            return time_ns()
        return real_clock_gettime_ns(clock_id)

    # As functools.partial objects, not plain functions: partials are no descriptors,
    # so code that keeps one as a class attribute (logging.Formatter.converter =
    # time.localtime) calls it unbound, as it does the builtin.
    replacements: dict[str, Callable[..., Any]] = {
        "time": time,
        "time_ns": time_ns,
        "gmtime": gmtime,
        "localtime": localtime,
        "ctime": ctime,
        "asctime": asctime,
        "strftime": strftime,
        "clock_gettime": clock_gettime,
        "clock_gettime_ns": clock_gettime_ns,
    }
    for name, function in replacements.items():
        setattr(_time, name, functools.partial(function))
    _install_datetime()


class _DatetimeMeta(type):
    # Real datetimes (made by C code, pickles, other modules) still pass isinstance.
    def __instancecheck__(cls, instance: object) -> bool:
        return isinstance(instance, _REAL_DATETIME)


class _DateMeta(type):
    def __instancecheck__(cls, instance: object) -> bool:
        return isinstance(instance, _REAL_DATE)


_REAL_DATETIME = _datetime.datetime
_REAL_DATE = _datetime.date


class _ShiftedDatetime(_datetime.datetime, metaclass=_DatetimeMeta):
    """``datetime.datetime`` whose ``now``/``utcnow``/``today`` read the moved clock."""

    @classmethod
    def now(cls, tz: _datetime.tzinfo | None = None) -> Any:
        return _REAL_DATETIME.fromtimestamp(_time.time(), tz)

    @classmethod
    def utcnow(cls) -> Any:
        return _REAL_DATETIME.fromtimestamp(_time.time(), _datetime.UTC).replace(tzinfo=None)

    @classmethod
    def today(cls) -> Any:
        return _REAL_DATETIME.fromtimestamp(_time.time())


class _ShiftedDate(_datetime.date, metaclass=_DateMeta):
    @classmethod
    def today(cls) -> Any:
        return _REAL_DATE.fromtimestamp(_time.time())


def _install_datetime() -> None:
    for shifted, name in ((_ShiftedDatetime, "datetime"), (_ShiftedDate, "date")):
        shifted.__name__ = shifted.__qualname__ = name
        shifted.__module__ = "datetime"
    _datetime.datetime = _ShiftedDatetime  # type: ignore[misc]
    _datetime.date = _ShiftedDate  # type: ignore[misc]


def _main() -> None:
    fixed_text = os.environ.get(OFFSET_VAR, "").strip()
    path = os.environ.get(FILE_VAR) or None
    if not fixed_text and path is None:
        return
    fixed = _float(fixed_text, OFFSET_VAR) if fixed_text else 0.0
    _install(_Offset(fixed, path))


_main()
