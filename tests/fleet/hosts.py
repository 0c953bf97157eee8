"""Test hosts that share nothing but the servers the test owns: network namespaces.

``Fleet(root, count)`` makes ``count`` hosts. Each is a network namespace (``ip netns
add``) joined by a veth pair to a bridge of the fleet's own on the machine's side, which
holds the one address (``fleet.address``, ``10.x.y.1``) the test's servers listen on.
Each host has its own HOME, config and state directories, and on its own ``127.0.0.1`` a
relay per exposed port (socat when installed, else ``tests.fleet.relay``) forwarding to
the same port on ``fleet.address``. So a URL naming ``127.0.0.1:PORT`` means the same
server on every host, as a service name would on a real fleet, while the hosts share no
loopback, no files and no locks::

    with Fleet(tmp_path, 3) as fleet:
        server = RedisServer(tmp_path / "redis", host=fleet.address); server.start()
        fleet.expose(server.port)
        proc = fleet.hosts[0].popen([sys.executable, "-m", "tests.fleet.probe", ...])
        with fleet.hosts[1].link_cut():   # the host's cable pulled: packets vanish
            ...

Teardown (``close``, also on a failed setup) stops every process started in a host,
every relay, and deletes the namespaces and the bridge; namespaces of a dead test run
(their names carry its pid) are swept at the next start. ``unavailable()`` says why the
machine cannot make hosts (no ``ip``, no CAP_NET_ADMIN / CAP_SYS_ADMIN), for a skip.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from tests.timeshim import clock_env

REPO: Final = Path(__file__).resolve().parents[2]
CAP_NET_ADMIN: Final = 12
CAP_SYS_ADMIN: Final = 21  # ``ip netns add`` mounts /run/netns/NAME
# Interface names are at most 15 characters: "cf<pid>x<n>" plus a role suffix.
_NAME: Final = re.compile(r"^cf(\d+)x\d+")
_made = itertools.count()


def unavailable() -> str | None:
    """Why this machine cannot make test hosts, or None if it can."""
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is not installed"
    status = Path("/proc/self/status").read_text()
    effective = int(re.search(r"^CapEff:\s*([0-9a-f]+)", status, re.M).group(1), 16)  # type: ignore[union-attr]
    missing = [
        name
        for name, bit in (("CAP_NET_ADMIN", CAP_NET_ADMIN), ("CAP_SYS_ADMIN", CAP_SYS_ADMIN))
        if not effective >> bit & 1
    ]
    if missing:
        return f"network namespaces need {' and '.join(missing)} (run the tests as root)"
    return None


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale() -> None:
    """Delete namespaces and links left by test runs whose process is gone."""
    for line in _ip("netns", "list", check=False).stdout.splitlines():
        name = line.split()[0] if line.strip() else ""
        found = _NAME.match(name)
        if found and not _alive(int(found.group(1))):
            _kill_netns_pids(name)
            _ip("netns", "del", name, check=False)
    for line in _ip("-o", "link", "show", check=False).stdout.splitlines():
        name = line.split(":")[1].strip().split("@")[0] if ":" in line else ""
        found = _NAME.match(name)
        if found and not _alive(int(found.group(1))):
            _ip("link", "del", name, check=False)


def _kill_netns_pids(netns: str) -> None:
    # Every process still inside one of our namespaces was started by this harness.
    for pid in _ip("netns", "pids", netns, check=False).stdout.split():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)


def _free_subnet() -> str:
    used = _ip("-4", "-o", "addr", "show", check=False).stdout
    used += _ip("-4", "route", "show", check=False).stdout
    for _ in range(100):
        prefix = f"10.{random.randint(200, 254)}.{random.randint(0, 255)}"
        if f"{prefix}." not in used:
            return prefix
    raise RuntimeError("no free 10.x.y.0/24 subnet for the test hosts")


def _stop(process: subprocess.Popen[Any], *, group: bool = False) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        if group:
            os.killpg(process.pid, signal.SIGCONT)
            os.killpg(process.pid, signal.SIGTERM)
        else:
            process.send_signal(signal.SIGCONT)  # a SIGSTOPped process cannot exit
            process.terminate()
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL) if group else process.kill()
        process.wait(5)


@dataclass
class Host:
    """One test host: a network namespace with its own HOME and state directory."""

    name: str
    netns: str
    link: str  # the machine's end of the veth pair: down cuts the host off
    address: str
    root: Path
    processes: list[subprocess.Popen[Any]] = field(default_factory=list)

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def state(self) -> Path:
        return self.root / "state"

    def env(
        self, extra: Mapping[str, str] | None = None, *, clock_offset: float = 0.0
    ) -> dict[str, str]:
        """The environment of a process on this host: the machine's minus any ``CTCT_``
        setting, with this host's directories (and its wall clock ``clock_offset``
        seconds off the machine's, through ``tests.timeshim``)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("CTCT_")}
        env.update(
            HOME=str(self.home),
            XDG_CONFIG_HOME=str(self.home / ".config"),
            XDG_DATA_HOME=str(self.home / ".local/share"),
            XDG_CACHE_HOME=str(self.home / ".cache"),
            XDG_STATE_HOME=str(self.state),
            XDG_RUNTIME_DIR=str(self.root / "run"),
            CTCT_KEYRING="0",
            CTCT_STORE_KEYRING="0",
            PYTHONPATH=os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])]),
        )
        env.update(extra or {})
        return clock_env(clock_offset, env=env) if clock_offset else env

    def popen(
        self,
        args: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        clock_offset: float = 0.0,
        **kwargs: Any,
    ) -> subprocess.Popen[Any]:
        """Start ``args`` inside this host (``ip netns exec`` execs it: the pid is the
        program's, so signals reach it). Stopped at teardown if still running."""
        kwargs.setdefault("cwd", REPO)
        process = subprocess.Popen(
            ["ip", "netns", "exec", self.netns, *args],
            env=self.env(env, clock_offset=clock_offset),
            **kwargs,
        )
        self.processes.append(process)
        return process

    def run(
        self, args: Sequence[str], *, timeout: float = 60, **kwargs: Any
    ) -> subprocess.CompletedProcess[str]:
        """Run ``args`` inside this host to completion; its output as text."""
        kwargs.setdefault("stdout", subprocess.PIPE)
        kwargs.setdefault("stderr", subprocess.PIPE)
        process = self.popen(args, text=True, **kwargs)
        try:
            out, err = process.communicate(timeout=timeout)
        finally:
            _stop(process)
        return subprocess.CompletedProcess(process.args, process.returncode, out, err)

    def python(self, *args: str, **kwargs: Any) -> subprocess.Popen[Any]:
        """``python args...`` inside this host, with this repository importable."""
        return self.popen([sys.executable, *args], **kwargs)

    def cut(self) -> None:
        """Pull the host's cable: its packets are dropped, connections hang (no reset)."""
        _ip("link", "set", self.link, "down")

    def restore(self) -> None:
        _ip("link", "set", self.link, "up")

    @contextlib.contextmanager
    def link_cut(self) -> Iterator[None]:
        self.cut()
        try:
            yield
        finally:
            self.restore()

    def stop_processes(self) -> None:
        for process in self.processes:
            _stop(process)
        self.processes.clear()
        _kill_netns_pids(self.netns)


