"""Where the store key comes from: environment, key file, or the system keyring.

Sources, first found wins:

1. ``CTCT_STORE_KEY``: the key text itself (``new[,old...]``).
2. ``CTCT_STORE_KEY_FILE``: a file holding that text; refused if group/world accessible.
3. The default key file, ``<user config dir>/ctct/store.key``, if it exists (same rule).
4. The system keyring (service ``ctct``, user ``store-key``), only if it answers within
   ``keyring_timeout`` seconds: keyrings hang on servers, in WSL and in containers, so it
   is asked from a daemon thread that is abandoned on timeout. ``CTCT_KEYRING=0`` skips
   it (as it does the client secret's entry; ``CTCT_STORE_KEYRING=0`` is its old name),
   and so does a machine where no keyring backend could work (``ctct._keyring``).

No key anywhere is allowed (records are stored unencrypted) and is reported by
``Store.describe()`` so ``status`` and ``doctor`` can warn.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from ctct import _keyring
from ctct._private_file import read_private
from ctct.stores.crypto import KeyConfig, parse_keys

KeyProvider = Callable[[], KeyConfig]

ENV_KEY = "CTCT_STORE_KEY"
ENV_KEY_FILE = "CTCT_STORE_KEY_FILE"
ENV_KEYRING = _keyring.ENV
KEYRING_SERVICE = _keyring.SERVICE
KEYRING_USER = "store-key"
KEYRING_TIMEOUT = _keyring.TIMEOUT
NOT_ENCRYPTED_WARNING = (
    "records are stored unencrypted: set CTCT_STORE_KEY (or CTCT_STORE_KEY_FILE, or the "
    "keyring entry ctct/store-key) to a 32-byte base64url key"
)


def default_key_file() -> Path:
    # Imported here: ``ctct auth token``'s fast path reads CTCT_STORE_KEY without it.
    from ctct._dirs import user_dir

    return Path(user_dir("config")) / "store.key"


def static_keys(*keys: str, source: str = "configured in code") -> KeyProvider:
    """A provider for keys given directly (first encrypts); no keys means no encryption."""
    parsed = tuple(k for text in keys for k in parse_keys(text, source=source))
    config = KeyConfig(parsed, source if parsed else None)
    return lambda: config


def no_keys() -> KeyConfig:
    """The provider for an unencrypted store."""
    return KeyConfig()


def read_key_file(path: Path) -> tuple[bytes, ...]:
    """Keys from ``path``; ``ConfigError`` if missing, not a file or readable by others."""
    text = read_private(path, "the store key file").decode("utf-8", errors="replace")
    return parse_keys(text, source=f"the store key file {path}")


def ask_keyring(
    timeout: float, environ: Mapping[str, str] | None = None
) -> tuple[str | None, str | None]:
    """``(password, warning)`` from the keyring; a missing or failing keyring is silent."""
    return _keyring.get_password(KEYRING_USER, timeout=timeout, environ=environ)


def resolve_keys(
    environ: Mapping[str, str] | None = None,
    *,
    keyring_timeout: float = KEYRING_TIMEOUT,
    key_file: Path | None = None,
) -> KeyConfig:
    """Find the store key in the sources listed in this module's docstring."""
    env = os.environ if environ is None else environ
    text = env.get(ENV_KEY, "").strip()
    if text:
        return KeyConfig(parse_keys(text, source=ENV_KEY), ENV_KEY)
    path_text = env.get(ENV_KEY_FILE, "").strip()
    if path_text:
        path = Path(path_text).expanduser()
        return KeyConfig(read_key_file(path), f"key file {path} ({ENV_KEY_FILE})")
    default = key_file if key_file is not None else default_key_file()
    if default.exists():
        return KeyConfig(read_key_file(default), f"key file {default}")
    if _keyring.switched_off(env):
        return KeyConfig()
    password, warning = ask_keyring(keyring_timeout, env)
    if password:
        keys = parse_keys(password, source=f"the keyring entry {KEYRING_SERVICE}/{KEYRING_USER}")
        return KeyConfig(keys, f"keyring ({KEYRING_SERVICE}/{KEYRING_USER})")
    return KeyConfig(warnings=(warning,) if warning else ())


def default_key_provider() -> KeyConfig:
    """The provider ``open_store`` uses unless told otherwise: ``resolve_keys()``."""
    return resolve_keys()
