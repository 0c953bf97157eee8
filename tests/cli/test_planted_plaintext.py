"""A plaintext grant planted into an encrypted store is refused: by the store (see
``tests/stores/test_contract.py``), by the full CLI, and by ``ctct auth token``'s fast
path, which serves a plaintext record only when no key is in the environment or a key
file and no keyed process has opened the store (``meta.encrypted``), on real files."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest

from ctct import _entry
from ctct.stores import SqliteStore, generate_key, static_keys
from ctct.stores.crypto import MAGIC
from tests.cli.conftest import CTCT, TRACEBACK, isolated_env
from tests.cli.test_fast_path import CLIENT, fresh_record


def plant_plaintext(db: Path) -> str:
    """Replace the stored grant by a plaintext one (with a fresh access token), raw."""
    plain = tmp_copy = db.with_name("planted.db")
    token = fresh_record(tmp_copy)  # no key: a plaintext envelope
    with sqlite3.connect(plain) as source:
        (envelope,) = source.execute("SELECT data FROM grants").fetchone()
    source.close()
    assert bytes(envelope)[:4] == MAGIC + b"\x00"
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE grants SET data = ?", (envelope,))
    conn.close()
    return token


def env_for(tmp_path: Path, db: Path) -> dict[str, str]:
    env = isolated_env(tmp_path)
    env.update({"CTCT_CLIENT_ID": CLIENT, "CTCT_STORE": f"sqlite://{db}"})
    return env


def test_a_plaintext_record_with_no_key_anywhere_is_served_by_the_fast_path(
    tmp_path: Path,
) -> None:
    db = tmp_path / "state" / "tokens.db"
    token = fresh_record(db)
    assert _entry.fast_token(None, env_for(tmp_path, db)) == token


def test_a_planted_plaintext_grant_is_refused_when_a_key_is_in_the_environment(
    tmp_path: Path,
) -> None:
    key = generate_key()
    db = tmp_path / "state" / "tokens.db"
    planted = fresh_record(db)  # a plaintext record, in a store no keyed process marked
    env = {**env_for(tmp_path, db), "CTCT_STORE_KEY": key}
    # safety: src/ctct/_entry.py: raise _Fallback("plaintext record, key configured")
    assert _entry.fast_token(None, env) is None
    # And in a store a keyed process uses (marked), a grant planted raw.
    fresh_record(db, key)
    planted = plant_plaintext(db)
    assert _entry.fast_token(None, env) is None
    result = subprocess.run(
        [CTCT, "auth", "token"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 13, result.stderr
    assert result.stdout == "" and planted not in result.stderr
    assert "is not encrypted, but a store key is configured" in result.stderr
    assert TRACEBACK not in result.stderr


def test_a_key_file_alone_also_sends_plaintext_to_the_full_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "state" / "tokens.db"
    env = env_for(tmp_path, db)
    # The fast path finds the user's directories in its own process environment.
    monkeypatch.setenv("XDG_CONFIG_HOME", env["XDG_CONFIG_HOME"])
    token = fresh_record(db)
    assert _entry.fast_token(None, env) == token
    key_file = Path(env["XDG_CONFIG_HOME"]) / "ctct" / "store.key"
    key_file.parent.mkdir(parents=True)
    key_file.write_text(generate_key() + "\n")
    key_file.chmod(0o600)
    assert _entry.fast_token(None, env) is None


def test_a_store_a_keyed_process_opened_gets_no_plaintext_from_the_fast_path(
    tmp_path: Path,
) -> None:
    # The key lives where the fast path does not look (the keyring): the store's own
    # mark, written when a keyed process opened it, is what sends it to the full CLI.
    db = tmp_path / "state" / "tokens.db"
    env = env_for(tmp_path, db)
    token = fresh_record(db)
    assert _entry.fast_token(None, env) == token
    # safety: src/ctct/stores/sqlite.py: conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('encrypted', '1')")  # noqa: E501
    SqliteStore(db, static_keys(generate_key())()).close()
    # safety: src/ctct/_entry.py: raise _Fallback("plaintext in a store a keyed process uses (see _open_envelope)")  # noqa: E501
    assert _entry.fast_token(None, env) is None
    # An encrypted record in a marked store is still the fast path's to serve.
    key = generate_key()
    keyed = tmp_path / "state" / "keyed.db"
    fresh_record(keyed, key)
    keyed_env = {**env, "CTCT_STORE": f"sqlite://{keyed}", "CTCT_STORE_KEY": key}
    assert _entry.fast_token(None, keyed_env) == token


def test_ctct_store_rekey_adopts_records_written_before_the_key(tmp_path: Path) -> None:
    db = tmp_path / "state" / "tokens.db"
    token = fresh_record(db)  # written while no key was configured
    env = {**env_for(tmp_path, db), "CTCT_STORE_KEY": generate_key()}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CTCT, *args], env=env, capture_output=True, text=True, timeout=120, check=False
        )

    refused = run("auth", "token")
    assert refused.returncode == 13 and "ctct store rekey" in refused.stderr
    adopted = run("store", "rekey")
    assert adopted.returncode == 0, adopted.stderr
    assert "Re-encrypted 1 of 1" in adopted.stdout
    with sqlite3.connect(db) as conn:
        (envelope,) = conn.execute("SELECT data FROM grants").fetchone()
    conn.close()
    assert bytes(envelope)[:4] == MAGIC + b"\x01"  # sealed now
    served = run("auth", "token")
    assert served.returncode == 0 and served.stdout == token + "\n"
