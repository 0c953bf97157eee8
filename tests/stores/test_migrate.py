"""``ctct store migrate --to URL``: every grant copied under its lease, tombstones left in
the source, a worker still on the old store fails loudly (exit 19, the new store named
without its password), and running it again is safe. SQLite -> PostgreSQL and
PostgreSQL -> Redis, on real servers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from ctct._manager import TokenManager
from ctct._oauth_requests import ClientCredentials
from ctct._provider import Provider
from ctct._tokens import TokenSet
from ctct.cli.store_cmd import store
from ctct.emulator.config import DEFAULT_CLIENT_ID
from ctct.stores import AccountState, Attempt, GrantKey, StoreMoved, generate_key, open_store
from tests.servers import RedisServer, fresh_postgres_schema, fresh_redis_prefix
from tests.timeshim import clock_env

BASE_URL = "http://127.0.0.1:9"  # never contacted: every token here is fresh
PROVIDER = Provider.constant_contact(BASE_URL)
PROFILES = ("alpha", "beta", "gamma")


def with_password(url: str) -> str:
    """``url`` with a password in it (the local servers ignore it): never shown."""
    scheme, rest = url.split("://", 1)
    user = "postgres" if scheme.startswith("postgres") else ""
    return f"{scheme}://{user}:hunter2-secret@{rest.split('@', 1)[-1]}"


@pytest.fixture(autouse=True)
def store_key(monkeypatch: pytest.MonkeyPatch) -> str:
    key = generate_key()
    monkeypatch.setenv("CTCT_STORE_KEY", key)
    monkeypatch.setenv("CTCT_STORE_KEYRING", "0")
    return key


@pytest.fixture
def postgres_url() -> Iterator[str]:
    url, cleanup = fresh_postgres_schema()
    yield with_password(url)
    cleanup()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    url, cleanup = fresh_redis_prefix(redis_server)
    yield with_password(url)
    cleanup()


def ctct(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The ``ctct`` console script, as a user runs it (settings from the environment)."""
    script = Path(sys.executable).with_name("ctct")
    settings = {
        "CTCT_CLIENT_ID": DEFAULT_CLIENT_ID,
        "CTCT_BASE_URL": BASE_URL,
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_STATE_HOME": str(home / "state"),
    }
    return subprocess.run(
        [str(script), *args],
        env={**os.environ, **settings, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def key(profile: str) -> GrantKey:
    return GrantKey(profile, PROVIDER.storage_issuer, DEFAULT_CLIENT_ID)


def fill(url: str) -> dict[str, bytes]:
    """A grant per profile (one flagged, one with an attempt in doubt)."""
    now = time.time()
    written = {}
    with open_store(url) as source:
        for profile in PROFILES:
            data = TokenSet.imported(
                issuer=PROVIDER.storage_issuer,
                client_id=DEFAULT_CLIENT_ID,
                now=now,
                access_token=f"at-{profile}",
                refresh_token=f"rt-{profile}",
                expires_at=now + 86_400,
            ).to_json()
            source.save(key(profile), data, expected_version=None)
            written[profile] = data
        source.set_state(key("beta"), AccountState("needs_login", "rejected"))
        source.record_attempt(key("gamma"), Attempt("host-a:1:gone", "parent-fp", 3))
    return written


def migrate(source: str, target: str) -> dict[str, list[str]]:
    result = CliRunner().invoke(store, ["migrate", "--store", source, "--to", target, "--json"])
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.output
    report: dict[str, list[str]] = json.loads(result.stdout)
    return report


def check_moved(source: str, target: str, written: dict[str, bytes]) -> None:
    with open_store(target) as moved:
        for profile, data in written.items():
            record = moved.load(key(profile))
            assert record is not None and record.data == data
        state = moved.load_state(key("beta"))
        assert state is not None and (state.code, state.reason) == ("needs_login", "rejected")
        attempt = moved.load_attempt(key("gamma"))
        assert attempt is not None and attempt.parent == "parent-fp"
    with open_store(source) as old:
        for profile in PROFILES:
            with pytest.raises(StoreMoved) as info:
                old.load(key(profile))
            assert "moved to" in info.value.message
            assert "hunter2" not in info.value.message and "**********" in info.value.message


def test_sqlite_to_postgresql_then_again(tmp_path: Path, postgres_url: str) -> None:
    # safety: src/ctct/stores/sealed.py: raise moved_error(key, data)
    source = f"sqlite:///{tmp_path}/tokens.db"
    written = fill(source)
    report = migrate(source, postgres_url)
    assert sorted(report["copied"]) == list(PROFILES)
    assert "hunter2" not in report["to"]
    check_moved(source, postgres_url, written)

    again = migrate(source, postgres_url)  # re-running is safe: nothing copied twice
    assert again["copied"] == [] and sorted(again["moved_before"]) == list(PROFILES)
    check_moved(source, postgres_url, written)


def test_postgresql_to_redis(postgres_url: str, redis_url: str) -> None:
    written = fill(postgres_url)
    report = migrate(postgres_url, redis_url)
    assert sorted(report["copied"]) == list(PROFILES)
    check_moved(postgres_url, redis_url, written)


def test_an_interrupted_run_is_finished_by_the_next(tmp_path: Path, postgres_url: str) -> None:
    # The copy landed but the tombstone did not (a crash between the two): the next run
    # finds the same record in the target, writes nothing there, and leaves the tombstone.
    source = f"sqlite:///{tmp_path}/tokens.db"
    written = fill(source)
    with open_store(postgres_url) as target:
        target.save(key("alpha"), written["alpha"], expected_version=None)
    report = migrate(source, postgres_url)
    assert report["already_there"] == ["alpha"]
    assert sorted(report["copied"]) == ["beta", "gamma"]
    check_moved(source, postgres_url, written)


def test_a_different_record_in_the_target_is_never_overwritten(
    tmp_path: Path, postgres_url: str
) -> None:
    source = f"sqlite:///{tmp_path}/tokens.db"
    written = fill(source)
    with open_store(postgres_url) as target:
        target.save(key("beta"), b'{"other": "record"}', expected_version=None)
    result = ctct(tmp_path, "store", "migrate", "--store", source, "--to", postgres_url)
    assert result.returncode == 13, result.stderr
    assert "'beta'" in result.stderr and "Traceback" not in result.stderr
    assert "hunter2" not in result.stderr + result.stdout
    with open_store(postgres_url) as target:
        record = target.load(key("beta"))
        assert record is not None and record.data == b'{"other": "record"}'
    with open_store(source) as old:  # left in place, usable, until resolved
        record = old.load(key("beta"))
        assert record is not None and record.data == written["beta"]


def test_a_worker_on_the_old_store_fails_loudly(tmp_path: Path, postgres_url: str) -> None:
    source = f"sqlite:///{tmp_path}/tokens.db"
    fill(source)
    migrate(source, postgres_url)
    manager = TokenManager(
        provider=PROVIDER,
        client=ClientCredentials(DEFAULT_CLIENT_ID, None),
        store=open_store(source),
        profile="alpha",
        owns_store=True,
    )
    with manager, pytest.raises(StoreMoved, match=r"moved to postgresql://postgres:\*+@"):
        manager.token()

    # `ctct auth token` (its fast path reads SQLite itself) exits 19 and names the store.
    done = ctct(tmp_path, "auth", "token", "--profile", "alpha", CTCT_STORE=source)
    assert done.returncode == 19, done.stderr
    assert done.stdout == ""
    assert "moved to postgresql://postgres:**********@" in done.stderr
    assert "hunter2" not in done.stderr and "Traceback" not in done.stderr
    # Listing the old store says, grant by grant, where each went.
    listed = ctct(tmp_path, "auth", "list", CTCT_STORE=source)
    assert listed.stderr.count("was moved to postgresql://postgres:**********@") == 3
    assert "hunter2" not in listed.stdout + listed.stderr


def test_a_record_moved_by_a_host_whose_clock_is_off_keeps_its_expiry(
    tmp_path: Path, postgres_url: str
) -> None:
    # A SQLite file on a host whose clock runs 90 s ahead of the machine's (and of its
    # PostgreSQL's): its records' times are on that clock, as that host wrote them.
    source = f"sqlite:///{tmp_path}/tokens.db"
    expires = time.time() + 90 + 86_400
    tokens = TokenSet.imported(
        issuer=PROVIDER.storage_issuer,
        client_id=DEFAULT_CLIENT_ID,
        now=expires - 86_400,
        access_token="at-ahead",
        refresh_token="rt-ahead",
        expires_at=expires,
    )
    with open_store(source) as sqlite:
        sqlite.save(key("alpha"), tokens.to_json(), expected_version=None)
    moved = ctct(
        tmp_path, "store", "migrate", "--store", source, "--to", postgres_url, **clock_env(90.0)
    )
    assert moved.returncode == 0, moved.stderr
    # Read on the server's clock: the same instant, 90 s earlier on this clock.
    # safety: src/ctct/stores/migrate.py: data = rebase(data, target.clock_offset() - source.clock_offset())  # noqa: E501
    with open_store(postgres_url) as target:
        record = target.load(key("alpha"))
        assert record is not None
        read = TokenSet.from_json(record.data, record.clock_offset)
    assert read.expires_at == pytest.approx(expires - 90, abs=0.5)
    assert read.access_token is not None and read.access_token.reveal() == "at-ahead"
