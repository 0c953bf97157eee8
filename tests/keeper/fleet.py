"""Helpers for keeper tests: an emulator with minted grants stored as profiles, keeper
replicas with their own store handles, and the checks every fleet test makes."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ctct._provider import Provider
from ctct._refresh import decode
from ctct._tokens import TokenSet
from ctct.emulator.config import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from ctct.keeper.config import ConfigWatcher
from ctct.keeper.service import Keeper
from ctct.stores import GrantKey, Store, open_store
from ctct.testing import EmulatorHandle


def write_config(
    path: Path,
    base_url: str,
    *,
    extra: str = "",
    tick: float = 0.2,
    token_rate: float = 1.0,
    **top: Any,
) -> Path:
    secret = path.parent / "client-secret"
    secret.write_text(DEFAULT_CLIENT_SECRET)
    secret.chmod(0o600)
    lines = [f"tick = {tick}", "replan_interval = 1", "http_timeout = 2", "max_rate_wait = 1"]
    lines += [
        f"{k} = {v!r}" if not isinstance(v, bool) else f"{k} = {str(v).lower()}"
        for k, v in top.items()
    ]
    lines += [
        "",
        "[[apps]]",
        f'client_id = "{DEFAULT_CLIENT_ID}"',
        f'client_secret_file = "{secret}"',
        f'base_url = "{base_url}"',
        f"token_rate = {token_rate}",
    ]
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


def store_minted(
    emu: EmulatorHandle, store: Store, count: int, *, prefix: str = "acct"
) -> list[GrantKey]:
    """Mint ``count`` grants at the emulator and store each as a login would."""
    provider = Provider.constant_contact(emu.base_url)
    keys = []
    now = time.time()
    for i, body in enumerate(emu.mint_grants(count)):
        tokens = TokenSet.from_token_response(
            body, issuer=provider.storage_issuer, client_id=DEFAULT_CLIENT_ID, received_at=now
        )
        key = GrantKey(f"{prefix}-{i:04d}", provider.storage_issuer, DEFAULT_CLIENT_ID)
        store.save(key, tokens.to_json(), expected_version=None)
        keys.append(key)
    return keys


@dataclass
class Watch:
    """Samples every grant's stored access token while the keepers run."""

    store: Store
    keys: list[GrantKey]
    clock: Callable[[], float] = time.time
    expired: list[tuple[str, float]] = field(default_factory=list)
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    store_errors: int = 0

    def run(self) -> None:
        # One paged read of every record per pass (not one read per grant): the watch
        # must not starve the emulator it shares this process with.
        wanted = set(self.keys)
        while not self._stop.is_set():
            try:
                records = dict(self.store.records())
            except Exception:  # the store restarting: that is not an expiry
                self.store_errors += 1
                self._stop.wait(0.5)
                continue
            now = self.clock()
            for key in wanted:
                record = records.get(key)
                assert record is not None, f"{key.profile} lost its grant"
                tokens = decode(record).tokens
                if tokens.access_token is None or (
                    tokens.expires_at is not None and tokens.expires_at <= now
                ):
                    self.expired.append((key.profile, now - (tokens.expires_at or now)))
                self.samples += 1
            self._stop.wait(0.5)

    @contextmanager
    def running(self) -> Iterator[Watch]:
        thread = threading.Thread(target=self.run, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join(30)


def double_refreshes(emu: EmulatorHandle) -> int:
    """Refresh tokens the emulator saw presented more than once."""
    presented = Counter(e["presented_sha256"] for e in emu.events("refresh"))
    return sum(n - 1 for n in presented.values() if n > 1)


def token_outcomes(emu: EmulatorHandle) -> dict[str, int]:
    outcomes: dict[str, int] = emu.counters()["token_requests"].get("refresh_token", {})
    return outcomes


@contextmanager
def replicas(config: Path, store_url: str, count: int) -> Iterator[list[Keeper]]:
    keepers = [
        Keeper(ConfigWatcher(config), open_store(store_url), worker=f"replica-{i}")
        for i in range(count)
    ]
    for keeper in keepers:
        keeper.start()
    try:
        yield keepers
    finally:
        for keeper in keepers:
            keeper.stop()
        for keeper in keepers:
            keeper.store.close()


def ctct_binary() -> str:
    import sys

    return str(Path(sys.executable).with_name("ctct"))


@dataclass
class Replica:
    """One ``ctct keeper run`` process, with its ops listener."""

    name: str
    process: Any
    log: Path
    ops_url: str

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        import httpx2
        from prometheus_client.parser import text_string_to_metric_families

        found = {}
        for family in text_string_to_metric_families(httpx2.get(f"{self.ops_url}/metrics").text):
            for sample in family.samples:
                found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return found

    def refreshed(self) -> float:
        """Refreshes this replica made that the token endpoint answered (its counter)."""
        return sum(
            value
            for (name, labels), value in self.metrics().items()
            if name == "ctct_refresh_attempts_total" and ("result", "ok") in labels
        )

    def wait_ready(self, timeout: float = 30) -> None:
        import httpx2

        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx2.get(f"{self.ops_url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx2.HTTPError:
                pass
            assert self.process.poll() is None, self.log.read_text()[-2000:]
            assert time.monotonic() < deadline, f"{self.name} never became ready"
            time.sleep(0.1)

    def kill(self) -> None:
        import signal

        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> int:
        import signal

        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except Exception:
                self.process.kill()
                self.process.wait(10)
        return int(self.process.returncode)


@contextmanager
def replica_processes(
    config: Path, count: int, root: Path, *, env: dict[str, str] | None = None
) -> Iterator[list[Replica]]:
    """``count`` keeper processes on ``config`` (each its own log file)."""
    import os
    import subprocess

    base = {**os.environ, "CTCT_KEYRING": "0", "CTCT_STORE_KEYRING": "0", **(env or {})}
    started: list[Replica] = []
    from tests.servers import free_port

    try:
        for i in range(count):
            log = root / f"replica-{i}.log"
            port = free_port()
            process = subprocess.Popen(
                [
                    ctct_binary(),
                    "keeper",
                    "run",
                    "--config",
                    str(config),
                    "--worker-name",
                    f"replica-{i}",
                    "--ops-listen",
                    f"127.0.0.1:{port}",
                ],
                env=base,
                stdout=subprocess.DEVNULL,
                stderr=log.open("w"),
            )
            started.append(Replica(f"replica-{i}", process, log, f"http://127.0.0.1:{port}"))
        for replica in started:
            replica.wait_ready()
        yield started
    finally:
        for replica in started:
            replica.stop()


def states_of(store: Store, keys: list[GrantKey]) -> dict[str, tuple[str, str]]:
    states = store.states()
    return {
        k.profile: (states[k].code, states[k].reason) if k in states else ("ok", "") for k in keys
    }


@contextmanager
def emulator_process(root: Path, *flags: str) -> Iterator[EmulatorHandle]:
    """``ctct emulator`` in a process of its own (its own interpreter lock: a fleet's
    refreshes must not queue behind the test's own threads), driven over HTTP."""
    import json
    import subprocess

    ready = root / f"emulator-{len(list(root.glob('emulator-*')))}.json"
    process = subprocess.Popen(
        [
            ctct_binary(),
            "emulator",
            "--auto-approve",
            "--port",
            "0",
            "--ready-file",
            str(ready),
            *flags,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert process.poll() is None and time.monotonic() < deadline, "emulator did not start"
            time.sleep(0.05)
        handle = EmulatorHandle(str(json.loads(ready.read_text())["base_url"]))
        try:
            yield handle
        finally:
            handle.close()
    finally:
        process.terminate()
        process.wait(15)
