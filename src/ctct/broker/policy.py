"""Who may read which profile's token.

A caller is a unix-socket peer (its uid and gid from ``SO_PEERCRED``) or a TCP caller
known by the name of its key. A policy file lists rules; the first rule that matches
the caller decides which profiles it may read (shell-style patterns)::

    [[allow]]
    uid = 33                  # www-data, over the unix socket
    profiles = ["shop"]

    [[allow]]
    group = "workers"         # any member's primary group, by name or gid = N
    profiles = ["acme-*"]

    [[allow]]
    key = "node-worker"       # a TCP caller presenting that key
    profiles = ["*"]

Without a policy file only the broker's own uid may read tokens (every profile), and
every key in the key file may read every profile.
"""

from __future__ import annotations

import fnmatch
import grp
import os
import pwd
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ctct.errors import ConfigError


@dataclass(frozen=True)
class Caller:
    """Who is asking. ``uid``/``gid``/``pid`` for unix peers, ``key`` for TCP callers."""

    uid: int | None = None
    gid: int | None = None
    pid: int | None = None
    key: str | None = None

    def __str__(self) -> str:
        return self.describe()

    def describe(self) -> str:
        if self.key is not None:
            return f"key {self.key!r}"
        if self.uid is not None:
            return f"uid {self.uid} gid {self.gid} pid {self.pid}"
        return "an unidentified caller"


@dataclass(frozen=True)
class Rule:
    uid: int | None = None
    gid: int | None = None
    key: str | None = None
    profiles: tuple[str, ...] = ("*",)

    def matches(self, caller: Caller) -> bool:
        if self.key is not None:
            return caller.key == self.key
        if caller.uid is None:
            return False
        if self.uid is not None:
            return caller.uid == self.uid
        return self.gid is not None and caller.gid == self.gid

    def allows(self, profile: str) -> bool:
        return any(fnmatch.fnmatchcase(profile, pattern) for pattern in self.profiles)


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...]
    source: str

    def allows(self, caller: Caller, profile: str) -> bool:
        for rule in self.rules:
            if rule.matches(caller):
                return rule.allows(profile)
        return False

    @classmethod
    def default(cls, key_names: Sequence[str] = ()) -> Policy:
        rules = [Rule(uid=os.getuid()), *(Rule(key=name) for name in key_names)]
        return cls(tuple(rules), "default: the broker's own uid, and every key")

    @classmethod
    def load(cls, path: Path) -> Policy:
        try:
            data = tomllib.loads(path.read_text())
        except OSError as exc:
            raise ConfigError(f"Cannot read the broker policy {path}: {exc.strerror}.") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"The broker policy {path} is not valid TOML: {exc}.") from None
        unknown = set(data) - {"allow"}
        if unknown:
            raise ConfigError(
                f"The broker policy {path} has unknown keys {sorted(unknown)}; "
                "it holds [[allow]] tables only."
            )
        tables = data.get("allow", [])
        if not isinstance(tables, list) or not tables:
            raise ConfigError(f"The broker policy {path} has no [[allow]] rule.")
        return cls(tuple(_rule(path, i, t) for i, t in enumerate(tables, 1)), str(path))


def _rule(path: Path, index: int, table: object) -> Rule:
    where = f"{path}, rule {index}"
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: each [[allow]] must be a table.")
    unknown = set(table) - {"uid", "user", "gid", "group", "key", "profiles"}
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}.")
    who = [k for k in ("uid", "user", "gid", "group", "key") if k in table]
    if len(who) != 1:
        raise ConfigError(f"{where}: name exactly one of uid, user, gid, group or key.")
    profiles = table.get("profiles", None)
    if (
        not isinstance(profiles, list)
        or not profiles
        or not all(isinstance(p, str) and p for p in profiles)
    ):
        raise ConfigError(f"{where}: 'profiles' must be a list of profile names or patterns.")
    kind, value = who[0], table[who[0]]
    patterns = tuple(profiles)
    try:
        if kind == "uid":
            return Rule(uid=_int(value), profiles=patterns)
        if kind == "gid":
            return Rule(gid=_int(value), profiles=patterns)
        if kind == "user":
            return Rule(uid=pwd.getpwnam(str(value)).pw_uid, profiles=patterns)
        if kind == "group":
            return Rule(gid=grp.getgrnam(str(value)).gr_gid, profiles=patterns)
    except KeyError:
        raise ConfigError(f"{where}: there is no {kind} {value!r} on this machine.") from None
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: 'key' must be the name of a key in the key file.")
    return Rule(key=value, profiles=patterns)


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"expected a non-negative integer id, got {value!r}")
    return value
