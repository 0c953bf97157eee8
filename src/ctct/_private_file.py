"""Files that hold secrets or private data: read only if private, written private.

Reading (a store key, a client secret): it must be a regular file that neither group nor
others can access (mode 0600 or stricter). A secret in a file others can read is already
exposed, so ctct refuses it and says how to fix the mode rather than using it quietly.

Writing (a token sink, a contacts export): the data goes to a new temporary file in the
same directory, created 0600, given its final mode and group, fsync'd and renamed over
the target; a reader sees the old file or the new one, never half of one, never with a
looser mode, and a descriptor someone opened on the old file never sees the new data.
"""

from __future__ import annotations

import contextlib
import os
import secrets
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


def write_private(path: Path, data: bytes, *, mode: int = 0o600, gid: int = -1) -> None:
    """Replace ``path`` atomically with ``data`` (see the module docstring)."""
    directory = path.parent
    tmp = directory / f".{path.name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, mode)
        if gid != -1:
            os.fchown(fd, -1, gid)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
