"""Fixtures for the store tests: ``backend`` runs each contract test once per backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ctct.stores import SealedStore, generate_key
from tests.stores.helpers import Backend, memory_backend, sqlite_backend


@pytest.fixture(params=["sqlite", "memory"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    made = sqlite_backend(tmp_path) if request.param == "sqlite" else memory_backend()
    yield made
    for store in made.opened:
        store.close()


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
