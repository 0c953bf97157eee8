"""`ctct keeper` as an operator runs it: a subprocess against the emulator, probed over
its ops listener, inspected and steered with the other keeper commands."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2
from prometheus_client.parser import text_string_to_metric_families

from ctct.stores import open_store
from ctct.testing import start_emulator
from tests.keeper.fleet import store_minted, token_outcomes, write_config

CTCT = str(Path(sys.executable).with_name("ctct"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def keeper_cmd(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CTCT, "keeper", *args], capture_output=True, text=True, env=env, timeout=60
    )


def metrics(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx2.get(f"{url}/metrics").text
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_keeper_run_status_pause_resume_and_metrics(tmp_path: Path) -> None:
    import os

    with start_emulator(access_token_ttl=10, token_rate_per_second=50) as emu:
        url = f"sqlite:///{tmp_path}/tokens.db"
        with open_store(url) as store:
            store_minted(emu, store, 6)
        config = write_config(tmp_path / "keeper.toml", emu.base_url, token_rate=50, store=url)
        env = {**os.environ, "CTCT_KEYRING": "0", "CTCT_STORE_KEYRING": "0", "NO_COLOR": "1"}
        port = free_port()
        ops = f"http://127.0.0.1:{port}"
        broker = tmp_path / "broker.sock"
        proc = subprocess.Popen(
            [
                CTCT,
                "keeper",
                "run",
                "--config",
                str(config),
                "--ops-listen",
                f"127.0.0.1:{port}",
                "--broker-socket",
                str(broker),
                "--sink",
                f"acct-0003={tmp_path / 'token'}",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx2.get(f"{ops}/readyz").status_code == 200:
                        break
                except httpx2.HTTPError:
                    pass
                assert time.monotonic() < deadline and proc.poll() is None, "keeper did not start"
                time.sleep(0.1)
            assert httpx2.get(f"{ops}/livez").json()["status"] == "ok"
            time.sleep(11)  # past one lifetime: every account refreshed at least once
            status = json.loads(
                keeper_cmd("status", "--config", str(config), "--json", env=env).stdout
            )
            accounts = {a["profile"]: a for a in status["accounts"]}
            assert len(accounts) == 6
            assert {a["state"] for a in accounts.values()} == {"ok"}
            for account in accounts.values():
                assert {"profile", "state", "reason", "next_refresh_at"} <= set(account)
            paused = keeper_cmd("pause", "--config", str(config), "acct-0000", env=env)
            assert paused.returncode == 0, paused.stderr
            state = json.loads(
                keeper_cmd(
                    "status", "--config", str(config), "--json", "--state", "paused", env=env
                ).stdout
            )
            assert [a["profile"] for a in state["accounts"]] == ["acct-0000"]
            assert (
                keeper_cmd("resume", "--config", str(config), "acct-0000", env=env).returncode == 0
            )
            unknown = keeper_cmd("pause", "--config", str(config), "nobody", env=env)
            assert unknown.returncode == 3 and "No connected account" in unknown.stderr
            found = metrics(ops)
            refreshed = sum(
                v
                for (name, labels), v in found.items()
                if name == "ctct_refresh_attempts_total" and ("result", "ok") in labels
            )
            # What the keeper counts as refreshed is what the token endpoint answered, but
            # for a refresh the sink's own manager may make at start-up (the 3-replica
            # fleet test checks the exact sum without one).
            answered = token_outcomes(emu).get("success", 0)
            assert 0 < refreshed <= answered <= refreshed + 1
            assert found[("ctct_keeper_store_up", ())] == 1.0
            assert ("ctct_accounts", (("policy", "keep-fresh"), ("state", "ok"))) in found
            # The broker beside the keeper serves the same grants.
            served = subprocess.run(
                [
                    "curl",
                    "-sS",
                    "--unix-socket",
                    str(broker),
                    "-H",
                    "Ctct-Broker: 1",
                    "http://broker/v1/token?profile=acct-0003",
                ],
                capture_output=True,
                text=True,
                timeout=30,
            )
            doc = json.loads(served.stdout)
            assert doc["profile"] == "acct-0003" and doc["expires_in"] > 0, served.stdout
            # ...and so does the sink (rewritten as the keeper refreshes).
            sink = tmp_path / "token"
            assert sink.exists()
            assert sink.read_text().strip().count(".") == 2
            plan = json.loads(keeper_cmd("plan", "--config", str(config), "--json", env=env).stdout)
            assert plan["apps"][0]["fits"] is True and 0 < plan["apps"][0]["utilization"] < 1
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err[-2000:]
        assert "Traceback" not in err
