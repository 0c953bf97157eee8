"""The test-host harness itself: each host reaches the exposed servers through its own
loopback and nothing else of the others', a cut link is a blackhole until restored, and
nothing is left behind."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.fleet.hosts import Fleet, Host, unavailable
from tests.servers import RedisServer


def probe(host: Host, port: int, timeout: float = 5.0) -> tuple[str, str]:
    done = host.run([sys.executable, "-m", "tests.fleet.probe", str(port), str(timeout)])
    assert done.returncode == 0, done.stderr
    answer, home = done.stdout.split()
    return answer, home


def test_hosts_reach_the_exposed_server_through_their_own_loopback(
    fleet: Fleet, fleet_redis: RedisServer
) -> None:
    homes = set()
    for host in fleet.hosts:
        answer, home = probe(host, fleet_redis.port)
        assert answer == "+PONG"
        homes.add(home)
    assert homes == {str(h.home) for h in fleet.hosts}
    # A port not exposed is not reachable: the hosts do not share the machine's loopback.
    assert probe(fleet.hosts[0], fleet_redis.port + 1)[0] == "refused"


def test_a_cut_link_drops_packets_until_restored(fleet: Fleet, fleet_redis: RedisServer) -> None:
    cut, other = fleet.hosts[0], fleet.hosts[1]
    with cut.link_cut():
        assert probe(cut, fleet_redis.port, timeout=1.0)[0] == "timeout"
        assert probe(other, fleet_redis.port)[0] == "+PONG"
    assert probe(cut, fleet_redis.port)[0] == "+PONG"


def test_the_python_relay_and_teardown_leave_nothing_behind(tmp_path: Path) -> None:
    reason = unavailable()
    if reason is not None:
        pytest.skip(f"no test hosts on this machine: {reason}")
    import subprocess

    with Fleet(tmp_path / "fleet", 2, relay="python") as fleet:
        server = RedisServer(tmp_path / "redis", host=fleet.address)
        server.start()
        try:
            fleet.expose(server.port)
            assert [probe(h, server.port)[0] for h in fleet.hosts] == ["+PONG", "+PONG"]
            # A process left running inside a host is stopped at teardown.
            sleeper = fleet.hosts[0].python("-c", "import time; time.sleep(600)")
            names = [h.netns for h in fleet.hosts]
        finally:
            fleet.close()
            server.stop()
    assert sleeper.poll() is not None
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert not [n for n in names if n in listed]
    assert fleet.base not in links
