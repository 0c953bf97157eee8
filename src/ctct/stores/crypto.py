"""Encryption at rest: AES-256-GCM envelopes with key ids, for rotation.

Every stored record is an envelope::

    b"CTS" | format (1 byte) | payload
    format 0: payload = plaintext                      (no key configured)
    format 1: payload = key id (8) | nonce (12) | AES-256-GCM ciphertext + tag

The associated data is the envelope header plus the record's context (profile, issuer and
client_id, or the single-use namespace and id), so a record copied under another key, or
a header altered, fails to decrypt. Several keys can be configured: the first encrypts,
all decrypt; the key id (a hash prefix) picks the right one without trial decryption.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ctct.errors import ConfigError, StoreError
from ctct.stores.base import GrantKey, RecordUnreadable, StoreCorrupt, unreadable_fix
from ctct.stores.files import private_dir

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"CTS"
FORMAT_PLAIN = 0
FORMAT_AESGCM = 1
KEY_BYTES = 32
KEY_ID_BYTES = 8
NONCE_BYTES = 12
_HEADER = len(MAGIC) + 1

KEY_HELP = (
    "a store key is 32 random bytes in base64url, e.g. from ctct.stores.generate_key(); "
    "several keys separated by commas mean: the first encrypts, the others still decrypt"
)


@dataclass(frozen=True)
class KeyConfig:
    """The configured store keys and where they came from.

    ``keys`` is empty when no key is configured (records are then stored unencrypted).
    ``warnings`` carries notes for ``status``/``doctor`` (e.g. a keyring that hung).
    """

    keys: tuple[bytes, ...] = field(default=(), repr=False)
    source: str | None = None
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for key in self.keys:
            if len(key) != KEY_BYTES:
                raise ConfigError(f"a store key must be {KEY_BYTES} bytes; {KEY_HELP}")


def key_id(key: bytes) -> bytes:
    """A public identifier for ``key`` (domain-separated hash prefix; reveals nothing usable)."""
    return hashlib.sha256(b"ctct-store-key-id\x00" + key).digest()[:KEY_ID_BYTES]


def generate_key() -> str:
    """A new random store key, in the text form ``CTCT_STORE_KEY`` accepts."""
    return base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode().rstrip("=")


def parse_keys(text: str, *, source: str) -> tuple[bytes, ...]:
    """Parse ``"key[,old_key...]"``; ``ConfigError`` naming ``source`` (never the key)."""
    parts = [part.strip() for part in text.strip().split(",")]
    if not parts or not all(parts):
        raise ConfigError(f"{source} is empty or has an empty entry; {KEY_HELP}")
    keys: list[bytes] = []
    for position, part in enumerate(parts, start=1):
        try:
            raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != KEY_BYTES:
            raise ConfigError(f"key {position} in {source} is not a valid store key; {KEY_HELP}")
        keys.append(raw)
    return tuple(keys)


def write_key_file(path: Path, key: str | None = None) -> str:
    """Create ``path`` (mode 0600, never overwriting) holding ``key`` or a new key; return it.

    Missing parent directories are created with mode 0700.
    """
    text = key if key is not None else generate_key()
    parse_keys(text, source="the key to write")
    private_dir(path.parent, [])
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise ConfigError(
            f"{path} already exists; remove it first or choose another path"
        ) from None
    try:
        os.fchmod(fd, 0o600)  # exact, whatever the umask
        os.write(fd, (text + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    return text


class Sealer:
    """Seals and opens record envelopes with the configured keys (none: plaintext)."""

    def __init__(self, config: KeyConfig) -> None:
        self.config = config
        self._ciphers: dict[bytes, AESGCM] = {}
        if config.keys:  # cryptography is imported only when there is a key
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            self._ciphers = {key_id(key): AESGCM(key) for key in config.keys}
        self._current = key_id(config.keys[0]) if config.keys else None

    @property
    def encrypting(self) -> bool:
        return self._current is not None

    def seal(self, plaintext: bytes, context: bytes) -> bytes:
        if self._current is None:
            return MAGIC + bytes([FORMAT_PLAIN]) + plaintext
        header = MAGIC + bytes([FORMAT_AESGCM]) + self._current
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self._current].encrypt(nonce, plaintext, header + context)
        return header + nonce + sealed

    def is_current(self, envelope: bytes) -> bool:
        """Whether ``envelope`` is already in the form ``seal`` would write now."""
        if self._current is None:
            return envelope[:_HEADER] == MAGIC + bytes([FORMAT_PLAIN])
        return envelope[: _HEADER + KEY_ID_BYTES] == MAGIC + bytes([FORMAT_AESGCM]) + self._current

    def open(
        self, envelope: bytes, context: bytes, *, what: object, allow_plain: bool = False
    ) -> bytes:
        """Return the plaintext; ``str(what)`` names the record in errors (never its content).

        With a key configured, a plaintext envelope is refused unless ``allow_plain``
        (``rekey``, adopting records written before the key): anyone who can write the
        store could plant one, e.g. another account's grant, and it would be served.
        """
        if envelope[: len(MAGIC)] != MAGIC or len(envelope) < _HEADER:
            raise _unreadable(what, f"the stored record for {what} is not in ctct's format")
        fmt = envelope[len(MAGIC)]
        if fmt == FORMAT_PLAIN:
            if self._ciphers and not allow_plain:
                raise _unreadable(what, _plain_refused(what))
            return envelope[_HEADER:]
        if fmt != FORMAT_AESGCM:
            raise StoreCorrupt(
                f"the stored record for {what} uses envelope format {fmt}, unknown to this "
                "version of ctct; upgrade ctct"
            )
        kid_end = _HEADER + KEY_ID_BYTES
        kid = envelope[_HEADER:kid_end]
        if len(envelope) < kid_end + NONCE_BYTES + 16:
            raise _unreadable(what, f"the stored record for {what} is truncated")
        if not self._ciphers:
            raise _unreadable(
                what,
                f"the stored record for {what} is encrypted but no store key is configured: "
                "set CTCT_STORE_KEY or CTCT_STORE_KEY_FILE to the key it was written with",
            )
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise _unreadable(
                what,
                f"the stored record for {what} was encrypted with a store key that is not "
                f"configured (key id {kid.hex()}); add that key after the current one "
                "(CTCT_STORE_KEY=new,old) if you still have it",
            )
        nonce = envelope[kid_end : kid_end + NONCE_BYTES]
        from cryptography.exceptions import InvalidTag

        try:
            return cipher.decrypt(
                nonce, envelope[kid_end + NONCE_BYTES :], envelope[:kid_end] + context
            )
        except InvalidTag:
            raise _unreadable(
                what,
                f"the stored record for {what} cannot be decrypted: the store key does not "
                "match it, or the record was altered or copied from another profile",
            ) from None


def _plain_refused(what: object) -> str:
    return (
        f"the stored record for {what} is not encrypted, but a store key is configured: "
        "ctct refuses it, as anyone who can write the store could have planted it (if you "
        "wrote it before configuring the key, `ctct store rekey` adopts and encrypts such "
        "records)"
    )


def _unreadable(what: object, text: str) -> StoreError:
    """A grant's record: ``RecordUnreadable`` naming the way out; other records (states,
    events, single-use records) only say what is wrong."""
    if isinstance(what, GrantKey):
        return RecordUnreadable(f"{text}; {unreadable_fix(what.profile)}")
    return StoreCorrupt(text)
