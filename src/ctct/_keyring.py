"""The system keyring: one switch, and no probing where no backend can work.

ctct may keep two entries there: the client secret (service ``ctct``, user
``client-secret``) and the store key (``ctct``/``store-key``). ``CTCT_KEYRING=0`` (or
``no``, ``off``, ``false``) turns the keyring off for both; ``CTCT_STORE_KEYRING``, its
older name, still works the same way (either one off turns it off).

Keyrings hang on servers, in WSL and in containers, and merely importing ``keyring``
loads every backend. So without the switch the keyring is still not asked when no
backend could answer (``unavailable`` says why):

* on Linux and the BSDs the usual backends (Secret Service, KWallet) talk over a D-Bus
  session bus: with none (no ``DBUS_SESSION_BUS_ADDRESS``, no ``$XDG_RUNTIME_DIR/bus``),
  as on servers, in containers and CI, ``keyring`` is not even imported, unless
  ``PYTHON_KEYRING_BACKEND`` or keyring's own config file names a backend, or the
  process has already loaded ``keyring`` itself;
* ``PYTHON_KEYRING_BACKEND`` naming keyring's ``fail`` or ``null`` backend means none;
* after one lookup in a process found no usable backend (``fail``/``null``, an error)
  or timed out, that process does not ask again.

A lookup runs in a daemon thread abandoned after ``timeout`` seconds.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Final

ENV: Final = "CTCT_KEYRING"
OLD_ENV: Final = "CTCT_STORE_KEYRING"
"""The store key's own switch before ``CTCT_KEYRING`` covered it: an alias now."""
SERVICE: Final = "ctct"
TIMEOUT: Final = 2.0
_OFF: Final = frozenset({"0", "no", "off", "false"})
_NO_BACKEND: Final = ("keyring.backends.fail", "keyring.backends.null")

_lock = threading.Lock()
_gone: list[str] = []  # why this process stopped asking (a hang, no usable backend)
_hung: list[str] = []  # the warning of a lookup that hung, for every later lookup to repeat


def switched_off(environ: Mapping[str, str] | None = None) -> bool:
    """``CTCT_KEYRING`` (or its old name ``CTCT_STORE_KEYRING``) says no."""
    env = os.environ if environ is None else environ
    return any(env.get(name, "").strip().lower() in _OFF for name in (ENV, OLD_ENV))


def unavailable(environ: Mapping[str, str] | None = None) -> str | None:
    """Why the keyring will not be asked (switched off, no backend could work), or None."""
    env = os.environ if environ is None else environ
    if switched_off(env):
        name = ENV if env.get(ENV, "").strip().lower() in _OFF else OLD_ENV
        return f"switched off ({name}={env.get(name, '').strip()})"
    if _gone:
        return _gone[0]
    chosen = env.get("PYTHON_KEYRING_BACKEND", "").strip()
    if chosen:
        return f"no backend (PYTHON_KEYRING_BACKEND={chosen})" if _no_backend(chosen) else None
    if "keyring" in sys.modules or sys.platform in ("darwin", "win32") or _configured(env):
        return None
    if not _session_bus(env):
        return "no D-Bus session bus for a Secret Service or KWallet keyring"
    return None


def get_password(
    user: str, *, timeout: float = TIMEOUT, environ: Mapping[str, str] | None = None
) -> tuple[str | None, str | None]:
    """``(password, warning)`` for ``ctct``/``user``. Nothing found, no backend, an error:
    ``(None, None)``; no answer within ``timeout`` (now or in an earlier lookup of this
    process, which is then not repeated): ``(None, warning)``."""
    if unavailable(environ) is not None:
        return None, _hung[0] if _hung and not switched_off(environ) else None
    done = threading.Event()
    answer: list[str | None] = [None]

    def lookup() -> None:
        try:
            import keyring  # imported here: loading backends can itself be slow

            backend = type(keyring.get_keyring()).__module__
            if backend.startswith(_NO_BACKEND):
                _give_up(f"no usable backend ({backend})")
            else:
                answer[0] = keyring.get_password(SERVICE, user)
        except Exception as exc:  # locked, D-Bus errors: all mean "none"
            _give_up(f"the keyring failed ({type(exc).__name__})")
        finally:
            done.set()

    threading.Thread(target=lookup, name="ctct-keyring", daemon=True).start()
    if not done.wait(timeout):
        _give_up(f"it did not answer within {timeout:g} s")
        warning = (
            f"the system keyring did not answer within {timeout:g} s and was not used; "
            f"set {ENV}=0 to skip it"
        )
        with _lock:
            _hung[:] = [warning]
        return None, warning
    return answer[0], None


def _give_up(reason: str) -> None:
    with _lock:
        if not _gone:
            _gone.append(reason)


def forget() -> None:
    """Ask the keyring again (tests that swap backends within one process)."""
    with _lock:
        _gone.clear()
        _hung.clear()


def _no_backend(name: str) -> bool:
    return name.startswith(_NO_BACKEND)


def _session_bus(env: Mapping[str, str]) -> bool:
    if env.get("DBUS_SESSION_BUS_ADDRESS", "").strip():
        return True
    runtime = env.get("XDG_RUNTIME_DIR", "").strip()
    return bool(runtime) and Path(runtime, "bus").exists()


def _configured(env: Mapping[str, str]) -> bool:
    """keyring's config file (``keyringrc.cfg``) exists: the person chose a backend."""
    base = env.get("XDG_CONFIG_HOME", "").strip()
    if not base:
        try:
            base = str(Path.home() / ".config")
        except RuntimeError:  # no home directory to look in
            return False
    return Path(base, "python_keyring", "keyringrc.cfg").exists()
