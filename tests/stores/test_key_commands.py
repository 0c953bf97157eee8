"""``ctct store new-key`` and ``ctct store rekey``, the CLI run as a subprocess, and the
key rotation docs/cli.md describes for several hosts, on SQLite, PostgreSQL and Redis."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ctct.stores import GrantKey, RecordUnreadable, open_store, static_keys
from ctct.stores.crypto import parse_keys
from tests.cli.conftest import CTCT, TRACEBACK, isolated_env
from tests.servers import SHARED_BACKENDS, shared_store_url

GRANTS = [GrantKey(p, "https://issuer.example", "client") for p in ("bakery", "florist")]

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def ctct(tmp_path: Path) -> Run:
    env = isolated_env(tmp_path)

    def run(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CTCT, *args],
            capture_output=True,
            text=True,
            timeout=60,
            env={**env, **extra},
            check=False,
        )

    return run


def test_new_key_goes_to_a_private_file_and_is_printed_only_when_asked(
    ctct: Run, tmp_path: Path
) -> None:
    path = tmp_path / "keys" / "new.key"
    made = ctct("store", "new-key", "--out", str(path))
    assert made.returncode == 0, made.stderr
    text = path.read_text().strip()
    assert parse_keys(text, source="test")  # one valid 32-byte key
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert text not in made.stdout + made.stderr  # written, never shown
    again = ctct("store", "new-key", "--out", str(path))
    assert again.returncode == 3 and "already exists" in again.stderr  # never overwritten
    assert path.read_text().strip() == text
    default = ctct("store", "new-key")  # the file ctct reads by itself
    assert default.returncode == 0, default.stderr
    written = tmp_path / "xdg-config" / "ctct" / "store.key"
    assert stat.S_IMODE(os.stat(written).st_mode) == 0o600
    printed = ctct("store", "new-key", "--stdout")
    assert printed.returncode == 0
    assert parse_keys(printed.stdout.strip(), source="test")
    assert printed.stdout.strip() not in (text, written.read_text().strip())
    both = ctct("store", "new-key", "--stdout", "--out", str(tmp_path / "x.key"))
    assert both.returncode == 2 and not (tmp_path / "x.key").exists()


@pytest.fixture(params=SHARED_BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    redis = lambda: request.getfixturevalue("redis_server")  # noqa: E731
    with shared_store_url(request.param, tmp_path, redis) as url:
        yield url


def test_rotation_over_several_hosts_then_rekey(ctct: Run, tmp_path: Path, store_url: str) -> None:
    old, new = (
        ctct("store", "new-key", "--stdout").stdout.strip(),
        ctct("store", "new-key", "--stdout").stdout.strip(),
    )
    with open_store(store_url, key_provider=static_keys(old)) as host_a:
        for n, key in enumerate(GRANTS):
            host_a.save(key, f"grant-{n}".encode(), expected_version=None)
    # 1. the new key second everywhere: every host still writes with the old one
    with open_store(store_url, key_provider=static_keys(f"{old},{new}")) as host_b:
        assert host_b.load(GRANTS[0]) is not None
    # 2. the new key first everywhere; 3. rekey once, from any host
    rekeyed = ctct("store", "rekey", "--store", store_url, CTCT_STORE_KEY=f"{new},{old}")
    assert rekeyed.returncode == 0, rekeyed.stderr
    assert "Re-encrypted 2 of 2 records" in rekeyed.stdout
    assert "CTCT_STORE_KEY" in rekeyed.stdout
    assert old not in rekeyed.stdout + rekeyed.stderr and new not in rekeyed.stdout
    again = ctct("store", "rekey", "--store", store_url, CTCT_STORE_KEY=f"{new},{old}")
    assert "Re-encrypted 0 of 2 records" in again.stdout
    # 4. drop the old key: everything reads with the new one alone
    with open_store(store_url, key_provider=static_keys(new)) as host_c:
        assert [host_c.load(k).data for k in GRANTS] == [b"grant-0", b"grant-1"]  # type: ignore[union-attr]
    with (
        open_store(store_url, key_provider=static_keys(old)) as stale,
        pytest.raises(RecordUnreadable),
    ):
        stale.load(GRANTS[0])


def test_rekey_without_a_key_or_with_one_missing_says_what_to_do(ctct: Run, tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path}/missing.db"
    old, new = (ctct("store", "new-key", "--stdout").stdout.strip() for _ in range(2))
    with open_store(url, key_provider=static_keys(old)) as host:
        host.save(GRANTS[0], b"grant", expected_version=None)
    plain = ctct("store", "rekey", "--store", url)
    assert plain.returncode == 3 and "CTCT_STORE_KEY=new,old" in plain.stderr
    # Records written before there was a key: refused with a key, until rekey adopts them.
    unkeyed = f"sqlite://{tmp_path}/unkeyed.db"
    with open_store(unkeyed, key_provider=static_keys()) as before:
        before.save(GRANTS[0], b"grant", expected_version=None)
    with (
        open_store(unkeyed, key_provider=static_keys(new)) as keyed,
        pytest.raises(RecordUnreadable, match="ctct store rekey"),
    ):
        keyed.load(GRANTS[0])
    adopted = ctct("store", "rekey", "--store", unkeyed, CTCT_STORE_KEY=new)
    assert adopted.returncode == 0 and "Re-encrypted 1 of 1 records" in adopted.stdout
    with open_store(unkeyed, key_provider=static_keys(new)) as keyed:
        assert keyed.load(GRANTS[0]).data == b"grant"  # type: ignore[union-attr]
    missing = ctct("store", "rekey", "--store", url, CTCT_STORE_KEY=new)
    assert missing.returncode == 13, missing.stderr
    assert "add the missing key after the first one" in missing.stderr
    assert TRACEBACK not in plain.stderr + missing.stderr
