"""Fixtures for the store tests: ``backend`` runs each contract test once per backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ctct.stores import SealedStore, generate_key
from tests.servers import fresh_postgres_schema, fresh_redis_prefix
from tests.stores.helpers import (
    Backend,
    memory_backend,
    postgres_backend,
    redis_backend,
    sqlite_backend,
)


@pytest.fixture(params=["sqlite", "memory", "postgresql", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    cleanup = None
    if request.param == "sqlite":
        made = sqlite_backend(tmp_path)
    elif request.param == "memory":
        made = memory_backend()
    elif request.param == "postgresql":
        url, cleanup = fresh_postgres_schema()
        made = postgres_backend(url)
    else:
        url, cleanup = fresh_redis_prefix(request.getfixturevalue("redis_server"))
        made = redis_backend(url)
    yield made
    for store in made.opened:
        store.close()
    if cleanup is not None:
        cleanup()


@pytest.fixture
def store(backend: Backend) -> SealedStore:
    """An unencrypted handle on the backend under test."""
    return backend.make()


@pytest.fixture
def key_a() -> str:
    return generate_key()


@pytest.fixture
def key_b() -> str:
    return generate_key()
