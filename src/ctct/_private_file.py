"""Reading a file that holds a secret (a store key, a client secret): only if private.

One rule for every such file: it must be a regular file that neither group nor others
can access (mode 0600 or stricter). A secret in a file others can read is already
exposed, so ctct refuses it and says how to fix the mode rather than using it quietly.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ctct.errors import ConfigError

_MAX_BYTES = 64 * 1024


def read_private(path: Path, what: str) -> bytes:
    """The content of ``path`` (``what`` names it in errors, e.g. "the store key file").

    Raises ``ConfigError`` if it is missing, not a regular file, or open to group or
    others. The mode is checked on the opened file, so a path swapped meanwhile cannot
    slip past the check.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"{what} {path} is not a regular file")
        if info.st_mode & 0o077:
            raise ConfigError(_open_to_others(what, path, info.st_mode))
        data = os.read(fd, _MAX_BYTES)
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from None
    finally:
        os.close(fd)
    return data


def _open_to_others(what: str, path: Path, mode: int) -> str:
    return (
        f"{what} {path} is accessible by group or others (mode {stat.S_IMODE(mode):04o}); "
        f"run: chmod 600 {path}"
    )
