"""The ``ctct`` console script, with a fast path for ``ctct auth token``.

Scripts call ``ctct auth token`` in loops, so its cold start matters. When the stored
access token is fresh, this module answers without importing click, rich, httpx2,
joserfc or the store package: it resolves the few settings that locate the grant
(profile, client id, base URL, store, refresh margin) with the same precedence as
``ctct._settings.Settings.load`` (flags, ``CTCT_*``, the config file's profile table,
its top level, defaults), reads the record with one read-only SQLite query, and prints
the token. An encrypted record is opened here too (``ctct.stores.crypto``'s envelope,
AES-GCM from cryptography's Rust binding), with the key from ``CTCT_STORE_KEY``,
``CTCT_STORE_KEY_FILE`` or the default key file; a key that only the keyring holds goes
through the store package.

Anything unusual falls back to the full command line, which does the same job with all
its checks and messages: a token that is due or expired (it must be refreshed), a
provider configured by issuer or explicit endpoints, a non-SQLite store, a missing or
malformed config file, any flag other than ``--profile``, ``--debug`` (or
``CTCT_DEBUG``), ``CTCT_NO_FAST_PATH=1``, a store file that is a link or not private
to this user, a plaintext record where a store key may be configured (see
``_open_envelope``), or any error at all. The fast path never prints anything but the
token, and prints nothing on failure.
"""

from __future__ import annotations

import os
import stat
import sys
import time

from ctct._dirs import user_dir

TYPE_CHECKING = False  # not typing's: importing typing costs the fast path
if TYPE_CHECKING:
    from typing import Any

_DEFAULT_PROFILE = "default"
_DEFAULT_MARGIN = 300.0
_MAX_MARGIN_FRACTION = 0.1  # ctct._tokens.DEFAULT_MAX_MARGIN_FRACTION
_APPLICATION_ID = 0x63746374  # ctct.stores.sqlite.APPLICATION_ID
_RECORD_FORMAT = 1  # ctct._tokens.FORMAT_VERSION
# Settings the fast path understands; any other known setting sends it to the full CLI.
_SIMPLE_KEYS = frozenset(
    {
        "client_id",
        "client_secret",
        "client_secret_file",
        "base_url",
        "store",
        "scopes",
        "redirect_uri",
        "pkce",
        "refresh_margin",
        "leeway",
        "timeout",
    }
)
_NUMBERS = ("refresh_margin", "leeway", "timeout")
_INFINITY = float("inf")


class _Fallback(Exception):
    """Not for the fast path: let the full command line handle it."""


def main() -> None:
    """Entry point of the ``ctct`` console script."""
    argv = sys.argv[1:]
    profile = _token_command_profile(argv)
    if profile is not False:
        token = fast_token(profile if isinstance(profile, str) else None, os.environ)
        if token is not None:
            sys.stdout.write(token + "\n")
            sys.stdout.flush()
            return
    from ctct.cli.main import main as full_main

    full_main()


def _token_command_profile(argv: list[str]) -> str | bool | None:
    """For ``auth token [--profile NAME]`` (or ``--profile NAME auth token``): the
    profile flag (None when absent); False for any other command line."""
    before = None
    if len(argv) >= 2 and argv[0] in ("--profile", "-p") and argv[1] and argv[1][0] != "-":
        before = argv[1]
    elif argv and argv[0].startswith("--profile=") and len(argv[0]) > 10:
        before = argv[0][10:]
    if before is not None:
        rest = argv[2:] if argv[0] in ("--profile", "-p") else argv[1:]
        return before if rest == ["auth", "token"] else False
    if argv[:2] != ["auth", "token"]:
        return False
    rest = argv[2:]
    if not rest:
        return None
    if len(rest) == 2 and rest[0] in ("--profile", "-p") and rest[1] and rest[1][0] != "-":
        return rest[1]
    if len(rest) == 1 and rest[0].startswith("--profile=") and len(rest[0]) > 10:
        return rest[0][10:]
    return False


# -- settings ------------------------------------------------------------------------------


