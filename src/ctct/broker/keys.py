"""Bearer keys for TCP callers: a file of ``NAME KEY`` lines, readable by its owner only.

The broker keeps only SHA-256 digests of the keys in memory and compares digests in
constant time, so a key never sits in a log, a repr or an exception.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path

from ctct.errors import ConfigError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MIN_KEY_LENGTH = 24


def new_key() -> str:
    return "ctb_" + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class KeyRing:
    """Key name by digest."""

    names: dict[bytes, str] = field(default_factory=dict, repr=False)

    def name_for(self, presented: str | None) -> str | None:
        """The name of the key presented, or None when it is not one of ours."""
        if not presented:
            return None
        digest = hashlib.sha256(presented.encode()).digest()
        found = None
        for known, name in self.names.items():
            # Compare against every key: the time taken does not say which one matched.
            if hmac.compare_digest(known, digest):
                found = name
        return found

    def __len__(self) -> int:
        return len(self.names)


def check_private(path: Path, what: str) -> None:
    """Refuse a secret file that others may read or that is a symlink."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise ConfigError(f"The {what} {path} does not exist.") from None
    except OSError as exc:
        raise ConfigError(f"Cannot read the {what} {path}: {exc.strerror}.") from None
    if stat.S_ISLNK(info.st_mode):
        raise ConfigError(f"The {what} {path} is a symlink; give the real file's path.")
    if info.st_mode & 0o077:
        raise ConfigError(
            f"The {what} {path} can be read by other users (mode "
            f"{stat.S_IMODE(info.st_mode):04o}); run `chmod 600 {path}`."
        )
    if info.st_uid != os.getuid():
        raise ConfigError(f"The {what} {path} belongs to another user; it must be yours.")


def load_keys(path: Path) -> KeyRing:
    check_private(path, "broker key file")
    names: dict[bytes, str] = {}
    seen: set[str] = set()
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2 or not _NAME.match(parts[0]):
            raise ConfigError(
                f"{path}, line {number}: expected 'NAME KEY' (a name of letters, digits, "
                "'.', '_' or '-', a space, then the key)."
            )
        name, key = parts
        if len(key) < MIN_KEY_LENGTH:
            raise ConfigError(
                f"{path}, line {number}: the key for {name!r} is shorter than "
                f"{MIN_KEY_LENGTH} characters; make one with `ctct broker new-key {name}`."
            )
        if name in seen:
            raise ConfigError(f"{path}, line {number}: the name {name!r} appears twice.")
        seen.add(name)
        names[hashlib.sha256(key.encode()).digest()] = name
    if not names:
        raise ConfigError(f"The broker key file {path} holds no key.")
    return KeyRing(names)


def append_key(path: Path, name: str) -> str:
    """Add a new key named ``name`` to the file (created 0600); return the key."""
    if not _NAME.match(name):
        raise ConfigError(f"Key name {name!r}: use letters, digits, '.', '_' or '-' (at most 64).")
    if path.exists():
        check_private(path, "broker key file")
        for raw in path.read_text().splitlines():
            parts = raw.split()
            if parts and parts[0] == name:
                raise ConfigError(f"{path} already has a key named {name!r}.")
    key = new_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, f"{name} {key}\n".encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    return key
