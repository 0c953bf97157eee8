"""One masking rule for every message built from text a server sent.

Whatever a provider, a proxy or the API answers may echo what it received: an
``error_description`` quoting the refresh token, an ``error_message`` quoting the
bearer header, a device ``verification_uri`` carrying the client secret. Every message,
exception attribute and log line built from server text goes through ``Held.mask`` (or
``server_text``, which also makes it one printable line):

* each value ctct holds or sent (access and refresh tokens, authorization codes, PKCE
  verifiers, device codes, the client secret) is masked, exactly and in its
  URL-encoded, JSON-escaped and base64 (standard and URL-safe, with or without padding,
  at any byte alignment) forms;
* so is any run of ``MIN_RUN`` (12) or more consecutive characters of one of those
  forms, so a truncated or partly quoted echo hides all but at most 11 characters;
* so is anything JWT-shaped: a run starting ``eyJ`` (base64 of ``{"``) of base64url
  characters, with the dot-separated segments that follow it;
* nothing else is touched: UUIDs, activity and request ids and the provider's own
  wording stay readable.

``printable`` escapes what could drive a terminal (C0 and C1 controls such as ESC, CSI,
OSC and BEL, DEL, and the Unicode bidi and zero-width controls) as ``\\x1b``-style text.

A ``Held`` is cheap to build (it keeps references); its index of encodings is computed
on the first ``mask`` call, which only error paths make.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar
from urllib.parse import parse_qsl, quote, quote_plus, unquote_plus, urlencode, urlsplit, urlunsplit

from ctct._secret import MASK, Secret

if TYPE_CHECKING:
    import httpx2

MIN_RUN: Final = 12
"""A run of this many characters of a held value (or of one of its encodings) is masked."""
MIN_SECRET: Final = 3
"""Shorter values are not treated as secrets: masking every occurrence of one or two
characters would mangle ordinary text. Values shorter than ``MIN_RUN`` are masked where
they appear whole (and encoded)."""

_JWT: Final = re.compile(r"eyJ[A-Za-z0-9_-]{7,}(?:\.[A-Za-z0-9_-]+){0,4}")
_CONTROLS_ALL: Final = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]"
)
_CONTROLS_BUT_LINES: Final = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]"
)
_SECRET_FIELDS: Final = frozenset(
    {
        "refresh_token",
        "access_token",
        "code",
        "code_verifier",
        "device_code",
        "token",
        "client_secret",
        "assertion",
        "client_assertion",
        "password",
    }
)
_PASSWORD_PARAMS: Final = frozenset({"password", "pass", "passwd", "pwd", "secret", "token"})


E = TypeVar("E", bound=BaseException)


class _HasTokens(Protocol):
    @property
    def access_token(self) -> Secret | None: ...

    @property
    def refresh_token(self) -> Secret | None: ...


class Held:
    """The secret values a message must not show. Build with any mix of strings,
    ``Secret``s, ``None`` (ignored), other ``Held`` and iterables of those."""

    __slots__ = ("_index", "_values")

    def __init__(self, *values: Any) -> None:
        found: set[str] = set()
        _collect(values, found)
        self._values: frozenset[str] = frozenset(v for v in found if len(v) >= MIN_SECRET)
        self._index: _Index | None = None

    def plus(self, *values: Any) -> Held:
        """A ``Held`` with these values too."""
        return Held(self, *values)

    def __bool__(self) -> bool:
        return bool(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Held({len(self._values)} values)"

    def reveal_all(self) -> frozenset[str]:
        """The values themselves (for building another ``Held`` or for tests)."""
        return self._values

    def mask(self, text: str) -> str:
        """``text`` with every held value, its encodings, any run of ``MIN_RUN`` of
        their characters, and every JWT-shaped run replaced by the mask."""
        if not text:
            return text
        spans: list[tuple[int, int]] = []
        spans.extend(m.span() for m in _JWT.finditer(text))
        if self._values:
            if self._index is None:
                self._index = _Index(self._values)
            spans.extend(self._index.spans(text))
        return _apply(text, spans)

    def shows(self, text: str) -> bool:
        """Whether ``text`` shows a held value (or a run of one): what ``mask`` would hide,
        JWT shapes aside."""
        if not self._values or not text:
            return False
        if self._index is None:
            self._index = _Index(self._values)
        return bool(self._index.spans(text))


class _Index:
    """Every encoded form of the held values, as ``MIN_RUN``-grams plus the short forms."""

    def __init__(self, values: Iterable[str]) -> None:
        forms: set[str] = set()
        for value in values:
            forms.update(encodings(value))
        long_forms = [f for f in forms if len(f) >= MIN_RUN]
        self.grams = {f[i : i + MIN_RUN] for f in long_forms for i in range(len(f) - MIN_RUN + 1)}
        self.short = sorted((f for f in forms if MIN_SECRET <= len(f) < MIN_RUN), key=len)
        alphabet = sorted({c for f in long_forms for c in f})
        self.runs = (
            re.compile("[" + "".join(re.escape(c) for c in alphabet) + f"]{{{MIN_RUN},}}")
            if alphabet
            else None
        )

    def spans(self, text: str) -> list[tuple[int, int]]:
        spans: list[tuple[int, int]] = []
        grams = self.grams
        if self.runs is not None:
            # Only runs made of the forms' characters can hold a gram: the regex finds
            # them at C speed, then each window of a run is looked up.
            for run in self.runs.finditer(text):
                start, end = run.span()
                for i in range(start, end - MIN_RUN + 1):
                    if text[i : i + MIN_RUN] in grams:
                        spans.append((i, i + MIN_RUN))
        for form in self.short:
            at = text.find(form)
            while at != -1:
                spans.append((at, at + len(form)))
                at = text.find(form, at + 1)
        return spans


def encodings(value: str) -> set[str]:
    """``value`` as it may come back: itself, URL-encoded, JSON-escaped, and base64
    (standard and URL-safe, padded or not, at each of the three byte alignments it can
    have inside a longer encoded string, such as a Basic header's ``id:secret``)."""
    forms = {value}
    forms.add(quote(value, safe=""))
    forms.add(quote(value, safe="/"))
    forms.add(quote_plus(value))
    forms.add(json.dumps(value)[1:-1])
    forms.add(json.dumps(value, ensure_ascii=False)[1:-1])
    forms.add(json.dumps(value)[1:-1].replace("/", "\\/"))  # PHP escapes slashes
    raw = value.encode("utf-8")
    for shift, head in ((0, 0), (1, 2), (2, 3)):
        # Inside a longer encoded string (a Basic header's ``id:secret``) the value can
        # start at any of three byte alignments: the first characters then mix in the
        # bytes before it, and the last ones the bytes after it. Keep the characters
        # that depend on ``value`` alone, in each alignment.
        encoded = base64.b64encode(b"\0" * shift + raw).decode("ascii")[head:]
        unpadded = encoded.rstrip("=")
        candidates = [encoded, unpadded]
        if (len(raw) + shift) % 3:
            candidates.append(unpadded[:-1])
        for form in candidates:
            forms.add(form)
            forms.add(form.translate(_URLSAFE))
    forms.discard("")
    return forms


_URLSAFE: Final = str.maketrans("+/", "-_")


def _collect(values: Iterable[Any], into: set[str]) -> None:
    for value in values:
        if value is None:
            continue
        if isinstance(value, str):
            if value:
                into.add(value)
        elif isinstance(value, Secret):
            if value:
                into.add(value.reveal())
        elif isinstance(value, Held):
            into.update(value.reveal_all())
        elif isinstance(value, Iterable):
            _collect(value, into)
        else:
            raise TypeError(f"cannot hold a {type(value).__name__}")


def _apply(text: str, spans: list[tuple[int, int]]) -> str:
    if not spans:
        return text
    spans.sort()
    out: list[str] = []
    position = 0
    start, end = spans[0]
    for s, e in spans[1:]:
        if s <= end:  # overlapping or touching: one mask
            end = max(end, e)
            continue
        out.append(text[position:start])
        out.append(MASK)
        position = end
        start, end = s, e
    out.append(text[position:start])
    out.append(MASK)
    out.append(text[end:])
    return "".join(out)


NOTHING: Final = Held()


def jwt_shaped(text: str) -> bool:
    """Whether ``text`` holds a JWT-shaped run (what ``mask`` hides even unheld)."""
    return _JWT.search(text) is not None


# -- where held values come from ---------------------------------------------------------


def in_request(request: httpx2.Request | None) -> list[str]:
    """The secret values a request carries: its form fields that hold tokens, codes,
    verifiers or the client secret, and its Basic or Bearer credentials."""
    if request is None:
        return []
    found: list[str] = []
    try:
        body = request.content.decode("utf-8", "replace")
    except Exception:  # httpx2.RequestNotRead: a streamed body we never read
        body = ""
    if body and "json" not in request.headers.get("content-type", ""):
        found.extend(v for k, v in parse_qsl(body) if k in _SECRET_FIELDS)
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "basic":
        try:
            pair = base64.b64decode(credentials, validate=True).decode("utf-8")
        except ValueError:
            pair = ""
        password = pair.partition(":")[2]
        found.extend((unquote_plus(password), password, credentials))
    elif scheme.lower() == "bearer":
        found.append(credentials)
    return found


def in_response(response: httpx2.Response) -> list[str]:
    """``in_request`` of the request ``response`` answers (nothing if it has none)."""
    try:
        request = response.request
    except RuntimeError:  # a Response built without a request
        return []
    return in_request(request)


def in_tokens(tokens: _HasTokens | None) -> list[Secret]:
    """The access and refresh token of a token set."""
    if tokens is None:
        return []
    return [t for t in (tokens.access_token, tokens.refresh_token) if t is not None]


# -- showing server text ---------------------------------------------------------------


def printable(text: str, *, lines: bool = False) -> str:
    """``text`` with control characters escaped (``\\x1b``, ``\\u202e``...), so it cannot
    move the cursor, retitle the window or reorder what the reader sees. ``lines``
    keeps newlines and tabs."""
    pattern = _CONTROLS_BUT_LINES if lines else _CONTROLS_ALL
    return pattern.sub(_escape_char, text)


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def server_text(value: object, held: Held = NOTHING, *, limit: int | None = 200) -> str:
    """Server-sent ``value`` fit for a message: one line, held values and JWTs masked,
    control characters escaped, at most ``limit`` characters. Not a string: ``""``."""
    if not isinstance(value, str):
        return ""
    text = " ".join(value.split())
    text = held.mask(text)
    text = printable(text)
    if limit is not None and len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def scrub(error: E, held: Held) -> E:
    """Mask ``held`` in an exception on its way out of a boundary that knows more
    secrets than the code that raised it: its args, its string attributes (``message``,
    ``code``...), and the strings inside its tuples, lists, dicts and dataclasses, and
    the same for the exceptions it chains to. Returns ``error``."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen and len(seen) < 8:
        seen.add(id(current))
        current.args = tuple(_scrubbed(a, held) for a in current.args)
        for name, value in list(vars(current).items()):
            if name.startswith("__"):
                continue
            cleaned = _scrubbed(value, held)
            if cleaned is not value:
                setattr(current, name, cleaned)
        current = current.__cause__ or current.__context__
    return error


def _scrubbed(value: Any, held: Held, depth: int = 0) -> Any:
    if depth > 6:
        return value
    if isinstance(value, str):
        masked = held.mask(value)
        return value if masked == value else masked
    if isinstance(value, tuple | list):
        items = [_scrubbed(v, held, depth + 1) for v in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return type(value)(items) if not hasattr(value, "_fields") else type(value)(*items)
    if isinstance(value, dict):
        changed = {k: _scrubbed(v, held, depth + 1) for k, v in value.items()}
        return value if all(changed[k] is value[k] for k in value) else changed
    fields = getattr(value, "__dataclass_fields__", None)
    if fields is not None and not isinstance(value, type):
        import dataclasses

        updates = {}
        for name in fields:
            current = getattr(value, name)
            cleaned = _scrubbed(current, held, depth + 1)
            if cleaned is not current:
                updates[name] = cleaned
        return dataclasses.replace(value, **updates) if updates else value
    return value


# -- URLs with passwords -----------------------------------------------------------------


def redact_url(url: str) -> str:
    """``url`` with the password in its authority (``postgresql://user:pass@host``,
    ``redis://:pass@host``) and password-like query parameters replaced by the mask.
    A URL that does not parse keeps only its scheme and host part after the ``@``."""
    if "://" not in url:
        # Not a URL, but ``user:pass@host`` still names a password.
        return f"{MASK}@{url.rpartition('@')[2]}" if "@" in url else url
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        scheme, sep, rest = url.partition("://")
        return f"{scheme}{sep}{MASK}@{rest.rpartition('@')[2]}" if "@" in rest else url
    netloc = parts.netloc
    if password is not None:
        host = netloc.rpartition("@")[2]
        user = netloc.rpartition("@")[0].partition(":")[0]
        netloc = f"{user}:{MASK}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k.lower() in _PASSWORD_PARAMS for k, _ in pairs):
            query = urlencode(
                [(k, MASK if k.lower() in _PASSWORD_PARAMS else v) for k, v in pairs],
                safe="*",
            )
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit(parts._replace(netloc=netloc, query=query))
