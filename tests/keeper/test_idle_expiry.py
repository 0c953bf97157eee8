"""179 days later: every keep-alive account is refreshed before its refresh token would
idle out, a revoked one is flagged needs_login within a tick, and its webhook arrives
signed (verified by the reference library), redelivered with the same id."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ctct.keeper.webhooks import new_secret
from ctct.stores import open_store
from ctct.testing import start_emulator
from tests.keeper.fleet import ctct_binary, states_of, store_minted, write_config
from tests.servers import free_port
from tests.timeshim import MovableClock

ROOT = Path(__file__).resolve().parents[2]
DAY = 86_400
T = TypeVar("T")


def wait_for(check: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value is not None:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_179_days_later_keep_alive_accounts_are_refreshed_and_a_revoked_one_flagged(
    tmp_path: Path,
) -> None:
    secret = tmp_path / "whsec"
    secret.write_text(new_secret())
    secret.chmod(0o600)
    hook_port = free_port()
    deliveries = tmp_path / "deliveries.jsonl"
    deliveries.touch()
    clock = MovableClock(tmp_path / "clock")
    env = clock.env({**os.environ, "CTCT_KEYRING": "0", "CTCT_STORE_KEYRING": "0"})
    env["PYTHONPATH"] = os.pathsep.join([env["PYTHONPATH"], str(ROOT)])
    receiver = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.keeper.webhook_receiver",
            str(hook_port),
            str(secret),
            str(deliveries),
        ],
        env=env,
        cwd=ROOT,
    )
    with start_emulator(token_rate_per_second=50) as emu:
        url = f"sqlite:///{tmp_path}/tokens.db"
        store = open_store(url)
        keys = store_minted(emu, store, 5, prefix="rare")
        extra = (
            '\n[[policies]]\nprofiles = ["rare-*"]\npolicy = "keep-alive"\n\n'
            f'[webhooks]\nurl = "http://127.0.0.1:{hook_port}/hooks"\n'
            f'secret_files = ["{secret}"]\n'
        )
        config = write_config(
            tmp_path / "keeper.toml", emu.base_url, token_rate=50, store=url, extra=extra
        )
        log = (tmp_path / "keeper.log").open("w")
        keeper = subprocess.Popen(
            [ctct_binary(), "keeper", "run", "--config", str(config)], env=env, stderr=log
        )
        try:
            time.sleep(3)  # the keeper plans them: keep-alive, nothing due for a week
            refreshed_before = len(emu.events("refresh"))
            assert refreshed_before == 0
            revoked = keys[2]
            grants = emu.grants()["grants"]
            emu.revoke_grant(grants[2]["grant_id"])
            # 179 days pass, at the provider and at the keeper: one day of idle life left.
            emu.advance_clock(179 * DAY)
            clock.advance(179 * DAY)

            def settled() -> dict[str, tuple[str, str]] | None:
                now = states_of(store, keys)
                refreshed = {e["grant_id"] for e in emu.events("refresh")}
                done = now[revoked.profile][0] == "needs_login" and len(refreshed) == 4
                return now if done else None

            states = wait_for(settled, timeout=20, what="the keeper to go through every account")
            assert states[revoked.profile] == ("needs_login", "rejected")
            # Every other one was refreshed in time: its refresh token works another 180 days.
            assert {code for p, (code, _) in states.items() if p != revoked.profile} == {"ok"}
            assert len(emu.events("refresh")) == 4

            # Its webhook: delivered, verified with the reference library, redelivered
            # after the receiver's 500 with the same webhook-id.
            def redelivered() -> list[dict[str, Any]] | None:
                lines = [json.loads(line) for line in deliveries.read_text().splitlines()]
                found = [d for d in lines if d["body"]["type"] == "ctct.needs_login"]
                return found if len(found) >= 2 else None

            received = wait_for(redelivered, timeout=30, what="the webhook and its redelivery")
            assert {d["id"] for d in received} == {received[0]["id"]}
            assert [d["first"] for d in received[:2]] == [True, False]
            assert all(d["verified"] is True for d in received), received
            data = received[0]["body"]["data"]
            assert data["profile"] == revoked.profile and data["reason"] == "rejected"
            assert data["seq"] >= 1
            # The signature's timestamp is the keeper's (179 days on), within tolerance.
            assert abs(int(received[0]["timestamp"]) - (time.time() + 179 * DAY)) < 300
        finally:
            keeper.terminate()
            keeper.wait(30)
            receiver.terminate()
            receiver.wait(10)
            store.close()
        assert "Traceback" not in (tmp_path / "keeper.log").read_text()
