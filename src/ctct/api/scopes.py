"""Scopes before the call: refuse locally what the server would refuse with a 403.

Each V3 operation accepts some OAuth scopes (CC's contract, shipped as the generated
table ``ctct.api._scopes``; ``tools/gen_scopes.py`` rebuilds it). Before a request
leaves, the client looks the operation up (method and path, templated segments such
as ``{contact_id}`` matching any one segment, literal segments winning) and compares
its scopes with the scope claim of the access token about to be sent. When the token
carries a scope claim (``scp``, or RFC 9068 ``scope``) holding none of the accepted
scopes, ``InsufficientScope`` is raised and nothing is sent: no rate-limit slot, no
request, and a bulk job stops before its first row.

Everything else is sent as before: a token without a scope claim (CC's claims are not
all confirmed), an opaque token, another provider's token, an operation that needs no
scope (partner operations, ``GET /account/user/privileges``) or one the contract does
not list. The server stays the judge; this check only saves a doomed call.

The token's claims are read without verifying them again: the token manager only
serves access tokens that passed verification (``ctct._jwt``), and a forged claim
could at worst make ctct refuse a call, never authorize one.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote

from ctct._peek import peek_claims
from ctct.api._scopes import OPERATION_SCOPES
from ctct.errors import InsufficientScope

__all__ = [
    "Operation",
    "check_scopes",
    "find_operation",
    "insufficient",
    "token_scopes",
]


@dataclass(frozen=True)
class Operation:
    """One operation of the contract: ``GET /contacts/{contact_id}`` and its scopes."""

    method: str
    template: str
    scopes: tuple[str, ...]
    """Any one of these admits the call; ``()``: none is needed."""

    def __str__(self) -> str:
        return f"{self.method} {self.template}"


_Segments = tuple[str | None, ...]  # None: a templated segment
_Key = tuple[str, int, str | None]  # method, segment count, first segment (None: templated)


def _segments(template: str) -> _Segments:
    parts = template.strip("/").split("/")
    return tuple(None if p.startswith("{") and p.endswith("}") else p for p in parts)


def _index() -> dict[_Key, list[tuple[_Segments, Operation]]]:
    index: dict[_Key, list[tuple[_Segments, Operation]]] = {}
    for (method, template), scopes in OPERATION_SCOPES.items():
        segments = _segments(template)
        entry = (segments, Operation(method, template, scopes))
        index.setdefault((method, len(segments), segments[0]), []).append(entry)
    for entries in index.values():
        # Literal segments beat templated ones, leftmost first: /contacts/counts is its
        # own operation, not /contacts/{contact_id}. The first match wins.
        entries.sort(key=lambda entry: tuple(s is not None for s in entry[0]), reverse=True)
    return index


_INDEX: Final = _index()


@functools.lru_cache(maxsize=4096)
def find_operation(method: str, path: str) -> Operation | None:
    """The contract's operation for ``method`` and ``path`` (relative to ``/v3``, e.g.
    ``/contacts/7f3c...``; a query is ignored), or None when it lists none."""
    path = path.split("?", 1)[0]
    parts = [unquote(p) for p in path.strip("/").split("/")]
    method = method.upper()
    for first in (parts[0], None):
        for segments, operation in _INDEX.get((method, len(parts), first), ()):
            for pattern, part in zip(segments, parts, strict=True):
                if pattern is None:
                    if not part:
                        break  # an empty segment is not an id
                elif pattern != part:
                    break
            else:
                return operation
    return None


def token_scopes(access_token: str) -> frozenset[str] | None:
    """The scope claim of a JWT access token, or None (opaque, or no scope claim)."""
    claims = peek_claims(access_token)
    if claims is None:
        return None
    scp = claims.get("scp")
    if isinstance(scp, list):
        return frozenset(s for s in scp if isinstance(s, str))
    scope = claims.get("scope")  # RFC 9068 section 2.2.3
    if isinstance(scope, str):
        return frozenset(scope.split())
    return None


def check_scopes(
    method: str, path: str, granted: Iterable[str] | None, *, profile: str = "default"
) -> Operation | None:
    """Raise ``InsufficientScope`` when ``granted`` (a token's scope claim) holds none
    of the scopes the operation accepts. Returns the operation found (or None)."""
    operation = find_operation(method.upper(), path)
    if granted is None or operation is None or not operation.scopes:
        return operation
    held = frozenset(granted)
    if held.intersection(operation.scopes):
        return operation
    raise insufficient(operation, held, profile)


def insufficient(operation: Operation, held: frozenset[str], profile: str) -> InsufficientScope:
    wanted = operation.scopes
    asked = sorted(held | {wanted[0]})
    names = " or ".join(wanted)
    flag = "" if profile == "default" else f" --profile {profile}"
    return InsufficientScope(
        f"{operation} needs the {names} scope, which this grant lacks (it holds "
        f"{' '.join(sorted(held)) or 'no scopes'}); nothing was sent. Log in again asking "
        f"for it: `ctct auth login{flag} --scopes '{' '.join(asked)}'`.",
        missing=wanted,
        operation=str(operation),
    )
