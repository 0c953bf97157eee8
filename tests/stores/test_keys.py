"""Store keys: parsing, key files, the keyring (only when it answers fast), key order."""

from __future__ import annotations

import base64
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backend
import pytest

from ctct import _keyring
from ctct.errors import ConfigError
from ctct.stores import generate_key, resolve_keys, static_keys, write_key_file
from ctct.stores.crypto import KEY_BYTES, KeyConfig, Sealer, parse_keys
from ctct.stores.keys import ENV_KEY, ENV_KEY_FILE, ENV_KEYRING, ask_keyring


def test_generated_keys_are_random_32_byte_base64url() -> None:
    keys = {generate_key() for _ in range(20)}
    assert len(keys) == 20
    for text in keys:
        assert set(text) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        assert parse_keys(text, source="t")[0] == base64.urlsafe_b64decode(text + "=")


def test_parse_keys_accepts_a_list_with_padding_and_spaces() -> None:
    one, two = generate_key(), generate_key()
    parsed = parse_keys(f" {one}= , {two}\n", source="t")
    assert len(parsed) == 2
    assert all(len(k) == KEY_BYTES for k in parsed)


@pytest.mark.parametrize(
    "text",
    ["", "not base64 !!", base64.urlsafe_b64encode(b"short").decode(), "{k},", ",{k}"],
)
def test_bad_keys_are_refused_without_echoing_them(text: str) -> None:
    text = text.replace("{k}", generate_key())
    with pytest.raises(ConfigError, match="store key") as info:
        parse_keys(text, source="CTCT_STORE_KEY")
    assert "CTCT_STORE_KEY" in str(info.value)
    for part in text.split(","):
        if len(part) > 4:
            assert part not in str(info.value)


def test_key_config_refuses_wrong_lengths() -> None:
    with pytest.raises(ConfigError):
        KeyConfig((b"x" * 16,), "test")


def test_envelope_round_trip_and_context_binding() -> None:
    sealer = Sealer(KeyConfig(parse_keys(generate_key(), source="t"), "t"))
    envelope = sealer.seal(b"secret", b"ctx-1")
    assert sealer.open(envelope, b"ctx-1", what="x") == b"secret"
    with pytest.raises(Exception, match="cannot be decrypted"):
        sealer.open(envelope, b"ctx-2", what="x")
    header_altered = envelope[:4] + bytes([envelope[4] ^ 1]) + envelope[5:]
    with pytest.raises(Exception, match="not configured"):
        sealer.open(header_altered, b"ctx-1", what="x")
    with pytest.raises(Exception, match="format 7"):
        sealer.open(b"CTS\x07" + envelope[4:], b"ctx-1", what="x")
    with pytest.raises(Exception, match="truncated"):
        sealer.open(envelope[:20], b"ctx-1", what="x")


# -- key files ------------------------------------------------------------------------


def test_write_key_file_is_private_and_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "config" / "ctct" / "store.key"
    old_umask = os.umask(0)
    try:
        text = write_key_file(path)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700
    assert path.read_text().strip() == text
    with pytest.raises(ConfigError, match="already exists"):
        write_key_file(path)
    assert path.read_text().strip() == text


def test_key_file_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "k"
    text = write_key_file(path)
    config = resolve_keys({ENV_KEY_FILE: str(path)}, key_file=tmp_path / "none")
    assert config.keys == parse_keys(text, source="t")
    assert config.source is not None
    assert str(path) in config.source


def test_readable_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "k"
    write_key_file(path)
    path.chmod(0o644)
    with pytest.raises(ConfigError, match=r"chmod 600") as info:
        resolve_keys({ENV_KEY_FILE: str(path)})
    assert "0644" in str(info.value)


def test_missing_key_file_is_an_error_when_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_keys({ENV_KEY_FILE: str(tmp_path / "missing")})


def test_key_file_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a regular file"):
        resolve_keys({ENV_KEY_FILE: str(tmp_path)})


