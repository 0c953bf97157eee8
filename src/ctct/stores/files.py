"""Creating and checking the store's files: private from creation, never clobbered.

Modes are set with ``os.open(..., 0o600)`` plus ``fchmod`` on files we create (exact,
whatever the umask, without changing the process umask, which is not thread-safe).
Existing files are only opened read-only here, so a damaged store is never altered.

Tokens are written only into files that are private: the database and its ``-wal`` and
``-shm`` files must each be a regular file (not a symbolic link: one planted at the
store path would send the tokens to a file its planter can read), owned by this user,
that group and others cannot access. Anything else is refused before SQLite opens it,
with a message saying how to fix it; ctct never changes the mode of a file it did not
just create (a file that was readable may already have been copied).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ctct.errors import StoreError
from ctct.stores.base import StoreCorrupt

_SQLITE_MAGIC = b"SQLite format 3\x00"
_SQLITE_HEADER = 100


def private_dir(path: Path, warnings: list[str]) -> None:
    """Create ``path`` and missing parents 0700; warn if an existing one is open to others."""
    missing: list[Path] = []
    cursor = path
    while not cursor.exists():
        missing.append(cursor)
        cursor = cursor.parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, 0o700)
            os.chmod(directory, 0o700)  # exact, whatever the umask
        except FileExistsError:
            pass  # another process made it meanwhile
        except OSError as exc:
            raise StoreError(
                f"cannot create the store directory {directory}: {exc.strerror}"
            ) from None
    if not path.is_dir():
        raise StoreError(f"the store directory {path} is not a directory")
    if not missing and path.stat().st_mode & 0o077:
        warnings.append(
            f"the store directory {path} is accessible by group or others; keep the store "
            f"in a private directory (chmod 700 {path})"
        )


def create_private(path: Path) -> bool:
    """Create ``path`` empty with mode 0600 unless it exists; True if it was created."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        return False
    except IsADirectoryError:
        return False
    except OSError as exc:
        raise StoreError(f"cannot create {path}: {exc.strerror}") from None
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    return True


def check_sqlite_file(path: Path) -> None:
    """Create the file, or check (reading only) that it looks like an SQLite database
    and is private (see the module docstring)."""
    create_private(path)
    if os.path.islink(path):
        raise StoreError(_symlink_message("the token store", path))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError as exc:
        raise StoreError(
            f"cannot open the token store {path}: {exc.strerror}; check that it is a file "
            "owned by this user with mode 0600, or point ctct at another store"
        ) from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise StoreError(
                f"the token store {path} is a directory; point ctct at a file path instead"
            )
        if not stat.S_ISREG(info.st_mode):
            raise StoreError(f"the token store {path} is not a regular file")
        header = os.pread(fd, _SQLITE_HEADER, 0)
    except OSError as exc:
        raise StoreError(f"cannot read the token store {path}: {exc.strerror}") from None
    finally:
        os.close(fd)
    if header and (len(header) < _SQLITE_HEADER or not header.startswith(_SQLITE_MAGIC)):
        raise StoreCorrupt(
            f"the token store {path} is not an SQLite database (damaged or another kind of "
            "file); ctct leaves it untouched: move it aside and log in again, or restore it"
        )
    _check_private("the token store", path, info)


def check_companion_file(path: Path, what: str) -> None:
    """Create SQLite's ``-wal`` or ``-shm`` file 0600 unless it exists; refuse one that
    is a link, not a regular file, someone else's, or open to group or others."""
    create_private(path)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return  # SQLite removed it meanwhile; it recreates it with the database's mode
    except OSError as exc:
        raise StoreError(f"cannot check {what} {path}: {exc.strerror}") from None
    if stat.S_ISLNK(info.st_mode):
        raise StoreError(_symlink_message(what, path))
    if not stat.S_ISREG(info.st_mode):
        raise StoreError(f"{what} {path} is not a regular file; move it aside")
    _check_private(what, path, info)


def _check_private(what: str, path: Path, info: os.stat_result) -> None:
    if info.st_uid != os.geteuid():
        raise StoreError(_foreign_owner(what, path, info.st_uid))
    if info.st_mode & 0o077:
        raise StoreError(_open_to_others(what, path, info.st_mode))


def _foreign_owner(what: str, path: Path, uid: int) -> str:
    return (
        f"{what} {path} belongs to another user (uid {uid}); ctct writes tokens only into "
        "files this user owns: move it aside, or point ctct at another store"
    )


def _open_to_others(what: str, path: Path, mode: int) -> str:
    return (
        f"{what} {path} is accessible by group or others (mode {stat.S_IMODE(mode):04o}); "
        f"ctct writes no tokens into it: run chmod 600 {path} (anyone who could read it "
        "may have copied its tokens: log in again if that matters)"
    )


def _symlink_message(what: str, path: Path) -> str:
    return (
        f"{what} {path} is a symbolic link (to {os.readlink(path)}); ctct does not follow "
        "one there, as a link planted by someone else would send the tokens to a file they "
        "can read: remove it, or point ctct at the real file (sqlite:///real/path)"
    )
