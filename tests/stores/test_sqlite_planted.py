"""Store files someone else may have planted or loosened: a symbolic link at the store
path (or at its ``-wal``/``-shm``), a store open to group or others, someone else's
file. Each is refused with a message before a single token is written into it, by the
library, the CLI and the ``ctct auth token`` fast path, on real files."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from ctct import _entry
from ctct._provider import Provider
from ctct.errors import StoreError
from ctct.stores import GrantKey, SqliteStore, no_keys
from tests.cli.conftest import CTCT, TRACEBACK, isolated_env
from tests.cli.test_fast_path import fresh_record

CLIENT = "5f4c3b2a-1d0e-4f9a-8b7c-6d5e4f3a2b1c"
GRANT = GrantKey("default", Provider.constant_contact().storage_issuer, CLIENT)
TOKENS = b'{"planted": false, "access_token": "the-users-own-token"}'


def make_store(path: Path) -> None:
    with SqliteStore(path, no_keys()) as store:
        store.save(GRANT, TOKENS, expected_version=None)


def fingerprint(path: Path) -> tuple[bytes, int, int]:
    info = path.stat()
    return path.read_bytes(), stat.S_IMODE(info.st_mode), info.st_mtime_ns


def refused(path: Path) -> str:
    with pytest.raises(StoreError) as info:
        SqliteStore(path, no_keys())
    return info.value.message


def test_a_symbolic_link_at_the_store_path_is_refused(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs" / "tokens.db"
    make_store(theirs)  # a store its planter can read (here: a valid ctct store)
    before = fingerprint(theirs)
    ours = tmp_path / "ours" / "tokens.db"
    ours.parent.mkdir(mode=0o700)
    ours.symlink_to(theirs)
    # safety: src/ctct/stores/files.py: raise StoreError(_symlink_message("the token store", path))
    message = refused(ours)
    assert f"the token store {ours} is a symbolic link (to {theirs})" in message
    assert "remove it" in message
    assert fingerprint(theirs) == before
    assert not ours.with_name("tokens.db-wal").exists()
    # A dangling link: nothing is created where it points.
    ours.unlink()
    ours.symlink_to(tmp_path / "theirs" / "new.db")
    assert "is a symbolic link" in refused(ours)
    assert not (tmp_path / "theirs" / "new.db").exists()


@pytest.mark.parametrize(
    ("suffix", "what"), [("-wal", "write-ahead log"), ("-shm", "shared-memory file")]
)
def test_a_symbolic_link_at_the_wal_or_shm_path_is_refused(
    tmp_path: Path, suffix: str, what: str
) -> None:
    db = tmp_path / "state" / "tokens.db"
    make_store(db)
    target = tmp_path / "readable-by-them"
    companion = db.with_name(db.name + suffix)
    if companion.exists():
        companion.unlink()
    companion.symlink_to(target)
    # safety: src/ctct/stores/files.py: raise StoreError(_symlink_message(what, path))
    message = refused(db)
    assert f"the token store's {what} {companion} is a symbolic link" in message
    assert not target.exists()  # SQLite never opened it, so never created it


@pytest.mark.parametrize("suffix", ["", "-wal", "-shm"])
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o606, 0o660])
def test_a_store_file_open_to_group_or_others_is_refused(
    tmp_path: Path, suffix: str, mode: int
) -> None:
    db = tmp_path / "state" / "tokens.db"
    make_store(db)
    loose = db.with_name(db.name + suffix)
    loose.touch()
    loose.chmod(mode)
    before = fingerprint(db)
    # safety: src/ctct/stores/files.py: raise StoreError(_open_to_others(what, path, info.st_mode))
    message = refused(db)
    assert f"{loose} is accessible by group or others (mode {mode:04o})" in message
    assert f"chmod 600 {loose}" in message
    assert fingerprint(db) == before  # not a byte written, the mode left as it was
    assert stat.S_IMODE(loose.stat().st_mode) == mode
    loose.chmod(0o600)  # the fix the message gives
    with SqliteStore(db, no_keys()) as store:
        record = store.load(GRANT)
    assert record is not None and record.data == TOKENS


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_a_store_file_that_belongs_to_another_user_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "state" / "tokens.db"
    make_store(db)
    os.chown(db, 65534, 65534)  # nobody
    # safety: src/ctct/stores/files.py: raise StoreError(_foreign_owner(what, path, info.st_uid))
    message = refused(db)
    assert f"the token store {db} belongs to another user (uid 65534)" in message


def test_a_new_store_and_its_companions_are_created_private(tmp_path: Path) -> None:
    old_umask = os.umask(0)  # the loosest umask: modes must not depend on it
    try:
        db = tmp_path / "fresh" / "tokens.db"
        with SqliteStore(db, no_keys()) as store:
            store.save(GRANT, TOKENS, expected_version=None)
            files = [db, db.with_name("tokens.db-wal"), db.with_name("tokens.db-shm")]
            assert [stat.S_IMODE(p.stat().st_mode) for p in files] == [0o600] * 3
        assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
    finally:
        os.umask(old_umask)


# -- the CLI and the fast path ------------------------------------------------------------


@pytest.mark.parametrize("plant", ["symlink", "loose", "loose-wal"])
def test_the_cli_and_the_fast_path_refuse_a_planted_or_loose_store(
    tmp_path: Path, plant: str
) -> None:
    env = isolated_env(tmp_path)
    db = tmp_path / "state" / "tokens.db"
    real = tmp_path / "elsewhere" / "tokens.db"
    env.update({"CTCT_CLIENT_ID": CLIENT, "CTCT_STORE": f"sqlite://{db}"})
    if plant == "symlink":
        # A valid grant with a fresh access token, planted behind a link.
        _write_fresh_grant(real)
        db.parent.mkdir(mode=0o700)
        db.symlink_to(real)
    else:
        _write_fresh_grant(db)
        (db if plant == "loose" else db.with_name("tokens.db-wal")).chmod(0o644)
    assert _entry.fast_token(None, env) is None  # the fast path hands it to the full CLI
    result = subprocess.run(
        [CTCT, "auth", "token"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 13, result.stderr
    assert result.stdout == ""  # no token printed
    says = "is a symbolic link" if plant == "symlink" else "is accessible by group or others"
    assert says in result.stderr and TRACEBACK not in result.stderr


def _write_fresh_grant(path: Path) -> None:
    token = fresh_record(path)
    path.with_name(path.name + "-wal").touch()  # as a running peer would leave it
    path.with_name(path.name + "-wal").chmod(0o600)
    # The fast path would serve this grant from a private, unplanted store.
    assert _entry.fast_token(None, _env_for(path)) == token


def _env_for(path: Path) -> dict[str, str]:
    config = path.parent / "empty.toml"
    config.touch()
    return {"CTCT_CLIENT_ID": CLIENT, "CTCT_STORE": f"sqlite://{path}", "CTCT_CONFIG": str(config)}