class FastSettings:
    """What locates and judges the stored grant."""

    __slots__ = ("client_id", "issuer", "margin", "profile", "store_path")

    def __init__(
        self, profile: str, issuer: str, client_id: str, store_path: str, margin: float
    ) -> None:
        self.profile = profile
        self.issuer = issuer
        self.client_id = client_id
        self.store_path = store_path
        self.margin = margin


def fast_settings(
    profile_flag: str | None, environ: dict[str, str] | os._Environ[str]
) -> FastSettings:
    """Resolve the settings the fast path needs, or raise ``_Fallback``."""
    for switch in ("CTCT_DEBUG", "CTCT_NO_FAST_PATH"):
        if environ.get(switch, "").strip().lower() not in ("", "0", "no", "false", "off"):
            raise _Fallback(switch)
    profile = profile_flag or environ.get("CTCT_PROFILE") or _DEFAULT_PROFILE
    layers = [_env_layer(environ), *_file_layers(environ, profile)]

    def value(key: str) -> object:
        for layer in layers:
            if key in layer:
                return layer[key]
        return None

    _check_secret(layers)
    client_id = value("client_id")
    if not isinstance(client_id, str) or not client_id.strip():
        raise _Fallback("client_id")
    numbers = {}
    for key in _NUMBERS:
        raw = value(key)
        if raw is None:
            continue
        if isinstance(raw, bool) or not isinstance(raw, str | int | float):
            raise _Fallback(key)
        number = float(raw)  # ValueError: the full CLI reports it
        # NaN and infinity fail here too: Settings.load refuses them with a message.
        if not 0 <= number < _INFINITY or (key == "timeout" and number == 0):
            raise _Fallback(key)
        numbers[key] = number
    base_url = value("base_url")
    if base_url is not None and (not isinstance(base_url, str) or not base_url.strip()):
        raise _Fallback("base_url")
    store = value("store")
    if store is not None and (not isinstance(store, str) or not store.strip()):
        raise _Fallback("store")
    return FastSettings(
        profile=profile,
        issuer=_storage_issuer(base_url.strip() if isinstance(base_url, str) else None),
        client_id=client_id.strip(),
        store_path=_store_path(store.strip() if isinstance(store, str) else None),
        margin=numbers.get("refresh_margin", _DEFAULT_MARGIN),
    )


def _env_layer(environ: dict[str, str] | os._Environ[str]) -> dict[str, object]:
    layer: dict[str, object] = {}
    for name, text in environ.items():
        if not name.startswith("CTCT_"):
            continue
        key = name[5:].lower()
        if key in _SIMPLE_KEYS:
            layer[key] = text
        elif key in _COMPLEX_KEYS:
            raise _Fallback(name)
    return layer


_COMPLEX_KEYS = frozenset(
    {
        "auth_url",  # moves the storage key; the full CLI resolves CC's three hosts
        "identity_url",
        "api_url",
        "redirect_port",
        "issuer",
        "token_endpoint",
        "authorization_endpoint",
        "device_authorization_endpoint",
        "revocation_endpoint",
        "jwks_uri",
        "audience",
        "access_token_format",
    }
)


def _file_layers(
    environ: dict[str, str] | os._Environ[str], profile: str
) -> list[dict[str, object]]:
    explicit = environ.get("CTCT_CONFIG")
    path = explicit or os.path.join(user_dir("config"), "config.toml")
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        if explicit:
            raise _Fallback("config missing") from None
        return []
    import tomllib

    document = tomllib.loads(data.decode("utf-8"))
    profiles = document.pop("profiles", {})
    if not isinstance(profiles, dict):
        raise _Fallback("profiles")
    tables = [document, *profiles.values()]
    for table in tables:
        if not isinstance(table, dict):
            raise _Fallback("profile table")
        for key, item in table.items():
            if key not in _SIMPLE_KEYS:
                raise _Fallback(key)  # complex or unknown: the full CLI decides
            if not _valid_type(key, item):
                raise _Fallback(key)
        if "client_secret_file" in table:
            # Relative to the config file's folder, as Settings.load reads it.
            table["client_secret_file"] = os.path.join(
                os.path.dirname(path), os.path.expanduser(str(table["client_secret_file"]))
            )
    if profile != _DEFAULT_PROFILE and profiles and profile not in profiles:
        raise _Fallback("unknown profile")
    layers: list[dict[str, object]] = []
    if profile in profiles:
        layers.append(profiles[profile])
    layers.append(document)
    return layers


