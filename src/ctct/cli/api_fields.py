"""The request parameters of ``ctct api``, as ``gh api`` takes them: ``-f key=value``
(a string), ``-F key=value`` (typed: ``true``, ``false``, ``null`` and numbers become
JSON, ``@FILE`` reads the value from a file, ``@-`` from standard input) and
``-H 'Name: value'`` headers.

Keys nest like gh's: ``a[b]=1`` sets ``{"a": {"b": 1}}``, ``a[]=1`` appends to an array,
``a[][b]=1`` appends an object to an array (or fills in the last one while it has no
``b`` yet). Pure logic: reading ``@FILE`` goes through the ``read`` function given.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlencode

from ctct.api.errors import InputError

_KEY = re.compile(r"^(?P<head>[^\[\]]+)(?P<rest>(?:\[[^\[\]]*\])*)$")
_PART = re.compile(r"\[([^\[\]]*)\]")
_NUMBER = re.compile(r"^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
# Set by ctct itself: a user's value would be dropped or would fight the token manager.
_OWN_HEADERS = frozenset({"authorization", "host", "content-length"})


def typed_value(text: str, read: Callable[[str], str]) -> Any:
    """``-F``'s reading of ``text``: JSON literals and numbers typed, ``@FILE`` read."""
    if text in ("true", "false", "null"):
        return json.loads(text)
    if _NUMBER.match(text):
        return json.loads(text)
    if text.startswith("@"):
        return read(text[1:])
    return text


def parse_fields(
    raw: Iterable[str], typed: Iterable[str], read: Callable[[str], str]
) -> dict[str, Any]:
    """One parameter document from the ``-f`` values, then the ``-F`` values."""
    document: dict[str, Any] = {}
    pairs = [(item, "-f", False) for item in raw] + [(item, "-F", True) for item in typed]
    for item, flag, is_typed in pairs:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise InputError(f"{flag} {item!r}: give key=value.")
        value = typed_value(text, read) if is_typed else text
        _place(document, key, value, f"{flag} {item!r}")
    return document


def _place(document: dict[str, Any], key: str, value: Any, where: str) -> None:
    match = _KEY.match(key)
    if match is None:
        raise InputError(f"{where}: the key {key!r} is not name, name[sub] or name[].")
    parts = [match["head"], *_PART.findall(match["rest"])]
    node: Any = document
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        following = None if last else parts[index + 1]
        if isinstance(node, list):
            # ``[]`` on an array: append, or descend into the last object while it does
            # not have the next key yet (gh's a[][k]=v).
            if last:
                node.append(value)
                return
            if following == "":
                raise InputError(f"{where}: arrays of arrays are not supported.")
            if node and isinstance(node[-1], dict) and following not in node[-1]:
                node = node[-1]
            else:
                node.append({})
                node = node[-1]
            continue
        if part == "":
            raise InputError(f"{where}: [] must follow a name (name[]).")
        if last:
            if part in node:
                raise InputError(f"{where}: {key!r} is given twice.")
            node[part] = value
            return
        empty: list[Any] | dict[str, Any] = [] if following == "" else {}
        child = node.setdefault(part, empty)
        if not isinstance(child, type(empty)):
            raise InputError(f"{where}: {part!r} is already given as another kind of value.")
        node = child


def with_query(path: str, fields: dict[str, Any]) -> str:
    """``path`` with ``fields`` added to its query string (a GET sends them there)."""
    if not fields:
        return path
    pairs: list[tuple[str, str]] = []
    for key, value in fields.items():
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, dict | list):
                raise InputError(
                    f"The field {key!r} is nested: nested fields need a request body "
                    "(use -X POST, PUT or PATCH)."
                )
            pairs.append((key, _query_text(item)))
    return path + ("&" if "?" in path else "?") + urlencode(pairs)


def _query_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_headers(items: Iterable[str]) -> dict[str, str]:
    """``-H 'Name: value'`` values as a header mapping."""
    headers: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition(":")
        name = name.strip()
        if not sep or not _HEADER_NAME.match(name):
            raise InputError(f"-H {item!r}: give 'Name: value'.")
        if name.lower() in _OWN_HEADERS:
            raise InputError(
                f"-H {name}: ctct sets this header itself (the access token is attached "
                "and refreshed for you)."
            )
        if "\r" in value or "\n" in value:
            raise InputError(f"-H {name}: a header value cannot span lines.")
        headers[name] = value.strip()
    return headers
