"""Store URLs: our own query parameters, and a form safe to show (no password)."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ctct import _redact
from ctct.errors import ConfigError

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def redact_url(url: str) -> str:
    """``url`` with any password replaced by the mask (for messages, status and doctor):
    ctct's one rule for that, ``ctct._redact.redact_url`` (the authority's password and
    password-like query parameters such as libpq's ``?password=``)."""
    return _redact.redact_url(url)


def split_options(url: str, known: dict[str, str]) -> tuple[str, dict[str, str]]:
    """Take ctct's own query parameters (``known``: name -> default) out of ``url``.

    Returns the URL without them (for the driver) and the options with defaults filled.
    """
    parts = urlsplit(url)
    ours = dict(known)
    rest: list[tuple[str, str]] = []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name in known:
            ours[name] = value
        else:
            rest.append((name, value))
    return urlunsplit(parts._replace(query=urlencode(rest))), ours


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
