"""SQLite-only behaviour: real processes, file permissions, damaged files, durability."""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ctct.errors import StoreError
from ctct.stores import (
    GrantKey,
    Record,
    SqliteStore,
    StoreCorrupt,
    StoreLockTimeout,
    generate_key,
    static_keys,
)
from ctct.stores.keys import no_keys
from ctct.stores.locks import FlockLock
from ctct.stores.sqlite import APPLICATION_ID

WORKER = Path(__file__).with_name("worker.py")
GRANT = GrantKey("default", "https://authz.example/oauth2/aus1", "client-1")


def worker(*args: str, stdin: int | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args], stdin=stdin, stdout=subprocess.PIPE, text=True
    )


def run_worker(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(WORKER), *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "state" / "tokens.db"


@pytest.fixture
def store(db: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(db, no_keys())
    yield opened
    opened.close()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- processes ------------------------------------------------------------------------


def test_lock_excludes_other_processes(store: SqliteStore, db: Path, tmp_path: Path) -> None:
    log = tmp_path / "critical.log"
    procs = [worker("critical", str(db), str(log), "15") for _ in range(4)]
    for p in procs:
        p.communicate(timeout=120)
        assert p.returncode == 0
    lines = log.read_text().splitlines()
    assert len(lines) == 4 * 15 * 2
    # Strict alternation: every entry is followed by the same process's exit.
    for enter, leave in zip(lines[::2], lines[1::2], strict=True):
        assert enter.startswith("enter ")
        assert leave == "exit " + enter.removeprefix("enter ")


def test_lock_of_a_killed_process_is_released(store: SqliteStore, db: Path) -> None:
    holder = worker("hold", str(db), GRANT.profile)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(StoreLockTimeout):
            store.lock(GRANT, timeout=0.1).acquire()
        # Another profile is not blocked by it.
        with store.lock(GrantKey("other", GRANT.issuer, GRANT.client_id), timeout=0):
            pass
        holder.send_signal(signal.SIGKILL)
        assert holder.wait(timeout=30) == -signal.SIGKILL
        with store.lock(GRANT, timeout=10):
            pass
    finally:
        holder.kill()
        holder.communicate()


@pytest.mark.parametrize("mode_", ["cas", "locked"])
def test_concurrent_updates_from_processes_lose_nothing(
    store: SqliteStore, db: Path, mode_: str
) -> None:
    store.save(GRANT, b"0", expected_version=None)
    procs = [worker("increment", str(db), "15", "3", mode_) for _ in range(4)]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    record = store.load(GRANT)
    assert record is not None
    assert record.data == b"180"  # 4 processes x 3 threads x 15
    assert record.version == 181
    if mode_ == "locked":
        # Under the grant lock nobody else writes, so no CAS ever loses.
        assert all(out.strip() == "conflicts 0" for out in outputs), outputs


def test_flock_excludes_threads_of_one_process(tmp_path: Path) -> None:
    # Each FlockLock opens its own descriptor (its own open file description), so flock
    # alone keeps threads apart, without the in-process thread lock in front of it.
    path = tmp_path / "x.lock"
    first = FlockLock(path, timeout=1, what="test")
    first.acquire()
    outcome: list[BaseException | None] = []

    def contend() -> None:
        try:
            FlockLock(path, timeout=0.05, what="test").acquire()
            outcome.append(None)
        except StoreLockTimeout as exc:
            outcome.append(exc)

    thread = threading.Thread(target=contend)
    thread.start()
    thread.join()
    assert isinstance(outcome[0], StoreLockTimeout)
    first.release()
    with FlockLock(path, timeout=0, what="test"):
        pass


def test_save_is_durable_when_the_writer_is_killed(store: SqliteStore, db: Path) -> None:
    for n in range(4):
        out = worker("save-and-die", str(db), f"value-{n}")
        stdout, _ = out.communicate(timeout=60)
        assert out.returncode == -signal.SIGKILL
        version = int(stdout.split()[-1])
        with SqliteStore(db, no_keys()) as reopened:
            assert reopened.load(GRANT) == Record(f"value-{n}".encode(), version)


# -- permissions ----------------------------------------------------------------------


def test_files_are_private_from_creation_whatever_the_umask(tmp_path: Path) -> None:
    db = tmp_path / "new" / "nested" / "tokens.db"
    proc = worker("create", str(db), stdin=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        # The worker runs with umask 0 and still has everything open.
        for directory in (tmp_path / "new", db.parent, db.with_name("tokens.db.locks")):
            assert mode(directory) == 0o700, directory
        sidecars = [db.with_name("tokens.db-wal"), db.with_name("tokens.db-shm")]
        for path in [db, *sidecars]:
            assert mode(path) == 0o600, path
        assert db.with_name("tokens.db-wal").stat().st_size > 0  # WAL really in use
        locks = list(db.with_name("tokens.db.locks").iterdir())
        assert locks
        assert all(mode(lock) == 0o600 for lock in locks)
    finally:
        proc.communicate(timeout=60)
        assert proc.returncode == 0


def test_a_loose_existing_directory_is_reported(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    with SqliteStore(tmp_path / "tokens.db", no_keys()) as store:
        warnings = store.describe().warnings
    assert any("chmod 700" in w for w in warnings)


# -- damaged and foreign files --------------------------------------------------------


def snapshot(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), path.stat().st_mtime_ns


def filled_store(db: Path) -> None:
    with SqliteStore(db, no_keys()) as store:
        for n in range(200):
            key = GrantKey(f"profile-{n}", "https://issuer", "client")
            store.save(key, os.urandom(300), expected_version=None)
    # Closing the last connection checkpoints everything into the main file.
    assert not db.with_name(db.name + "-wal").exists()


def assert_refused(db: Path, error: type[StoreError], match: str) -> None:
    before = snapshot(db)
    for _ in range(2):  # a second attempt must find the file exactly as it was
        with pytest.raises(error, match=match) as info:
            SqliteStore(db, no_keys())
        assert str(db) in str(info.value)
        assert snapshot(db) == before


def test_garbage_file_is_refused_and_untouched(db: Path) -> None:
    db.parent.mkdir(mode=0o700)
    db.write_bytes(b"\x00garbage" + random.randbytes(5000))
    assert_refused(db, StoreCorrupt, "not an SQLite database")
    assert not db.with_name("tokens.db-wal").exists()


def test_short_text_file_is_refused(db: Path) -> None:
    db.parent.mkdir(mode=0o700)
    db.write_text("hello\n")
    assert_refused(db, StoreCorrupt, "move it aside")


def test_truncated_database_is_refused(db: Path) -> None:
    filled_store(db)
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])
    assert_refused(db, StoreCorrupt, "damaged")


def test_overwritten_pages_are_refused(db: Path) -> None:
    filled_store(db)
    data = bytearray(db.read_bytes())
    page = 4096
    data[2 * page : 4 * page] = random.randbytes(2 * page)
    db.write_bytes(bytes(data))
    assert_refused(db, StoreCorrupt, "damaged")


def test_another_applications_database_is_refused(db: Path) -> None:
    db.parent.mkdir(mode=0o700)
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE users (name TEXT)")
        conn.execute("INSERT INTO users VALUES ('alice')")
    conn.close()
    db.chmod(0o600)  # private, so refused for what it holds (a loose one is refused anyway)
    assert_refused(db, StoreError, "another application")


def test_a_store_from_a_newer_version_is_refused(db: Path) -> None:
    filled_store(db)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    conn.close()
    assert_refused(db, StoreError, "newer ctct")


def test_a_directory_in_place_of_the_file_is_refused(db: Path) -> None:
    db.mkdir(parents=True)
    (db / "keep").write_text("x")
    with pytest.raises(StoreError, match="is a directory"):
        SqliteStore(db, no_keys())
    assert [p.name for p in db.iterdir()] == ["keep"]


def open_as_nobody(db: Path) -> str:
    """Open the store in a forked child that dropped root for nobody; its error message."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report through the pipe, never return into pytest
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            try:
                SqliteStore(db, no_keys()).close()
                message = "opened"
            except StoreError as exc:
                message = f"{type(exc).__name__}: {exc}"
            os.write(write_end, message.encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        message = pipe.read().decode()
    os.waitpid(pid, 0)
    return message


def test_an_unreadable_file_is_refused(db: Path) -> None:
    if os.geteuid() != 0:
        filled_store(db)
        db.chmod(0)
        with pytest.raises(StoreError, match="Permission denied"):
            SqliteStore(db, no_keys())
        db.chmod(0o600)
        return
    # Root reads everything: check as an unprivileged user instead, on a root-owned store.
    shared = Path(tempfile.mkdtemp(prefix="ctct-store-"))
    try:
        shared.chmod(0o755)
        target = shared / "tokens.db"
        filled_store(target)
        before = snapshot(target)
        message = open_as_nobody(target)
        assert message.startswith("StoreError: cannot open the token store")
        assert "Permission denied" in message
        assert str(target) in message
        assert snapshot(target) == before
    finally:
        shutil.rmtree(shared)


def test_relative_path_is_refused() -> None:
    with pytest.raises(ValueError, match="absolute"):
        SqliteStore(Path("tokens.db"), no_keys())


# -- sqlite-only details --------------------------------------------------------------


def test_the_database_is_in_wal_mode(store: SqliteStore, db: Path) -> None:
    store.save(GRANT, b"x", expected_version=None)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (
            "1",
        )
    conn.close()


def test_single_use_records_are_encrypted_on_disk(db: Path) -> None:
    with SqliteStore(db, static_keys(generate_key())()) as store:
        store.put_once("pkce", "s", b"verifier-secret", ttl=60)
        with sqlite3.connect(db) as conn:
            (blob,) = conn.execute("SELECT data FROM once").fetchone()
        conn.close()
        assert b"verifier-secret" not in blob
        assert store.take_once("pkce", "s") == b"verifier-secret"


def test_forked_child_does_not_reuse_parent_connections(store: SqliteStore) -> None:
    store.save(GRANT, b"parent", expected_version=None)
    pid = os.fork()
    if pid == 0:  # the child: must work on fresh connections and exit without cleanup
        try:
            record = store.load(GRANT)
            ok = record is not None and record.data == b"parent"
            store.save(GRANT, b"child", expected_version=record.version if record else None)
            os._exit(0 if ok else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert store.load(GRANT).data == b"child"  # type: ignore[union-attr]