def _valid_type(key: str, value: object) -> bool:
    if isinstance(value, bool):
        return False
    if key in _NUMBERS:
        return isinstance(value, int | float)
    if key == "scopes":
        return isinstance(value, str) or (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        )
    return isinstance(value, str)


def _check_secret(layers: list[dict[str, object]]) -> None:
    """Settings.load refuses an empty secret or an unreadable secret file: so do we."""
    for layer in layers:
        if "client_secret" in layer:
            value = layer["client_secret"]
            if not isinstance(value, str) or not value.strip():
                raise _Fallback("client_secret")
            return
        if "client_secret_file" in layer:
            path = os.path.expanduser(str(layer["client_secret_file"]))
            with open(path, encoding="utf-8") as handle:  # OSError: the full CLI reports it
                # A secret file open to group or others is refused by Settings.load.
                if os.fstat(handle.fileno()).st_mode & 0o077 or not handle.read().strip():
                    raise _Fallback("client_secret_file")
            return


def _storage_issuer(base_url: str | None) -> str:
    """``ctct._provider.Provider.constant_contact(base_url).storage_issuer``."""
    from ctct import _cc

    if base_url is None:
        return _cc.ISSUER
    from urllib.parse import urlsplit

    from ctct._urls import origin_of, require_safe_url

    require_safe_url(base_url, what="base URL")  # ConfigError: the full CLI explains
    parts = urlsplit(base_url)
    if parts.query or parts.fragment:
        raise _Fallback("base_url")
    return f"{_cc.ISSUER}#via={origin_of(base_url)}{parts.path.rstrip('/')}"


def _store_path(url: str | None) -> str:
    """The SQLite file of ``ctct.stores.open_store(url)`` (``ctct.stores.urls.sqlite_path``:
    four slashes name the same file as three; anything it refuses falls back, to be
    explained by the full CLI)."""
    if url is None:
        return os.path.join(user_dir("state"), "tokens.db")
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() != "sqlite":
        raise _Fallback("store")
    if not rest:
        return os.path.join(user_dir("state"), "tokens.db")
    if not rest.startswith("/") or rest.endswith("/") or any(c in rest for c in "?#\x00"):
        raise _Fallback("store")
    return "/" + rest.lstrip("/")


# -- the record ----------------------------------------------------------------------------


def fast_token(
    profile_flag: str | None, environ: dict[str, str] | os._Environ[str], now: float | None = None
) -> str | None:
    """The stored access token when it is fresh; None sends the caller to the full CLI."""
    try:
        settings = fast_settings(profile_flag, environ)
        envelope = _read_envelope(settings)
        record = _open_envelope(settings, envelope, environ)
        return _fresh_token(record, settings.margin, time.time() if now is None else now)
    except Exception:  # _Fallback, or a surprise the full CLI will explain properly
        return None


