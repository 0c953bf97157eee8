"""Test-owned PostgreSQL and Redis: unique schemas / key prefixes on a shared server, and
servers of our own (``redis-server``, ``initdb`` + ``pg_ctl``) on free ports for the
tests that restart or break them. Never the machine's own services' data or lifecycle.

``CTCT_TEST_POSTGRES`` names the PostgreSQL server whose database the contract tests use
(default: the local one, ``postgresql://postgres@127.0.0.1:5432/test``); each test gets
its own schema and drops it afterwards.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_base() -> str:
    return os.environ.get("CTCT_TEST_POSTGRES", DEFAULT_POSTGRES)


def with_params(url: str, **params: str) -> str:
    joiner = "&" if "?" in url else "?"
    return url + joiner + "&".join(f"{k}={v}" for k, v in params.items())


def fresh_postgres_schema(base: str | None = None, **params: str) -> tuple[str, Callable[[], None]]:
    """A new, initialized schema on ``base``; returns its URL and a cleanup."""
    from ctct.stores.postgres import drop_schema, initialize_schema

    url = with_params(base or postgres_base(), schema=f"ctct_t_{secrets.token_hex(6)}", **params)
    initialize_schema(url)
    return url, lambda: drop_schema(url)


class RedisServer:
    """A ``redis-server`` of our own (durable: AOF with fsync on every write)."""

    def __init__(self, root: Path, *, durable: bool = True, host: str = "127.0.0.1") -> None:
        """``host``: the address to listen on (a test fleet's bridge, ``tests.fleet``)."""
        self.root = root
        self.host = host
        self.port = free_port()
        self.durable = durable
        self.process: subprocess.Popen[bytes] | None = None
        root.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def start(self) -> None:
        args = [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(self.port),
            "--bind",
            self.host,
            "--dir",
            str(self.root),
            "--save",
            "",
            "--daemonize",
            "no",
            # Off the loopback (a test fleet's bridge) Redis would answer DENIED to
            # clients without a password; only the test hosts reach that address.
            "--protected-mode",
            "yes" if self.host == "127.0.0.1" else "no",
        ]
        if self.durable:
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def kill_and_restart(self) -> None:
        """SIGKILL (no shutdown save: only what the AOF fsynced survives), then start."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None
        self.start()


def fresh_redis_prefix(server: RedisServer, **params: str) -> tuple[str, Callable[[], None]]:
    """A unique key prefix on ``server``; the cleanup deletes every key under it."""
    prefix = f"ctct_t_{secrets.token_hex(6)}"
    url = with_params(server.url, prefix=prefix, **params)

    def cleanup() -> None:
        import redis

        client = redis.Redis(host=server.host, port=server.port)
        try:
            keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
            if keys:
                client.delete(*keys)
        finally:
            client.close()

    return url, cleanup


def fresh_store(
    kind: str, tmp_path: Path, redis: Callable[[], RedisServer]
) -> tuple[str, Callable[[], None]]:
    """A new, empty store of ``kind`` (sqlite, postgresql, redis) and its cleanup;
    ``redis`` gives the server to use (e.g. the ``redis_server`` fixture's)."""
    if kind == "sqlite":
        return f"sqlite:///{tmp_path}/tokens.db", lambda: None
    if kind == "postgresql":
        return fresh_postgres_schema()
    return fresh_redis_prefix(redis())


class PostgresCluster:
    """A PostgreSQL cluster of our own (``initdb`` + ``pg_ctl`` as the postgres user)."""

    def __init__(self, root: Path, *, host: str = "127.0.0.1") -> None:
        self.root = root
        self.host = host
        self.data = root / "data"
        self.port = free_port()
        root.mkdir(parents=True, exist_ok=True)
        shutil.chown(root, "postgres", "postgres")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/postgres"

    def _as_postgres(self, *args: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def init(self) -> None:
        self._as_postgres(
            shutil.which("initdb") or "initdb",
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        )
        if self.host != "127.0.0.1":
            # initdb trusts loopback clients only; it listens on ``host`` alone, so this
            # admits the test hosts on that subnet (a test fleet's bridge).
            with (self.data / "pg_hba.conf").open("a") as hba:
                hba.write("host all all samenet trust\n")

    def start(self) -> None:
        self._as_postgres(
            shutil.which("pg_ctl") or "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.root / "log"),
            "-w",
            "-o",
            f"-p {self.port} -k {self.root} -c listen_addresses={self.host} -c fsync=off",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._as_postgres(
            shutil.which("pg_ctl") or "pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop"
        )

    def restart(self) -> None:
        self.stop("immediate")
        self.start()


SHARED_BACKENDS = ("sqlite", "postgresql", "redis")
"""The backends processes share a store on (parametrize a fixture with them)."""


@contextlib.contextmanager
def shared_store_url(
    backend: str, tmp_path: Path, redis: Callable[[], RedisServer]
) -> Iterator[str]:
    """A fresh store URL on ``backend`` (one of ``SHARED_BACKENDS``), cleaned up after;
    ``redis`` gives the test run's Redis server (asked only for "redis")."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path}/tokens.db"
        return
    if backend == "postgresql":
        url, cleanup = fresh_postgres_schema()
    else:
        url, cleanup = fresh_redis_prefix(redis())
    try:
        yield url
    finally:
        cleanup()
