"""The ``ctct auth token`` fast path (``ctct._entry``): it must find exactly the grant
the full CLI would (same profile, issuer key, client id, store file and freshness rule),
import none of the heavy libraries, and hand anything unusual to the full CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import platformdirs
import pytest

from ctct import _dirs, _entry
from ctct._provider import Provider
from ctct._secret import Secret
from ctct._settings import Settings
from ctct._tokens import TokenSet
from ctct.stores import GrantKey, SqliteStore, default_path, no_keys, open_store, static_keys
from ctct.stores.urls import sqlite_path
from ctct.testing import EmulatorHandle
from tests.cli.conftest import Cli, login

CLIENT = "5f4c3b2a-1d0e-4f9a-8b7c-6d5e4f3a2b1c"


def _expected(env: dict[str, str], profile: str | None) -> tuple[str, str, str, str, float]:
    """What the full CLI resolves, through ``Settings.load`` and the provider."""
    settings = Settings.load(env=env, profile=profile)
    assert settings.client_id is not None
    store = settings.store or "sqlite://"
    path = str(sqlite_path(store) or default_path())
    return (
        settings.profile,
        settings.provider().storage_issuer,
        settings.client_id,
        path,
        settings.refresh_margin,
    )


def _fast(env: dict[str, str], profile: str | None) -> tuple[str, str, str, str, float]:
    s = _entry.fast_settings(profile, env)
    return (s.profile, s.issuer, s.client_id, s.store_path, s.margin)


CONFIG = """
client_id = "top-level-client"
refresh_margin = 120
store = "sqlite:///srv/top.db"

[profiles.work]
client_id = "work-client"
base_url = "http://127.0.0.1:7717/"

[profiles.other]
store = "sqlite:///srv/other.db"
"""


@pytest.mark.parametrize(
    ("env_extra", "profile"),
    [
        ({"CTCT_CLIENT_ID": CLIENT}, None),
        ({"CTCT_CLIENT_ID": CLIENT, "CTCT_PROFILE": "work"}, None),
        ({}, "work"),
        ({}, "other"),
        ({}, None),
        ({"CTCT_PROFILE": "other", "CTCT_REFRESH_MARGIN": "30"}, "work"),
        ({"CTCT_BASE_URL": "HTTP://LOCALHOST:80/base/"}, None),
        ({"CTCT_BASE_URL": "https://cc.example.com:443"}, "work"),
        ({"CTCT_STORE": "sqlite://"}, None),
        ({"CTCT_STORE": "sqlite:////srv/four-slashes.db"}, None),
        ({"CTCT_STORE": "sqlite://///srv/five.db"}, "other"),
    ],
)
def test_fast_settings_match_the_full_settings(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    env_extra: dict[str, str],
    profile: str | None,
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    env = {"CTCT_CONFIG": str(config), "HOME": str(tmp_path), **env_extra}
    assert _fast(env, profile) == _expected(env, profile)


@pytest.mark.parametrize(
    "xdg",
    [None, "", "/abs/xdg", "relative/xdg"],
)
@pytest.mark.parametrize("home", ["/home/someone", "relative-home"])
def test_user_dirs_match_platformdirs(
    monkeypatch: pytest.MonkeyPatch, xdg: str | None, home: str
) -> None:
    monkeypatch.setenv("HOME", home)
    for variable in ("XDG_CONFIG_HOME", "XDG_STATE_HOME"):
        if xdg is None:
            monkeypatch.delenv(variable, raising=False)
        else:
            monkeypatch.setenv(variable, xdg)
    try:
        expected_config = platformdirs.user_config_dir("ctct")
        expected_state = platformdirs.user_state_dir("ctct")
    except RuntimeError:
        pytest.skip("platformdirs cannot resolve a home here either")
    assert _dirs.user_dir("config") == expected_config
    assert _dirs.user_dir("state") == expected_state


@pytest.mark.parametrize(
    "config",
    [
        'issuer = "https://auth.example.com"',
        'token_endpoint = "https://auth.example.com/token"',
        'client_id = "x"\nbogus = 1',
        "client_id = [oops",
        'client_id = "x"\ntimeout = "soon"',
        'client_id = "x"\nstore = "memory://"',
        'client_id = "x"\nstore = "sqlite:///"',
        'client_id = "x"\nstore = "sqlite:///srv/dir/"',
        'client_id = "x"\nstore = "sqlite:///srv/t.db?mode=ro"',
        'client_id = "x"\n[profiles.a]\nclient_id = "y"',  # profile 'default' exists? no: only a
    ],
)
def test_unusual_configuration_goes_to_the_full_cli(tmp_path: Path, config: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(config)
    env = {"CTCT_CONFIG": str(path), "HOME": str(tmp_path)}
    profile = "b" if "[profiles.a]" in config else None
    assert _entry.fast_token(profile, env) is None


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["auth", "token"], None),
        (["auth", "token", "--profile", "work"], "work"),
        (["auth", "token", "-p", "work"], "work"),
        (["auth", "token", "--profile=work"], "work"),
        (["--profile", "work", "auth", "token"], "work"),
        (["-p", "work", "auth", "token"], "work"),
        (["--profile=work", "auth", "token"], "work"),
        (["--profile", "work", "auth", "token", "--profile", "work"], False),
        (["--profile", "work", "auth", "status"], False),
        (["--profile", "-x", "auth", "token"], False),
        (["auth", "token", "--debug"], False),
        (["auth", "token", "--help"], False),
        (["auth", "token", "--profile"], False),
        (["auth", "token", "--store", "x"], False),
        (["auth", "status"], False),
        ([], False),
    ],
)
def test_only_plain_auth_token_takes_the_fast_path(argv: list[str], expected: object) -> None:
    assert _entry._token_command_profile(argv) == expected


# -- with a real store ----------------------------------------------------------------------


def fresh_record(
    path: Path, key: str | None = None, *, store_offset: float = 0.0, **changes: Any
) -> str:
    now = time.time()
    provider = Provider.constant_contact()
    tokens = TokenSet(
        issuer=provider.storage_issuer,
        client_id=CLIENT,
        access_token=Secret("eyJfake.access.token"),
        refresh_token=Secret("refresh"),
        expires_at=now + 3600,
        received_at=now,
        obtained_at=now,
    )
    tokens = replace(tokens, **changes)
    keys = static_keys(key)() if key else no_keys()
    with SqliteStore(path, keys) as store:
        grant = GrantKey("default", provider.storage_issuer, CLIENT)
        current = store.load_envelope(grant)  # raw: a plaintext one is replaced, not read
        store.save(
            grant,
            tokens.to_json(store_offset),
            expected_version=None if current is None else current[1],
        )
    return "eyJfake.access.token"


def _store_env(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A store path and the settings that select it (an empty config file)."""
    db = tmp_path / "store" / "tokens.db"
    env = {"CTCT_CLIENT_ID": CLIENT, "CTCT_STORE": f"sqlite://{db}", "HOME": str(tmp_path)}
    env["CTCT_CONFIG"] = str(tmp_path / "empty.toml")
    Path(env["CTCT_CONFIG"]).touch()
    return db, env