def _read_envelope(settings: FastSettings) -> bytes:
    # The C module itself: the sqlite3 package adds only datetime adapters we do not use,
    # and importing it costs more than the query (a cold start is what this path is for).
    try:
        import _sqlite3 as sqlite3
    except ImportError:  # another Python implementation
        import sqlite3  # type: ignore[no-redef]

    # Only private regular files of ours, as ctct.stores.files demands (the full CLI
    # refuses anything else, saying why): a symbolic link, or a file someone else owns or
    # may write, could hold a grant planted there for us to serve. The -wal and -shm files
    # may be absent (SQLite removes them when the last connection closes).
    for suffix in ("", "-wal", "-shm"):
        try:
            info = os.lstat(settings.store_path + suffix)
        except OSError:
            if suffix:
                continue
            raise _Fallback("no store") from None
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
            raise _Fallback("store file")
    # SQLite's URI syntax needs only these escaped (urllib.parse costs an import).
    escaped = settings.store_path.replace("%", "%25").replace("?", "%3f").replace("#", "%23")
    uri = "file:" + escaped + "?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=5.0)
    except sqlite3.Error:
        raise _Fallback("sqlite") from None
    try:
        if conn.execute("PRAGMA application_id").fetchone()[0] != _APPLICATION_ID:
            raise _Fallback("not a ctct store")
        row = conn.execute(
            "SELECT data, (SELECT count(*) FROM meta WHERE key = 'encrypted') FROM grants "
            "WHERE profile = ? AND issuer = ? AND client_id = ?",
            (settings.profile, settings.issuer, settings.client_id),
        ).fetchone()
    except sqlite3.Error:
        raise _Fallback("sqlite") from None
    finally:
        conn.close()
    if row is None or not isinstance(row[0], bytes):
        raise _Fallback("no grant")
    if row[1] and row[0][3:4] == b"\x00":
        raise _Fallback("plaintext in a store a keyed process uses (see _open_envelope)")
    return row[0]


def _open_envelope(
    settings: FastSettings, envelope: bytes, environ: dict[str, str] | os._Environ[str]
) -> bytes:
    """The record's plaintext (``ctct.stores.crypto`` envelope format:
    ``CTS``, format byte; for AES-GCM a key id, a nonce, then ciphertext and tag, with
    the header and the grant key's context as associated data)."""
    if envelope[:3] != b"CTS" or len(envelope) < 4:
        raise _Fallback("envelope")
    if envelope[3] == 0:
        # With a key configured, the full CLI refuses a plaintext record (it could have
        # been planted). The fast path cannot ask the keyring (too slow), so it serves one
        # only when (1) no key is in the environment or a key file, and (2) the store is
        # not marked as used by a keyed process (meta.encrypted, written by every keyed
        # open, keyring keys included; checked in _read_envelope). That is sound because
        # _read_envelope serves only from store files that this user owns and nobody else
        # may write: a record in them was written by this user, not planted; the marker
        # keeps the fast path agreeing with the full CLI once a keyed process has run.
        if _key_configured(environ):
            raise _Fallback("plaintext record, key configured")
        return envelope[4:]
    if envelope[3] != 1 or len(envelope) < _SEALED_HEADER + _NONCE_BYTES + 16:
        raise _Fallback("envelope")
    keys = _store_keys(environ)
    if keys is None:  # the keyring may hold it: the store package asks, with its timeout
        return _open_with_store_package(settings, envelope, environ)
    kid = envelope[4:_SEALED_HEADER]
    for key in keys:
        if _key_id(key) == kid:
            break
    else:
        raise _Fallback("no such key")
    import json

    # ctct.stores.base.GrantKey.context, byte for byte
    context = json.dumps(["grant", settings.profile, settings.issuer, settings.client_id])
    nonce_end = _SEALED_HEADER + _NONCE_BYTES
    aad = envelope[:_SEALED_HEADER] + context.encode()
    # InvalidTag (altered, foreign or mis-keyed record): fast_token falls back
    cipher = aesgcm_class()(key)
    return bytes(cipher.decrypt(envelope[_SEALED_HEADER:nonce_end], envelope[nonce_end:], aad))


def aesgcm_class() -> Any:
    """cryptography's ``AESGCM``, taken from its Rust binding when that is where it lives
    (cryptography 42 and later): the same class, without importing cryptography's Python
    layers, which cost more than the rest of the fast path. A test checks it is the
    public class."""
    try:
        from cryptography.hazmat.bindings._rust import openssl

        return openssl.aead.AESGCM
    except (ImportError, AttributeError):
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        return AESGCM


_SEALED_HEADER = 4 + 8  # MAGIC + format byte + ctct.stores.crypto.KEY_ID_BYTES
_NONCE_BYTES = 12  # ctct.stores.crypto.NONCE_BYTES


