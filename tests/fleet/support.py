"""What the tests across hosts share: an emulator every host reaches, a login made on
one host, the store every host shares (a fresh schema or key prefix per test)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ctct.emulator import EmulatorConfig
from ctct.emulator.server import EmulatorServer
from ctct.stores import generate_key
from tests.fleet.hosts import Fleet, Host
from tests.refresh.storm import worker_command


@dataclass
class FleetEmulator:
    server: EmulatorServer
    base_url: str
    """As the hosts name it: through their loopback relay."""


@contextmanager
def emulator_on(fleet: Fleet, config: EmulatorConfig) -> Iterator[FleetEmulator]:
    """An emulator (in this process) listening on the fleet's address, reachable from
    every host at ``127.0.0.1`` and the same port, and from this process (its control
    API, a browser) at the fleet's address."""
    config = config.with_changes(allowed_hosts=(*config.allowed_hosts, fleet.address))
    with EmulatorServer(config, host=fleet.address) as server:
        fleet.expose(server.port)
        try:
            yield FleetEmulator(server, fleet.local_url(server.base_url))
        finally:
            fleet.unexpose(server.port)


def shared_env() -> dict[str, str]:
    """The one secret the hosts share besides the store's address: its key."""
    return {"CTCT_STORE_KEY": generate_key()}


def login(host: Host, base_url: str, store: str, env: dict[str, str]) -> float:
    """A device-flow login made on ``host`` and stored; the access token's expiry."""
    done = host.run(worker_command("login", base_url, store), env=env)
    assert done.returncode == 0, done.stderr
    return float(json.loads(done.stdout)["expires_at"])
