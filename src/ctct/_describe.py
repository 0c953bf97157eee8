"""``describe_error``: what went wrong, in words, for a message a person reads.

Messages never name Python exception classes (``ConnectError``, ``PermissionError``
mean nothing to someone running a command). This turns the failures ctct expects
from the operating system and the HTTP stack into a short phrase. It never quotes
library text beyond the operating system's error string (``strerror``), which names
no secrets. Imports nothing heavy: httpx2's classes are recognised by name, so the
CLI's error paths do not pay for importing it.
"""

from __future__ import annotations

import errno

# httpx2 (and httpx) exception class -> what it means; checked along the class's MRO.
_HTTP_PHRASES = {
    "ConnectTimeout": "the connection timed out",
    "ReadTimeout": "the server did not answer in time",
    "WriteTimeout": "sending the request timed out",
    "PoolTimeout": "no connection was free in time",
    "TimeoutException": "it timed out",
    "ProxyError": "the proxy refused the connection",
    "ConnectError": "could not connect",
    "ReadError": "the connection broke while reading the answer",
    "WriteError": "the connection broke while sending the request",
    "RemoteProtocolError": "the server broke the HTTP protocol (closed the connection early?)",
    "LocalProtocolError": "the request could not be sent as HTTP",
    "DecodingError": "the answer could not be decoded",
    "UnsupportedProtocol": "the URL's scheme is not http or https",
    "TooManyRedirects": "too many redirects",
}
_ERRNO_PHRASES = {
    errno.ECONNREFUSED: "connection refused: nothing listens there",
    errno.ECONNRESET: "the connection was reset",
    errno.EHOSTUNREACH: "the host is unreachable",
    errno.ENETUNREACH: "the network is unreachable",
    errno.ETIMEDOUT: "the connection timed out",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ENOENT: "no such file or directory",
    errno.EISDIR: "it is a directory",
    errno.ENOTDIR: "a part of the path is not a directory",
}


def describe_error(exc: BaseException) -> str:
    """A lower-case phrase for ``exc`` (``connection refused (nothing listens there)``,
    ``permission denied``); never its class name."""
    for cause in _chain(exc):
        if isinstance(cause, UnicodeDecodeError):
            return "it is not UTF-8 text"
        if isinstance(cause, OSError):
            phrase = _os_phrase(cause)
            if phrase is not None:
                return phrase
    names = [cls.__name__ for cls in type(exc).__mro__]
    for name in names:
        if name in _HTTP_PHRASES:
            detail = next((_os_phrase(c) for c in _chain(exc) if isinstance(c, OSError)), None)
            if detail is None and "gaierror" in {type(c).__name__ for c in _chain(exc)}:
                detail = "the host name does not resolve"
            base = _HTTP_PHRASES[name]
            return f"{base}: {detail}" if detail and detail != base else base
    if "SSLError" in {type(c).__name__ for c in _chain(exc)}:
        return "the TLS handshake failed (certificate or protocol)"
    return "an unexpected failure"


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _os_phrase(exc: OSError) -> str | None:
    if type(exc).__name__ in ("gaierror", "herror"):
        return "the host name does not resolve"
    if type(exc).__name__.startswith("SSL"):
        return "the TLS handshake failed (certificate or protocol)"
    if exc.errno in _ERRNO_PHRASES:
        return _ERRNO_PHRASES[exc.errno]
    if exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    return None
