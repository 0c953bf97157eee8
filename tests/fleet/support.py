"""What the tests across hosts share: an emulator every host reaches, a login made on
one host, the store every host shares (a fresh schema or key prefix per test)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ctct.emulator import Emulator, EmulatorConfig
from ctct.emulator.server import EmulatorServer
from ctct.stores import generate_key
from tests.fleet.hosts import Fleet, Host
from tests.refresh.worker import app_args, command


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


def login(
    host: Host, base_url: str, store: str, env: dict[str, str], profile: str = "default"
) -> float:
    """A device-flow login made on ``host`` and stored; the access token's expiry."""
    done = host.run([*command("login", base_url, store, "--profile", profile)], env=env)
    assert done.returncode == 0, done.stderr
    return float(json.loads(done.stdout)["expires_at"])


def api_command(base_url: str, store: str, *extra: str, threads: int = 1) -> list[str]:
    """``tests.api.worker``: ``threads`` threads calling ``GET /account/summary``."""
    flags = ["--threads", str(threads), *extra]
    return [sys.executable, "-m", "tests.api.worker", *app_args(base_url, store), *flags]


def start_together(workers: list[subprocess.Popen[str]], seconds: float) -> float:
    """Once every worker is ready, start them all; returns the start time."""
    for worker in workers:
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == "ready", "an API worker did not start"
    start_at = time.time() + 0.5
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write(f"{start_at!r} {start_at + seconds!r}\n")
        worker.stdin.flush()
    return start_at


def api_statuses(emu: Emulator) -> dict[str, int]:
    counts: dict[str, dict[str, int]] = emu.counters.snapshot()["api_requests"]
    total: dict[str, int] = {}
    for by_status in counts.values():
        for status, n in by_status.items():
            total[status] = total.get(status, 0) + n
    return total
