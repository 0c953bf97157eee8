"""Fixtures' helpers for the area tests of issue 13's operations: an in-process emulator
(the fast path for breadth; the ``start_emulator`` fixture runs a test over loopback
too) driven through ``Tour.call``, which checks statuses and bodies against CC's
contract."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx2

from ctct.emulator import Emulator, EmulatorConfig, create_app
from ctct.emulator.inprocess import SyncASGITransport
from tests.conftest import Running
from tests.emulator.api_support import FAST, seed
from tests.emulator.tours import Tour


@contextmanager
def inprocess_running(**changes: Any) -> Iterator[Running]:
    """An emulator in this process (ASGI), with CC's per-second limit lifted."""
    emu = Emulator(EmulatorConfig().with_changes(**{**FAST, **changes}))
    client = httpx2.Client(
        transport=SyncASGITransport(create_app(emulator=emu)), base_url="http://127.0.0.1"
    )
    try:
        yield Running(emu, "http://127.0.0.1", client, "inprocess")
    finally:
        client.close()
        emu.close()


@contextmanager
def inprocess_tour(**changes: Any) -> Iterator[Tour]:
    with inprocess_running(**changes) as running:
        yield Tour(running)


def seed_alice(t: Tour, **body: Any) -> dict[str, Any]:
    return seed(t.running, username="alice@example.com", **body)


def run_activities(t: Tour) -> None:
    response = t.running.client.post("/__emulator/activities/run", json={})
    assert response.status_code == 200, response.text


def emails(contacts: list[dict[str, Any]]) -> list[str]:
    return sorted(c["email_address"]["address"] for c in contacts)
