"""The token broker over real sockets, against the emulator."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import httpx2
import pytest

from ctct.broker.keys import append_key
from tests.broker.conftest import HEADERS, StartBroker

DAY = 86_400


def fp(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def test_serves_a_fresh_token_without_refreshing(start_broker: StartBroker) -> None:
    running = start_broker()
    env = running.env
    with env.manager() as manager:
        tokens = env.login(manager)
    with running.client() as client:
        answer = client.get("/v1/token", params={"profile": "default"}, headers=HEADERS)
    assert answer.status_code == 200, answer.text
    doc = answer.json()
    assert doc["access_token"] == tokens.access_token.reveal()  # type: ignore[union-attr]
    assert set(doc) == {
        "access_token",
        "token_type",
        "expires_at",
        "expires_in",
        "scopes",
        "profile",
    }
    assert doc["token_type"] == "Bearer" and doc["profile"] == "default"
    assert 0 < doc["expires_in"] <= DAY and doc["expires_at"].endswith("Z")
    assert "offline_access" in doc["scopes"]
    assert "refresh" not in answer.text  # never a refresh token
    assert answer.headers["cache-control"] == "no-store"
    assert env.refreshes() == 0


def test_500_callers_at_expiry_cause_one_refresh(start_broker: StartBroker) -> None:
    running = start_broker()
    env = running.env
    with env.manager() as manager:
        old = env.login(manager).access_token.reveal()  # type: ignore[union-attr]
    env.clock.advance(DAY + 1)  # expired for everyone at once

    async def ask_all() -> list[httpx2.Response]:
        limits = httpx2.Limits(max_connections=500, max_keepalive_connections=500)
        async with running.async_client(limits=limits, timeout=60) as client:
            return await asyncio.gather(
                *(client.get("/v1/token", headers=HEADERS) for _ in range(500))
            )

    answers = asyncio.run(ask_all())
    assert [a.status_code for a in answers] == [200] * 500
    tokens = {a.json()["access_token"] for a in answers}
    assert len(tokens) == 1 and old not in tokens
    assert env.refreshes() == 1


def test_a_reported_401_refreshes_once_and_a_stale_report_never(start_broker: StartBroker) -> None:
    running = start_broker(forced_interval=0.0)
    env = running.env
    with env.manager() as manager:
        first = env.login(manager).access_token.reveal()  # type: ignore[union-attr]
    env.clock.advance(1.1)
    with running.client() as client:

        def ask(rejected: str) -> str:
            answer = client.get("/v1/token", params={"rejected": rejected}, headers=HEADERS)
            assert answer.status_code == 200, answer.text
            return str(answer.json()["access_token"])

        second = ask(fp(first))
        assert second != first and env.refreshes() == 1
        # Every other caller that saw the same 401 reports the same token: no refresh.
        for _ in range(5):
            assert ask(fp(first)) == second
        assert ask(fp(first)[:16]) == second  # a prefix is enough
        assert env.refreshes() == 1
        # A fingerprint of some token we never served: stale, nothing happens.
        assert ask(fp("not-a-token-we-served")) == second
        assert env.refreshes() == 1
        env.clock.advance(1.1)
        # The new token reported in turn: one more refresh.
        third = ask(fp(second))
        assert third not in (first, second) and env.refreshes() == 2


def test_forced_refreshes_are_rate_limited_per_grant(start_broker: StartBroker) -> None:
    running = start_broker(forced_interval=30.0)
    env = running.env
    with env.manager() as manager:
        first = env.login(manager).access_token.reveal()  # type: ignore[union-attr]
    env.clock.advance(1.1)
    with running.client() as client:
        one = client.get("/v1/token", params={"rejected": fp(first)}, headers=HEADERS)
        second = one.json()["access_token"]
        env.clock.advance(2)
        again = client.get("/v1/token", params={"rejected": fp(second)}, headers=HEADERS)
    assert again.status_code == 429
    assert again.json()["error"] == "refresh_rate_limited"
    assert int(again.headers["retry-after"]) >= 27
    assert env.refreshes() == 1


def test_min_valid_beyond_half_a_lifetime_is_a_400_and_within_refreshes(
    start_broker: StartBroker,
) -> None:
    running = start_broker()
    env = running.env
    with env.manager() as manager:
        first = env.login(manager).access_token.reveal()  # type: ignore[union-attr]
    with running.client() as client:
        too_long = client.get("/v1/token", params={"min_valid": DAY}, headers=HEADERS)
        assert too_long.status_code == 400 and too_long.json()["error"] == "min_valid_too_long"
        for bad in ("-1", "nan", "soon", "inf"):
            answer = client.get("/v1/token", params={"min_valid": bad}, headers=HEADERS)
            assert answer.status_code == 400, bad
        env.clock.advance(DAY - 3_600)  # an hour left: fine for min_valid=60, not 7,200
        same = client.get("/v1/token", params={"min_valid": 60}, headers=HEADERS)
        assert same.json()["access_token"] == first and env.refreshes() == 0
        longer = client.get("/v1/token", params={"min_valid": 7_200}, headers=HEADERS)
        assert longer.status_code == 200 and longer.json()["access_token"] != first
        assert longer.json()["expires_in"] >= 7_200
    assert env.refreshes() == 1


def test_needs_login_is_424_and_a_down_token_endpoint_is_503(start_broker: StartBroker) -> None:
    running = start_broker()
    env = running.env
    with env.manager() as manager:
        env.login(manager)
    env.clock.advance(DAY + 1)
    env.emu.faults.inject("token", "503", count=50)
    with running.client() as client:
        down = client.get("/v1/token", headers=HEADERS)
        assert down.status_code == 503, down.text
        assert int(down.headers["retry-after"]) >= 1
        # Callers during the back-off do not reach the token endpoint.
        before = env.emu.faults.pending()["token"]
        for _ in range(20):
            assert client.get("/v1/token", headers=HEADERS).status_code == 503
        assert env.emu.faults.pending()["token"] == before
        env.emu.faults.reset()
        env.revoke_grant()
        env.clock.advance(60)  # past the back-off
        gone = client.get("/v1/token", headers=HEADERS)
    assert gone.status_code == 424, gone.text
    assert gone.json()["error"] == "needs_login"
    assert "invalid_grant" in gone.json()["message"] or "rejected" in gone.json()["message"]


def test_unknown_profile_is_404(start_broker: StartBroker, tmp_path: Path) -> None:
    running = start_broker()
    with running.client() as client:
        answer = client.get("/v1/token", params={"profile": "nobody"}, headers=HEADERS)
    assert answer.status_code == 424 or answer.status_code == 404
    assert answer.json()["error"] in {"needs_login", "unknown_profile"}


def test_requests_without_the_header_are_refused(start_broker: StartBroker) -> None:
    running = start_broker()
    with running.env.manager() as manager:
        running.env.login(manager)
    with running.client() as client:
        # safety: src/ctct/broker/app.py: raise missing_header()
        for headers in ({}, {"Ctct-Broker": "0"}, {"Ctct-Broker": "true"}):
            answer = client.get("/v1/token", headers=headers)
            assert answer.status_code == 403 and answer.json()["error"] == "missing_header"
            assert "access_token" not in answer.text


def test_tcp_needs_a_valid_key_and_the_policy_decides_profiles(
    start_broker: StartBroker, tmp_path: Path
) -> None:
    key_file = tmp_path / "keys"
    php = append_key(key_file, "php")
    node = append_key(key_file, "node")
    policy = tmp_path / "policy.toml"
    policy.write_text(
        '[[allow]]\nkey = "php"\nprofiles = ["default"]\n\n'
        '[[allow]]\nkey = "node"\nprofiles = ["shop-*"]\n'
    )
    running = start_broker(tcp=True, key_file=key_file, policy_file=policy)
    with running.env.manager() as manager:
        running.env.login(manager)
    with running.client() as client:
        ok = client.get("/v1/token", headers={**HEADERS, "Authorization": f"Bearer {php}"})
        assert ok.status_code == 200
        denied = client.get("/v1/token", headers={**HEADERS, "Authorization": f"Bearer {node}"})
        assert denied.status_code == 403 and denied.json()["error"] == "forbidden"
        # safety: src/ctct/broker/app.py: raise unknown_key()
        for auth in (
            {},
            {"Authorization": "Bearer wrong-key-wrong-key-wrong"},
            {"Authorization": f"Basic {php}"},
        ):
            answer = client.get("/v1/token", headers={**HEADERS, **auth})
            assert answer.status_code == 401 and "access_token" not in answer.text
        no_header = client.get("/v1/token", headers={"Authorization": f"Bearer {php}"})
        assert no_header.status_code == 403


TEST_USER = "ctct-broker-test"


def _test_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(TEST_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", TEST_USER],
            check=True,
        )
        return pwd.getpwnam(TEST_USER)


@pytest.mark.skipif(os.geteuid() != 0, reason="creating a test user needs root")
def test_another_uid_is_refused_over_the_socket(start_broker: StartBroker) -> None:
    user = _test_user()
    socket_dir = Path(tempfile.mkdtemp(prefix="ctct-broker-"))
    try:
        os.chmod(socket_dir, 0o755)  # the other user may reach the socket...
        running = start_broker(socket_mode=0o666, socket_dir=socket_dir)  # ...and connect
        with running.env.manager() as manager:
            running.env.login(manager)
        result = subprocess.run(
            [
                "curl",
                "-sS",
                "--unix-socket",
                str(running.socket),
                "-H",
                "Ctct-Broker: 1",
                "http://broker/v1/token",
            ],
            user=user.pw_uid,
            group=user.pw_gid,
            capture_output=True,
            text=True,
            timeout=60,
        )
        # ...but the policy (default: the broker's own uid only) refuses it.
        # safety: src/ctct/broker/app.py: raise denied(profile)
        assert json.loads(result.stdout)["error"] == "forbidden", result.stderr
        assert "access_token" not in result.stdout
        with running.client() as client:
            assert client.get("/v1/token", headers=HEADERS).status_code == 200
    finally:
        shutil.rmtree(socket_dir, ignore_errors=True)


def test_a_non_loopback_tcp_bind_without_tls_is_refused(tmp_path: Path) -> None:
    from ctct.broker.server import Listen
    from ctct.errors import ConfigError

    # safety: src/ctct/broker/server.py: raise refuse_clear_text(self.host)
    with pytest.raises(ConfigError, match="without TLS"):
        Listen(host="0.0.0.0", port=0).check(has_keys=True)
    with pytest.raises(ConfigError, match="key-file"):
        Listen(host="127.0.0.1", port=0).check(has_keys=False)
    Listen(host="127.0.0.1", port=0).check(has_keys=True)
    Listen(host="10.1.2.3", tls_cert=tmp_path / "c", tls_key=tmp_path / "k").check(has_keys=True)
