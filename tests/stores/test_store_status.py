"""``ctct doctor`` and ``ctct auth status`` show the store's backend, server version,
persistence and round-trip latency, in text and ``--json``, on SQLite, PostgreSQL and
Redis, and never the password of the store's URL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ctct.emulator.config import DEFAULT_CLIENT_ID
from ctct.stores import no_keys, open_store
from tests.servers import RedisServer, fresh_store

EXPECTED = {
    "sqlite": ("SQLite 3.", "WAL journal"),
    "postgresql": ("PostgreSQL ", "fsync="),
    "redis": ("Redis ", "appendonly yes, appendfsync always"),
}


@pytest.fixture(params=sorted(EXPECTED))
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    url, cleanup = fresh_store(
        request.param, tmp_path, lambda: request.getfixturevalue("redis_server")
    )
    if request.param == "sqlite":
        open_store(url, key_provider=no_keys).close()  # doctor reports a missing file as such
    # The local server trusts loopback and ignores it: the password only must not show.
    url = url.replace("postgresql://postgres@", "postgresql://postgres:hunter2-pw@")
    try:
        yield url
    finally:
        cleanup()


def ctct(tmp_path: Path, store_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CTCT_STORE": store_url,
        "CTCT_CLIENT_ID": DEFAULT_CLIENT_ID,
        "CTCT_BASE_URL": "http://127.0.0.1:9",  # nothing there: connectivity checks fail
        "CTCT_STORE_KEYRING": "0",
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }
    script = Path(sys.executable).with_name("ctct")
    done = subprocess.run([str(script), *args], env=env, capture_output=True, text=True, timeout=60)
    assert "hunter2" not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    return done


def check(store: dict[str, object], backend: str) -> None:
    server, persistence = EXPECTED[backend]
    assert store["backend"] == backend
    assert str(store["server"]).startswith(server)
    assert persistence in str(store["persistence"])
    latency = store["latency_ms"]
    assert isinstance(latency, float) and 0 < latency < 5_000


def test_doctor_shows_the_store_server(tmp_path: Path, store_url: str) -> None:
    backend = store_url.split(":", 1)[0]
    data = json.loads(ctct(tmp_path, store_url, "doctor", "--json").stdout)
    check(data["store"], backend)
    text = ctct(tmp_path, store_url, "doctor").stdout
    line = next(line for line in text.splitlines() if "store server:" in line)
    assert EXPECTED[backend][0] in line and "round trip" in line and " ms" in line
    if backend == "postgresql":
        assert "**********" in data["store"]["location"]


def test_auth_status_shows_the_store_server(tmp_path: Path, store_url: str) -> None:
    backend = store_url.split(":", 1)[0]
    done = ctct(tmp_path, store_url, "auth", "status", "--json")
    assert done.returncode == 4  # not logged in: the store is shown all the same
    check(json.loads(done.stdout)["store"], backend)


def test_doctor_fails_on_a_redis_that_would_lose_grants(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis", durable=False)
    server.start()
    try:
        url = server.url + "?prefix=ctct_doctor"
        done = ctct(tmp_path, url, "doctor", "--json")
        assert done.returncode == 1
        data = json.loads(done.stdout)
        assert "appendonly no" in data["store"]["persistence"]
        assert "?durability=unsafe" in data["store"]["problem"]
        check = next(c for c in data["checks"] if c["check"] == "store server")
        assert check["level"] == "fail" and "appendfsync always" in check["detail"]
        status = ctct(tmp_path, url, "auth", "status", "--json")
        assert any("grants are refused" in w for w in json.loads(status.stdout)["warnings"])
        # Opting out of durability is a choice the doctor respects (a warning, not a failure).
        relaxed = json.loads(ctct(tmp_path, url + "&durability=unsafe", "doctor", "--json").stdout)
        check = next(c for c in relaxed["checks"] if c["check"] == "store server")
        assert check["level"] == "ok" and "problem" not in relaxed["store"]
    finally:
        server.stop()
