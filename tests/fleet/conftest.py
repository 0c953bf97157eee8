"""Fixtures for tests across test hosts: one fleet of 3 hosts per test run, with a
PostgreSQL cluster and a Redis server of the run's own listening on its bridge."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fleet.hosts import Fleet, unavailable
from tests.servers import PostgresCluster, RedisServer, fresh_postgres_schema, fresh_redis_prefix

HOSTS = 3


@pytest.fixture(scope="session")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    reason = unavailable()
    if reason is not None:
        pytest.skip(f"no test hosts on this machine: {reason}")
    with Fleet(tmp_path_factory.mktemp("fleet"), HOSTS) as made:
        yield made


@pytest.fixture(scope="session")
def fleet_postgres(fleet: Fleet) -> Iterator[str]:
    """The URL (on the machine's side) of a PostgreSQL cluster every host reaches."""
    # Outside pytest's 0700 temporary tree: initdb runs as the postgres user.
    root = Path(tempfile.mkdtemp(prefix="ctct-fleet-pg-"))
    root.chmod(0o755)
    try:
        cluster = PostgresCluster(root / "pg", host=fleet.address)
        cluster.init()
        cluster.start()
        fleet.expose(cluster.port)
        try:
            yield cluster.url
        finally:
            fleet.unexpose(cluster.port)
            cluster.stop("immediate")
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def fleet_redis(fleet: Fleet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("fleet-redis"), host=fleet.address)
    server.start()
    fleet.expose(server.port)
    try:
        yield server
    finally:
        fleet.unexpose(server.port)
        server.stop()


@pytest.fixture(params=["postgresql", "redis"])
def fleet_store(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh schema / key prefix on the fleet's own server (the machine's side URL)."""
    cleanup: Callable[[], None]
    if request.param == "postgresql":
        url, cleanup = fresh_postgres_schema(request.getfixturevalue("fleet_postgres"))
    else:
        url, cleanup = fresh_redis_prefix(request.getfixturevalue("fleet_redis"))
    try:
        yield url
    finally:
        cleanup()
