"""``open_store``: URLs, the default location and the default key provider."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctct.errors import ConfigError, StoreError
from ctct.stores import (
    GrantKey,
    MemoryStore,
    SqliteStore,
    generate_key,
    open_store,
    static_keys,
)
from ctct.stores.keys import ENV_KEY, ENV_KEYRING

GRANT = GrantKey("default", "https://issuer", "client")


@pytest.fixture
def hermetic(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Point the platform directories and key variables at the test's own folder."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv(ENV_KEYRING, "0")
    monkeypatch.delenv(ENV_KEY, raising=False)
    monkeypatch.delenv("CTCT_STORE_KEY_FILE", raising=False)
    return tmp_path


@pytest.mark.parametrize("url", [None, "", "sqlite://", "SQLite://"])
def test_default_is_sqlite_in_the_state_directory(hermetic: Path, url: str | None) -> None:
    with open_store(url) as store:
        assert isinstance(store, SqliteStore)
        assert store.path == hermetic / "state" / "ctct" / "tokens.db"
        info = store.describe()
    assert info.backend == "sqlite"
    assert info.location == str(hermetic / "state" / "ctct" / "tokens.db")
    assert info.encryption is None
    assert any("unencrypted" in w for w in info.warnings)


def test_sqlite_url_with_a_path(hermetic: Path) -> None:
    path = hermetic / "elsewhere" / "t.db"
    with open_store(f"sqlite://{path}") as store:
        assert isinstance(store, SqliteStore)
        assert store.path == path
        store.save(GRANT, b"x", expected_version=None)
    assert path.exists()


def test_default_provider_reads_the_environment(
    hermetic: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_KEY, generate_key())
    with open_store() as store:
        info = store.describe()
        store.save(GRANT, b"secret-data", expected_version=None)
    assert info.encryption == ENV_KEY
    assert info.warnings == ()
    assert b"secret-data" not in (hermetic / "state" / "ctct" / "tokens.db").read_bytes()


def test_memory_urls() -> None:
    private_one, private_two = open_store("memory://"), open_store("memory://")
    private_one.save(GRANT, b"x", expected_version=None)
    assert private_two.load(GRANT) is None
    named_one, named_two = open_store("memory://shared-test"), open_store("memory://shared-test")
    named_one.save(GRANT, b"y", expected_version=None)
    assert named_two.load(GRANT) is not None
    named_one.close()
    assert named_two.load(GRANT) is not None  # closing one handle leaves the other working
    assert isinstance(named_two, MemoryStore)
    info = named_two.describe()
    assert (info.backend, info.location, info.encryption, info.warnings) == (
        "memory",
        "memory://shared-test",
        None,
        (),
    )
    assert open_store("memory://", key_provider=static_keys(generate_key())).describe().encryption


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("mongodb://localhost", "unknown store URL scheme 'mongodb'"),
        ("postgresql://u@h/db?schema=Bad-Name", "not a plain name"),
        ("redis://localhost?durability=maybe", "durability"),
        ("tokens.db", "no scheme"),
        ("sqlite://relative/path.db", "must be absolute"),
        ("sqlite:///", "names no file"),
        ("sqlite:////", "names no file"),
        ("sqlite:///srv/ctct/", "ends with '/'"),
        ("sqlite:///srv/tokens.db?mode=ro", "has a query or fragment"),
        ("sqlite:///srv/tokens.db#x", "has a query or fragment"),
        ("sqlite:///srv/a\x00b.db", "NUL"),
        ("redis://:hunter2@[::1", "not a valid URL"),
        ("postgresql://u:hunter2@[bad/db", "not a valid URL"),
        ("redis://localhost:99999/0", "not a valid URL"),
        ("postgresql://u@localhost:port/db", "not a valid URL"),
    ],
)
def test_bad_urls_say_what_is_accepted(url: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        open_store(url, key_provider=static_keys())
    if "scheme" in match:
        assert "sqlite:///absolute/path.db" in str(info.value)
        assert "postgresql://" in str(info.value)
    if url.startswith("sqlite"):
        assert "sqlite:///absolute/path/tokens.db" in str(info.value)
    assert "hunter2" not in str(info.value)


def test_four_slashes_name_the_same_file_as_three(hermetic: Path) -> None:
    path = hermetic / "elsewhere" / "t.db"
    assert str(path).startswith("/")
    with open_store(f"sqlite:///{path}") as four:  # sqlite:////abs/... as SQLAlchemy writes
        assert isinstance(four, SqliteStore)
        assert four.path == path and not str(four.path).startswith("//")
        assert four.location() == str(path)
        four.save(GRANT, b"x", expected_version=None)
    with open_store(f"sqlite://{path}") as three:
        record = three.load(GRANT)
    assert record is not None and record.data == b"x"


def test_store_urls_never_show_a_password() -> None:
    with pytest.raises(ConfigError) as info:
        open_store("mongodb://user:hunter2@host/db", key_provider=static_keys())
    assert "hunter2" not in str(info.value)
    with pytest.raises(StoreError) as failed:
        open_store("postgresql://user:hunter2@127.0.0.1:1/db?connect_timeout=1&retry_for=1")
    assert "hunter2" not in str(failed.value)
    assert "***" in str(failed.value)


def test_postgresql_prepares_no_statements_unless_asked() -> None:
    # PgBouncer's transaction pooling cannot follow server-side prepared statements.
    from tests.servers import fresh_postgres_schema

    url, cleanup = fresh_postgres_schema()
    try:
        for suffix, expected in (("", None), ("&prepare_threshold=5", 5)):
            with open_store(url + suffix) as store:
                for _ in range(10):  # past psycopg's default threshold
                    store.load(GrantKey("p", "https://issuer.example", "c"))
                with store._pool.connection() as conn:  # type: ignore[attr-defined]
                    assert conn.prepare_threshold == expected
                    if expected is None:
                        row = conn.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()
                        assert row is not None and row[0] == 0
    finally:
        cleanup()