def test_fast_token_reads_plain_and_encrypted_records(tmp_path: Path) -> None:
    from ctct.stores import generate_key

    db, env = _store_env(tmp_path)
    token = fresh_record(db)
    assert _entry.fast_token(None, env) == token
    key = generate_key()
    fresh_record(db, key)
    assert _entry.fast_token(None, {**env, "CTCT_STORE_KEY": key}) == token
    assert _entry.fast_token(None, {**env, "CTCT_STORE_KEY": generate_key()}) is None
    assert _entry.fast_token("someone-else", env) is None


@pytest.mark.parametrize("setting", ["CTCT_LEEWAY", "CTCT_REFRESH_MARGIN", "CTCT_TIMEOUT"])
@pytest.mark.parametrize("text", ["nan", "inf"])
def test_nan_or_infinite_numbers_go_to_the_full_cli_which_refuses_them(
    tmp_path: Path, setting: str, text: str
) -> None:
    db = tmp_path / "tokens.db"
    env = {"CTCT_CLIENT_ID": CLIENT, "CTCT_STORE": f"sqlite://{db}", "HOME": str(tmp_path)}
    env["CTCT_CONFIG"] = str(tmp_path / "empty.toml")
    Path(env["CTCT_CONFIG"]).touch()
    token = fresh_record(db)
    assert _entry.fast_token(None, {**env, setting: "60"}) == token
    assert _entry.fast_token(None, {**env, setting: text}) is None


def test_a_client_secret_file_open_to_others_goes_to_the_full_cli(tmp_path: Path) -> None:
    db = tmp_path / "tokens.db"
    secret = tmp_path / "client-secret"
    secret.write_text("s3cret\n")
    env = {
        "CTCT_CLIENT_ID": CLIENT,
        "CTCT_STORE": f"sqlite://{db}",
        "CTCT_CLIENT_SECRET_FILE": str(secret),
        "CTCT_CONFIG": str(tmp_path / "empty.toml"),
        "HOME": str(tmp_path),
    }
    Path(env["CTCT_CONFIG"]).touch()
    token = fresh_record(db)
    secret.chmod(0o600)
    assert _entry.fast_token(None, env) == token
    secret.chmod(0o640)
    assert _entry.fast_token(None, env) is None  # Settings.load refuses it, with a message