def _store_keys(environ: dict[str, str] | os._Environ[str]) -> list[bytes] | None:
    """The store keys from ``CTCT_STORE_KEY``, ``CTCT_STORE_KEY_FILE`` or the default key
    file (``ctct.stores.keys.resolve_keys``' order); None when only the keyring is left."""
    text = environ.get("CTCT_STORE_KEY", "").strip()
    if not text:
        named = environ.get("CTCT_STORE_KEY_FILE", "").strip()
        path = os.path.expanduser(named) if named else os.path.join(user_dir("config"), "store.key")
        if not named and not os.path.exists(path):
            return None
        from pathlib import Path

        from ctct._private_file import read_private

        text = read_private(Path(path), "the store key file").decode("utf-8", errors="replace")
    import base64

    keys = []
    for part in text.strip().split(","):  # ctct.stores.crypto.parse_keys
        part = part.strip()
        raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        if len(raw) != 32:
            raise _Fallback("key")
        keys.append(raw)
    return keys


def _key_id(key: bytes) -> bytes:
    """``ctct.stores.crypto.key_id``."""
    import hashlib

    return hashlib.sha256(b"ctct-store-key-id\x00" + key).digest()[:8]


def _open_with_store_package(
    settings: FastSettings, envelope: bytes, environ: dict[str, str] | os._Environ[str]
) -> bytes:
    from ctct.errors import CtctError
    from ctct.stores.base import GrantKey
    from ctct.stores.crypto import Sealer
    from ctct.stores.keys import resolve_keys

    key = GrantKey(settings.profile, settings.issuer, settings.client_id)
    try:
        return Sealer(resolve_keys(environ)).open(envelope, key.context, what=key)
    except CtctError:
        raise _Fallback("decrypt") from None


def _key_configured(environ: dict[str, str] | os._Environ[str]) -> bool:
    """A store key in ``CTCT_STORE_KEY``, ``CTCT_STORE_KEY_FILE`` or the default key file
    (``ctct.stores.keys.resolve_keys`` without the keyring)."""
    if environ.get("CTCT_STORE_KEY", "").strip() or environ.get("CTCT_STORE_KEY_FILE", "").strip():
        return True
    return os.path.lexists(os.path.join(user_dir("config"), "store.key"))


def _fresh_token(plaintext: bytes, margin: float, now: float) -> str:
    """``TokenSet.state(now, margin=...)`` is FRESH: the access token; else ``_Fallback``."""
    record = _loads(plaintext.decode("utf-8"))
    if not isinstance(record, dict) or record.get("format") != _RECORD_FORMAT:
        raise _Fallback("record")
    token = record.get("access_token")
    expires_at = record.get("expires_at")
    received_at = record.get("received_at")
    if not isinstance(token, str) or not token:
        raise _Fallback("no access token")
    if record.get("store_offset") not in (None, 0):
        # Written on another host's clock (a record migrated from a server store): the
        # full CLI moves its times onto ours (ctct._store_clock). SQLite writes 0.
        raise _Fallback("record clock")
    if expires_at is None:
        return token  # the provider gave no lifetime: used until refused
    if not _number(expires_at) or not _number(received_at):
        raise _Fallback("record times")
    lifetime = max(0.0, expires_at - received_at)
    due = expires_at - min(margin, _MAX_MARGIN_FRACTION * lifetime)
    if now >= expires_at or now >= due:
        raise _Fallback("refresh due")
    return token


class _JsonContext:
    """What ``_json.make_scanner`` reads from a ``json.JSONDecoder`` (its defaults)."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int

    @staticmethod
    def parse_constant(name: str) -> float:
        raise ValueError(name)  # NaN and Infinity: not in a record we wrote


def _loads(text: str) -> object:
    """``json.loads`` through the C scanner json itself uses, without importing json
    (it imports re, which costs a tenth of this path's time); json on any surprise."""
    try:
        from _json import make_scanner

        value, end = make_scanner(_JsonContext())(text, 0)  # type: ignore[arg-type]
    except Exception:  # no C scanner, or text it refuses: json decides (and explains)
        import json

        return json.loads(text)
    if text[end:].strip():
        raise _Fallback("record")
    return value


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value