def test_default_key_file_is_used_when_present(tmp_path: Path) -> None:
    path = tmp_path / "store.key"
    text = write_key_file(path)
    config = resolve_keys({ENV_KEYRING: "0"}, key_file=path)
    assert config.keys == parse_keys(text, source="t")
    assert config.source == f"key file {path}"


def test_environment_key_comes_first(tmp_path: Path) -> None:
    env_key = generate_key()
    write_key_file(tmp_path / "k")
    config = resolve_keys({ENV_KEY: env_key, ENV_KEY_FILE: str(tmp_path / "k")})
    assert config.source == ENV_KEY
    assert config.keys == parse_keys(env_key, source="t")


def test_no_key_anywhere(tmp_path: Path) -> None:
    config = resolve_keys({ENV_KEYRING: "0"}, key_file=tmp_path / "none")
    assert config == KeyConfig()


def test_static_keys_provider() -> None:
    one, two = generate_key(), generate_key()
    config = static_keys(one, two)()
    assert config.keys == parse_keys(f"{one},{two}", source="t")
    assert static_keys()() == KeyConfig()


# -- the keyring ----------------------------------------------------------------------


def test_this_machines_keyring_fails_fast_and_quietly(tmp_path: Path) -> None:
    # No keyring backend here: the lookup must come back, with nothing to say (a hang
    # would show as a "did not answer" warning).
    config = resolve_keys({}, key_file=tmp_path / "none", keyring_timeout=30)
    assert config == KeyConfig()


class _Backend(keyring.backend.KeyringBackend):
    """A keyring backend (the real plug-in interface) whose answer the test controls."""

    priority = 1  # never auto-selected: keyring only auto-loads backends built without arguments

    def __init__(self, password: str | None, release: threading.Event | None = None) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.password = password
        self.release = release
        self.asked: list[tuple[str, str]] = []

    def get_password(self, service: str, username: str) -> str | None:
        self.asked.append((service, username))
        if self.release is not None:
            self.release.wait()  # a keyring that hangs, as on headless servers
        return self.password

    def set_password(self, service: str, username: str, password: str) -> None:
        raise NotImplementedError

    def delete_password(self, service: str, username: str) -> None:
        raise NotImplementedError


@pytest.fixture
def use_keyring() -> Iterator[None]:
    previous = keyring.get_keyring()
    _keyring.forget()  # an earlier test's backend failed or hung: ask this one
    yield
    keyring.set_keyring(previous)
    _keyring.forget()


@pytest.mark.usefixtures("use_keyring")
def test_keyring_key_is_used(tmp_path: Path) -> None:
    text = generate_key()
    backend = _Backend(text)
    keyring.set_keyring(backend)
    config = resolve_keys({}, key_file=tmp_path / "none")
    assert backend.asked == [("ctct", "store-key")]
    assert config.keys == parse_keys(text, source="t")
    assert config.source == "keyring (ctct/store-key)"


@pytest.mark.usefixtures("use_keyring")
def test_hanging_keyring_is_abandoned_with_a_warning(tmp_path: Path) -> None:
    release = threading.Event()
    keyring.set_keyring(_Backend(generate_key(), release))
    try:
        config = resolve_keys({}, key_file=tmp_path / "none", keyring_timeout=0.1)
    finally:
        release.set()
    assert config.keys == ()
    assert len(config.warnings) == 1
    assert "did not answer within 0.1 s" in config.warnings[0]
    assert ENV_KEYRING in config.warnings[0]


@pytest.mark.usefixtures("use_keyring")
def test_keyring_can_be_switched_off(tmp_path: Path) -> None:
    backend = _Backend(generate_key())
    keyring.set_keyring(backend)
    assert resolve_keys({ENV_KEYRING: "0"}, key_file=tmp_path / "none") == KeyConfig()
    assert backend.asked == []


@pytest.mark.usefixtures("use_keyring")
def test_ask_keyring_swallows_backend_errors() -> None:
    class Broken(_Backend):
        def get_password(self, service: str, username: str) -> str | None:
            raise RuntimeError("D-Bus is not running")

    keyring.set_keyring(Broken(None))
    assert ask_keyring(5) == (None, None)
