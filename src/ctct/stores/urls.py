"""Store URLs: SQLite paths, our own query parameters, and a form safe to show (no
password). Every malformed URL is a ``ConfigError`` saying what to write instead."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit

from ctct import _redact
from ctct.errors import ConfigError

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def redact_url(url: str) -> str:
    """``url`` with any password replaced by the mask (for messages, status and doctor):
    ctct's one rule for that, ``ctct._redact.redact_url`` (the authority's password and
    password-like query parameters such as libpq's ``?password=``)."""
    return _redact.redact_url(url)


SQLITE_FORMS = (
    "sqlite:///absolute/path/tokens.db (three slashes, then the absolute path; four, as "
    "SQLAlchemy writes it, work too) or sqlite:// for the default file"
)


def sqlite_path(url: str) -> Path | None:
    """The file a ``sqlite://`` URL names; None for ``sqlite://`` (the default file).

    ``ctct._entry._store_path`` (the ``auth token`` fast path) applies the same rules.
    """
    rest = url.partition("://")[2]
    if not rest:
        return None
    if not rest.startswith("/"):
        raise ConfigError(
            f"store URL {url!r}: the SQLite path must be absolute; use {SQLITE_FORMS}"
        )
    problem = (
        "has a query or fragment (SQLite store URLs take none)"
        if "?" in rest or "#" in rest
        else "contains a NUL character"
        if "\x00" in rest
        else "names no file"
        if not rest.strip("/")
        else "ends with '/' (that names a directory)"
        if rest.endswith("/")
        else None
    )
    if problem is not None:
        raise ConfigError(f"store URL {url!r} {problem}; use {SQLITE_FORMS}")
    # "sqlite:////srv/tokens.db" (SQLAlchemy's form) is the same file as three slashes;
    # POSIX leaves a leading "//" implementation-defined, so never keep one.
    return Path("/" + rest.lstrip("/"))


def split_options(url: str, known: dict[str, str]) -> tuple[str, dict[str, str]]:
    """Take ctct's own query parameters (``known``: name -> default) out of ``url``.

    Returns the URL without them (for the driver) and the options with defaults filled.
    """
    parts = _split(url)
    ours = dict(known)
    rest: list[tuple[str, str]] = []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name in known:
            ours[name] = value
        else:
            rest.append((name, value))
    return _unsplit(parts._replace(query=urlencode(rest))), ours


def _split(url: str) -> SplitResult:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises for a port that is not a number 0-65535
    except ValueError:
        raise ConfigError(
            f"the store URL {redact_url(url)} is not a valid URL: check its host (an IPv6 "
            "address goes in brackets, as in [::1]) and its port (a number 1-65535)"
        ) from None
    return parts


def _unsplit(parts: SplitResult) -> str:
    """``urlunsplit``, except that an empty host keeps its "//" ("redis:///0" stays so;
    ``urlunsplit`` makes it "redis:/0", which the drivers refuse)."""
    text = f"{parts.scheme}://{parts.netloc}{parts.path}"
    if parts.query:
        text += "?" + parts.query
    if parts.fragment:
        text += "#" + parts.fragment
    return text


def identifier(value: str, what: str, url: str) -> str:
    """A PostgreSQL schema name we can quote safely (lower case, letters, digits, _)."""
    if not _IDENTIFIER.match(value):
        raise ConfigError(
            f"{what} {value!r} in the store URL {redact_url(url)} is not a plain name: use "
            "lower-case letters, digits and underscores (at most 63), starting with a letter"
        )
    return value


def positive_int(value: str, what: str, url: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(
            f"{what} in the store URL {redact_url(url)} must be a positive integer, got {value!r}"
        )
    return int(value)
