"""``Secret``: a string that never shows itself in a repr, a str() or a log line.

Tokens, client secrets, authorization codes and PKCE verifiers travel wrapped in a
``Secret`` so that an accidental ``f"{token}"``, ``logging.debug("%s", obj)`` or a
traceback's locals print ``**********`` instead of the value. Code that must send the
value calls ``reveal()``, which makes every use greppable.
"""

from __future__ import annotations

import hmac
from typing import Final

MASK: Final = "**********"


class Secret:
    """An opaque wrapper around a secret string. Compare with ``==`` (constant time)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("Secret wraps a str")
        self._value = value

    def reveal(self) -> str:
        """The secret value itself: only for putting it on the wire or in the store."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    def __str__(self) -> str:
        return MASK

    def __format__(self, format_spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __len__(self) -> int:
        return len(self._value)

    def __reduce__(self) -> tuple[type[Secret], tuple[str]]:
        return (Secret, (self._value,))


def as_secret(value: str | Secret) -> Secret:
    """Wrap a plain string; pass a ``Secret`` through unchanged."""
    return value if isinstance(value, Secret) else Secret(value)