def test_freshness_rule_is_the_token_models(tmp_path: Path) -> None:
    db = tmp_path / "tokens.db"
    env = {"CTCT_CLIENT_ID": CLIENT, "CTCT_STORE": f"sqlite://{db}", "HOME": str(tmp_path)}
    env["CTCT_CONFIG"] = str(tmp_path / "empty.toml")
    Path(env["CTCT_CONFIG"]).touch()
    now = time.time()
    for lifetime, age in ((3600, 0), (3600, 3200), (3600, 3400), (10, 8.5), (10, 9.5), (10, 11)):
        fresh_record(db, received_at=now - age, expires_at=now - age + lifetime)
        with open_store(env["CTCT_STORE"]) as store:
            (grant,) = store.keys()
            record = store.load(grant)
            assert record is not None
            state = TokenSet.from_json(record.data).state(now)
        fast = _entry.fast_token(None, env, now=now)
        assert (fast is not None) == (state.value == "fresh"), (lifetime, age, state)


def test_a_record_written_on_another_hosts_clock_is_left_to_the_full_cli(
    tmp_path: Path,
) -> None:
    db, env = _store_env(tmp_path)
    token = fresh_record(db)
    assert _entry.fast_token(None, env) == token  # SQLite's own records: offset 0
    # A record whose times are on another host's clock (copied from a server store):
    # the full CLI moves them onto this one (ctct._store_clock).
    fresh_record(db, store_offset=-90.0)
    assert _entry.fast_token(None, env) is None


@pytest.mark.parametrize("slashes", ["//", "///"])
def test_the_fast_path_imports_no_cli_framework_or_http_client(
    tmp_path: Path, slashes: str
) -> None:
    # With "///", the URL is sqlite:////abs/path (SQLAlchemy's form): served here too,
    # as the imports prove (the full CLI would have loaded click and the store package).
    db = tmp_path / "tokens.db"
    token = fresh_record(db)
    config = tmp_path / "empty.toml"
    config.touch()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CTCT_")},
        "CTCT_CLIENT_ID": CLIENT,
        "CTCT_STORE": f"sqlite:{slashes}{db}",
        "CTCT_CONFIG": str(config),
    }
    probe = (
        "import sys, json\n"
        "sys.argv = ['ctct', 'auth', 'token']\n"
        "from ctct._entry import main\n"
        "main()\n"
        "heavy = ['click', 'rich', 'httpx2', 'joserfc', 'cryptography', 'ctct.stores',\n"
        "         'ctct._settings', 'platformdirs', 'keyring']\n"
        "sys.stderr.write(json.dumps([m for m in heavy if m in sys.modules]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == token + "\n"
    assert json.loads(result.stderr) == []


def test_a_due_token_falls_back_and_is_refreshed(cli: Cli, emu: EmulatorHandle) -> None:
    login(cli, emu)
    first = cli.run("auth", "token").stdout.strip()
    path = cli.env["CTCT_STORE"].partition("://")[2]
    with SqliteStore(Path(path), no_keys()) as store:
        (grant,) = store.keys()
        record = store.load(grant)
        assert record is not None
        tokens = TokenSet.from_json(record.data)
        due = replace(tokens, expires_at=time.time() + 5, received_at=time.time() - 3600)
        store.save(grant, due.to_json(), expected_version=record.version)
    second = cli.run("auth", "token")
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() != first
    assert emu.counters()["token_requests"]["refresh_token"]
    third = cli.run("auth", "token")
    assert third.stdout == second.stdout  # fresh again: the fast path serves it


def test_fast_token_decrypts_with_every_key_source_and_only_its_own_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fast path opens AES-GCM records itself (no store package): with the key from
    CTCT_STORE_KEY (also as the old key after a rotation), CTCT_STORE_KEY_FILE or the
    default key file; a record moved under another grant key is not served."""
    import sqlite3

    from ctct.stores import generate_key

    db, env = _store_env(tmp_path)
    env["CTCT_STORE_KEYRING"] = "0"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))  # the default key file's
    key, new = generate_key(), generate_key()
    token = fresh_record(db, key)
    assert _entry.fast_token(None, {**env, "CTCT_STORE_KEY": key}) == token
    assert _entry.fast_token(None, {**env, "CTCT_STORE_KEY": f"{new},{key}"}) == token
    key_file = tmp_path / "store.key"
    key_file.write_text(key + "\n")
    key_file.chmod(0o600)
    assert _entry.fast_token(None, {**env, "CTCT_STORE_KEY_FILE": str(key_file)}) == token
    key_file.chmod(0o644)  # open to others: refused here as by the store package
    assert _entry.fast_token(None, {**env, "CTCT_STORE_KEY_FILE": str(key_file)}) is None
    default = tmp_path / "xdg" / "ctct" / "store.key"
    default.parent.mkdir(parents=True)
    default.write_text(key)
    default.chmod(0o600)
    assert _entry.fast_token(None, env) == token
    # The same sealed bytes filed under another profile: bound to the grant key, refused.
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE grants SET profile = 'other'")
    assert _entry.fast_token("other", {**env, "CTCT_STORE_KEY": key}) is None


def test_the_fast_paths_aesgcm_is_cryptographys_public_class() -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    assert _entry.aesgcm_class() is AESGCM