class Fleet:
    """``count`` hosts around one bridge whose address the test's servers listen on."""

    def __init__(self, root: Path, count: int, *, relay: str = "auto") -> None:
        """``relay``: ``socat``, ``python`` (``tests.fleet.relay``) or ``auto`` (socat if
        installed)."""
        self.root = root
        self.count = count
        self.relay = ("socat" if shutil.which("socat") else "python") if relay == "auto" else relay
        self.base = f"cf{os.getpid()}x{next(_made)}"
        self.subnet = ""
        self.hosts: list[Host] = []
        self.relays: dict[int, list[subprocess.Popen[Any]]] = {}
        self._bridge = f"{self.base}b"

    @property
    def address(self) -> str:
        """Where the test's servers listen: the machine's side of every host's link."""
        return f"{self.subnet}.1"

    def __enter__(self) -> Fleet:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start(self) -> None:
        sweep_stale()
        self.subnet = _free_subnet()
        _ip("link", "add", self._bridge, "type", "bridge")
        _ip("addr", "add", f"{self.address}/24", "dev", self._bridge)
        _ip("link", "set", self._bridge, "up")
        for i in range(self.count):
            netns, link, inside = f"{self.base}n{i}", f"{self.base}h{i}", f"{self.base}i{i}"
            _ip("netns", "add", netns)
            host = Host(f"host-{i}", netns, link, f"{self.subnet}.{i + 2}", self.root / f"host-{i}")
            self.hosts.append(host)
            for directory in (host.home, host.state, host.root / "run"):
                directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            _ip("link", "add", link, "type", "veth", "peer", "name", inside, "netns", netns)
            _ip("link", "set", link, "master", self._bridge)
            _ip("link", "set", link, "up")
            _ip("-n", netns, "addr", "add", f"{host.address}/24", "dev", inside)
            _ip("-n", netns, "link", "set", inside, "up")
            _ip("-n", netns, "link", "set", "lo", "up")

    def expose(self, *ports: int) -> None:
        """On every host, relay ``127.0.0.1:PORT`` to ``PORT`` on ``fleet.address``."""
        for port in ports:
            if port in self.relays:
                continue
            started = self.relays[port] = []
            for host in self.hosts:
                log = host.root / f"relay-{port}.log"
                started.append(self._relay(host, port, log))
            for process, host in zip(started, self.hosts, strict=True):
                self._wait_listening(process, host.root / f"relay-{port}.log")

    def _relay(self, host: Host, port: int, log: Path) -> subprocess.Popen[Any]:
        if self.relay == "socat":
            # -d -d logs "listening on" once bound; fork: one child per connection;
            # nodelay both ways: small store round trips must not wait on Nagle.
            args = [
                "socat",
                "-d",
                "-d",
                f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,backlog=1024,nodelay",
                f"TCP:{self.address}:{port},nodelay",
            ]
        else:
            args = [sys.executable, "-m", "tests.fleet.relay", str(port), self.address, str(port)]
        # Its own process group, so the children of a forking relay go with it.
        return subprocess.Popen(
            ["ip", "netns", "exec", host.netns, *args],
            stdout=subprocess.DEVNULL,
            stderr=log.open("w"),
            cwd=REPO,
            start_new_session=True,
        )

    @staticmethod
    def _wait_listening(process: subprocess.Popen[Any], log: Path) -> None:
        deadline = time.monotonic() + 30  # a loaded machine starts Python slowly
        while "listening on" not in log.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"relay did not start: {log.read_text()[-500:]}")
            time.sleep(0.01)

    def unexpose(self, *ports: int) -> None:
        for port in ports:
            for process in self.relays.pop(port, []):
                _stop(process, group=True)

    def local_url(self, url: str) -> str:
        """``url`` as a process inside a host names it: through its loopback relay."""
        return url.replace(self.address, "127.0.0.1")

    def close(self) -> None:
        for host in self.hosts:
            host.stop_processes()
        self.unexpose(*list(self.relays))
        for host in self.hosts:
            _kill_netns_pids(host.netns)
            # Deleting a namespace frees its links only later, asynchronously: delete
            # the pair here so nothing is left when close returns.
            _ip("link", "del", host.link, check=False)
            _ip("netns", "del", host.netns, check=False)
        _ip("link", "del", self._bridge, check=False)
        self.hosts.clear()
