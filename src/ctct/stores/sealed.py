"""The part of every backend that is not about storage: encryption, checks, rekeying.

Backends subclass ``SealedStore`` and move opaque envelopes (bytes) and versions; this
class seals on the way in and opens on the way out, so no backend ever sees plaintext
and every backend encrypts the same way.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from types import TracebackType
from typing import Self

from ctct.errors import StoreError
from ctct.stores.base import (
    Clock,
    GrantKey,
    Record,
    StoreInfo,
    StoreLock,
    check_once_args,
    once_context,
)
from ctct.stores.crypto import KeyConfig, Sealer
from ctct.stores.keys import NOT_ENCRYPTED_WARNING


class SealedStore(ABC):
    """Base class of the backends; implements the ``Store`` protocol's data methods."""

    backend = "abstract"
    #: whether records reach a disk or a server (then "not encrypted" is worth a warning)
    at_rest = True

    def __init__(self, keys: KeyConfig, clock: Clock = time.time) -> None:
        self.sealer = Sealer(keys)
        self.clock = clock
        self.closed = False

    # -- what backends implement ------------------------------------------------------

    @abstractmethod
    def load_envelope(self, key: GrantKey) -> tuple[bytes, int] | None:
        """The stored envelope and version, or None."""

    @abstractmethod
    def save_envelope(self, key: GrantKey, envelope: bytes, expected_version: int | None) -> int:
        """Compare-and-swap write of an envelope; returns the new version."""

    @abstractmethod
    def put_envelope_once(self, namespace: str, id: str, envelope: bytes, ttl: float) -> None:
        """Store a single-use envelope expiring ``ttl`` seconds after ``self.clock()``."""

    @abstractmethod
    def take_envelope_once(self, namespace: str, id: str) -> bytes | None:
        """Remove a single-use envelope; return it unless absent or expired."""

    @abstractmethod
    def delete(self, key: GrantKey, *, expected_version: int | None = None) -> bool: ...

    @abstractmethod
    def keys(self) -> list[GrantKey]: ...

    @abstractmethod
    def lock(self, key: GrantKey, timeout: float) -> StoreLock: ...

    @abstractmethod
    def acquire_rate(self, bucket: str, rate: float, burst: float) -> float: ...

    @abstractmethod
    def incr_daily(self, bucket: str, day: str, limit: int) -> int | None: ...

    @abstractmethod
    def location(self) -> str:
        """A path or description of where records are kept."""

    def backend_warnings(self) -> list[str]:
        return []

    def close(self) -> None:
        self.closed = True

    # -- the protocol -----------------------------------------------------------------

    def check_open(self) -> None:
        if self.closed:
            raise StoreError(f"the {self.backend} store at {self.location()} is closed")

    def load(self, key: GrantKey) -> Record | None:
        found = self.load_envelope(key)
        if found is None:
            return None
        envelope, version = found
        return Record(self.sealer.open(envelope, key.context, what=key), version)

    def save(self, key: GrantKey, data: bytes, *, expected_version: int | None) -> int:
        if expected_version is not None and expected_version < 1:
            raise ValueError(f"expected_version must be None or positive, got {expected_version}")
        return self.save_envelope(key, self.sealer.seal(data, key.context), expected_version)

    def put_once(self, namespace: str, id: str, data: bytes, ttl: float) -> None:
        check_once_args(namespace, id)
        if not ttl > 0:
            raise ValueError(f"ttl must be positive, got {ttl!r}")
        envelope = self.sealer.seal(data, once_context(namespace, id))
        self.put_envelope_once(namespace, id, envelope, ttl)

    def take_once(self, namespace: str, id: str) -> bytes | None:
        check_once_args(namespace, id)
        envelope = self.take_envelope_once(namespace, id)
        if envelope is None:
            return None
        what = f"single-use record {namespace}/{id}"
        return self.sealer.open(envelope, once_context(namespace, id), what=what)

    def describe(self) -> StoreInfo:
        config = self.sealer.config
        warnings = list(config.warnings)
        if not self.sealer.encrypting and self.at_rest:
            warnings.append(NOT_ENCRYPTED_WARNING)
        warnings.extend(self.backend_warnings())
        return StoreInfo(
            backend=self.backend,
            location=self.location(),
            encryption=config.source if self.sealer.encrypting else None,
            warnings=tuple(warnings),
        )

    def rekey(self, *, lock_timeout: float = 30.0) -> int:
        """Re-encrypt every grant not yet sealed with the current key; return how many.

        Each grant is rewritten under its lock with compare-and-swap, so a concurrent
        refresh is never lost. Single-use records are left alone: they expire within
        minutes and old keys still decrypt them meanwhile.
        """
        rewritten = 0
        for key in self.keys():
            with self.lock(key, lock_timeout):
                found = self.load_envelope(key)
                if found is None or self.sealer.is_current(found[0]):
                    continue
                plaintext = self.sealer.open(found[0], key.context, what=key)
                self.save_envelope(key, self.sealer.seal(plaintext, key.context), found[1])
                rewritten += 1
        return rewritten

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.location()}>"
