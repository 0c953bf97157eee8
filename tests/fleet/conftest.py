"""Fixtures for tests across test hosts: one fleet of 3 hosts per test run, with a
PostgreSQL cluster and a Redis server of the run's own listening on its bridge."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fleet.hosts import Fleet, unavailable
from tests.servers import PostgresCluster, RedisServer

HOSTS = 3


@pytest.fixture(scope="session")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    reason = unavailable()
    if reason is not None:
        pytest.skip(f"no test hosts on this machine: {reason}")
    with Fleet(tmp_path_factory.mktemp("fleet"), HOSTS) as made:
        yield made


@pytest.fixture(scope="session")
def fleet_postgres(fleet: Fleet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL (on the machine's side) of a PostgreSQL cluster every host reaches."""
    cluster = PostgresCluster(tmp_path_factory.mktemp("fleet-pg"), host=fleet.address)
    cluster.init()
    cluster.start()
    fleet.expose(cluster.port)
    try:
        yield cluster.url
    finally:
        fleet.unexpose(cluster.port)
        cluster.stop("immediate")


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
