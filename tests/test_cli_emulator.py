"""`ctct emulator` as a user runs it: a real process on a real port."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest

from ctct import _cc
from ctct.emulator.config import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

CTCT = Path(sys.executable).with_name("ctct")
ENV = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}


@contextmanager
def emulator_process(
    tmp_path: Path, *args: str, name: str = "ready.json"
) -> Iterator[tuple[subprocess.Popen[str], dict[str, Any]]]:
    """Run `ctct emulator --port 0 --ready-file ...` until the block ends."""
    ready = tmp_path / name
    proc = subprocess.Popen(
        [str(CTCT), "emulator", "--port", "0", "--ready-file", str(ready), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        deadline = time.monotonic() + 30  # a generous bound for a loaded machine
        while not ready.exists():
            if proc.poll() is not None:
                out, err = proc.communicate()
                pytest.fail(f"ctct emulator exited with {proc.returncode}:\n{out}\n{err}")
            if time.monotonic() > deadline:
                pytest.fail("ctct emulator never wrote its ready file")
            time.sleep(0.02)
        yield proc, json.loads(ready.read_text())
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.communicate(timeout=10)


def stop(proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> tuple[int, str, str]:
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=10)
    return proc.returncode, out, err


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CTCT), "emulator", *args], capture_output=True, text=True, timeout=30, env=ENV
    )


def test_serves_on_the_port_it_reports_and_prints_what_to_paste(tmp_path: Path) -> None:
    with emulator_process(tmp_path) as (proc, info):
        base = info["base_url"]
        assert base == f"http://127.0.0.1:{info['port']}"
        assert info["client_id"] == DEFAULT_CLIENT_ID
        assert info["client_secret"] == DEFAULT_CLIENT_SECRET
        jwks = httpx2.get(base + _cc.JWKS_PATH)
        assert jwks.status_code == 200
        assert jwks.json()["keys"][0]["alg"] == "RS256"
        config = httpx2.get(base + "/__emulator/config").json()
        assert config["default_client_id"] == DEFAULT_CLIENT_ID
        code, out, err = stop(proc)
    assert code == 0, err
    assert f"listening on {base}" in out
    assert DEFAULT_CLIENT_ID in out
    assert DEFAULT_CLIENT_SECRET in out
    assert "alice@example.com (default)" in out
    assert "alice-password" in out
    assert "bob@example.com" in out
    assert "bob-password" in out
    assert (
        f"export CTCT_BASE_URL={base} CTCT_CLIENT_ID={DEFAULT_CLIENT_ID} "
        f"CTCT_CLIENT_SECRET={DEFAULT_CLIENT_SECRET}"
    ) in out
    assert base + _cc.TOKEN_PATH in out
    assert "Emulator stopped." in out
    assert "Traceback" not in err
    assert not (tmp_path / "ready.json").exists()


def test_json_line_on_stdout_and_ctrl_c_exits_0(tmp_path: Path) -> None:
    with emulator_process(tmp_path, "--json") as (proc, info):
        code, out, err = stop(proc, signal.SIGINT)
    assert code == 0, err
    first = json.loads(out.splitlines()[0])
    assert first == info
    assert first["event"] == "ready"
    assert first["env"]["CTCT_BASE_URL"] == info["base_url"]
    assert {"username": "alice@example.com", "password": "alice-password"} in first["users"]
    assert "listening on" in err  # the human-readable part moved to stderr
    assert "KeyboardInterrupt" not in err
    assert "Traceback" not in err


def test_flags_shape_the_configuration(tmp_path: Path) -> None:
    args = [
        "--client-id", "my-app", "--client-secret", "my-secret",
        "--redirect-uri", "http://127.0.0.1:9999/cb", "--redirect-uri", "https://example.test/cb",
        "--refresh-tokens", "long-lived", "--access-token-ttl", "60", "--code-ttl", "30",
        "--refresh-token-idle-ttl", "3600", "--refresh-token-reuse", "grant",
        "--refresh-token-grace", "10", "--reject-client-secret-post", "--reject-pkce-confidential",
        "--strict-loopback-ports", "--device-interval", "1", "--device-expires-in", "120",
        "--auto-approve", "--api-rate", "2.5", "--api-daily-quota", "50", "--token-rate", "3",
        "--default-user", "bob@example.com", "--require-state",
    ]  # fmt: skip
    with emulator_process(tmp_path, *args) as (proc, info):
        config = httpx2.get(info["base_url"] + "/__emulator/config").json()
        code, out, _ = stop(proc)
    assert code == 0
    app = config["apps"][0]
    assert app["client_id"] == config["default_client_id"] == "my-app"
    assert app["client_secret"] == "my-secret"
    assert app["redirect_uris"] == ["http://127.0.0.1:9999/cb", "https://example.test/cb"]
    assert app["refresh_token_type"] == "long-lived"
    assert config["lifetimes"] == {
        "access_token_ttl": 60,
        "authorization_code_ttl": 30,
        "refresh_token_idle_ttl": 3600,
        "device_code_ttl": 120,
        "device_poll_interval": 1,
        "pending_login_ttl": 600,
    }
    switches = config["switches"]
    assert switches["refresh_token_reuse"] == "grant"
    assert switches["refresh_token_grace_seconds"] == 10
    assert switches["allow_client_secret_post"] is False
    assert switches["allow_pkce_for_confidential"] is False
    assert switches["loopback_redirect_any_port"] is False
    assert switches["auto_approve"] is True
    assert switches["require_state"] is True
    assert switches["strict"] is False and switches["split_hosts"] is False
    assert config["limits"]["api_rate_per_second"] == 2.5
    assert config["limits"]["api_daily_quota"] == 50
    assert config["limits"]["token_rate_per_second"] == 3
    assert config["default_username"] == "bob@example.com"
    assert "export CTCT_BASE_URL=" in out
    assert "CTCT_CLIENT_SECRET=my-secret" in out


def test_public_client_and_config_file(tmp_path: Path) -> None:
    config_file = tmp_path / "emulator.toml"
    config_file.write_text(
        """
access_token_ttl = 90

[[apps]]
client_id = "toml-app"
client_secret = "toml-secret"
redirect_uris = ["http://127.0.0.1/cb"]

[[apps]]
client_id = "second-app"
client_secret = "second-secret"

[[users]]
username = "dana@example.com"
password = "dana-password"
platform_user_id = "0b9d2f4e-1a3c-4e5f-8a7b-0000000000d4"
account_id = "a07e1dana0004"
first_name = "Dana"
last_name = "Owner"
organization_name = "Dana's Deli"
""",
        encoding="utf-8",
    )
    args = ["--config", str(config_file), "--public-client", "--default-user", "dana@example.com"]
    with emulator_process(tmp_path, *args) as (proc, info):
        config = httpx2.get(info["base_url"] + "/__emulator/config").json()
        code, out, _ = stop(proc)
    assert code == 0
    assert [a["client_id"] for a in config["apps"]] == ["toml-app", "second-app"]
    assert config["apps"][0]["client_secret"] is None  # --public-client wins over the file
    assert config["apps"][1]["client_secret"] == "second-secret"
    assert config["lifetimes"]["access_token_ttl"] == 90
    assert [u["username"] for u in config["users"]] == ["dana@example.com"]
    assert info["env"] == {"CTCT_BASE_URL": info["base_url"], "CTCT_CLIENT_ID": "toml-app"}
    assert "CTCT_CLIENT_SECRET" not in out
    assert "public client" in out


def _device_login(base: str) -> dict[str, Any]:
    """A device-flow login with --auto-approve: straight to tokens."""
    with httpx2.Client(base_url=base) as http:
        device = http.post(
            _cc.DEVICE_AUTHORIZE_PATH,
            data={
                "client_id": DEFAULT_CLIENT_ID,
                "scope": "account_read contact_data offline_access",
            },
        ).json()
        response = http.post(
            _cc.TOKEN_PATH,
            data={
                "grant_type": _cc.DEVICE_CODE_GRANT,
                "client_id": DEFAULT_CLIENT_ID,
                "device_code": device["device_code"],
            },
        )
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


def test_data_file_keeps_keys_grants_clock_and_accounts_across_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "state" / "emulator.sqlite3"
    args = ("--data", str(data), "--auto-approve")
    with emulator_process(tmp_path, *args, name="first.json") as (proc, info):
        base = info["base_url"]
        tokens = _device_login(base)
        kid = httpx2.post(base + "/__emulator/keys/rotate", json={}).json()["kid"]
        httpx2.post(base + "/__emulator/clock/advance", json={"seconds": 7200})
        seeded = httpx2.post(
            base + "/__emulator/seed",
            json={
                "username": "alice@example.com",
                "lists": [{"name": "VIP"}],
                "contacts": [
                    {"email": "ann@example.com", "first_name": "Ann", "list_memberships": ["VIP"]}
                ],
            },
        )
        assert seeded.status_code == 200, seeded.text
        assert stop(proc)[0] == 0
    assert data.exists()

    with emulator_process(tmp_path, *args, name="second.json") as (proc, info):
        base = info["base_url"]
        assert kid in [k["kid"] for k in httpx2.get(base + _cc.JWKS_PATH).json()["keys"]]
        assert httpx2.get(base + "/__emulator/clock").json()["offset"] >= 7200
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        contacts = httpx2.get(
            base + "/v3/contacts", params={"email": "ann@example.com"}, headers=bearer
        )
        assert contacts.status_code == 200, contacts.text
        assert [c["first_name"] for c in contacts.json()["contacts"]] == ["Ann"]
        refreshed = httpx2.post(
            base + _cc.TOKEN_PATH,
            data={
                "grant_type": "refresh_token",
                "client_id": DEFAULT_CLIENT_ID,
                "refresh_token": tokens["refresh_token"],
            },
        )
        assert refreshed.status_code == 200, refreshed.text
        assert stop(proc)[0] == 0


def test_non_loopback_host_is_refused_without_allow_remote() -> None:
    result = run("--host", "0.0.0.0", "--port", "0")
    assert result.returncode == 3
    assert "refusing to listen on 0.0.0.0" in result.stderr
    assert "--allow-remote" in result.stderr
    assert "Traceback" not in result.stderr


def test_allowed_host_is_answered_and_others_are_not(tmp_path: Path) -> None:
    with emulator_process(tmp_path, "--allowed-host", "emulator.test") as (proc, info):
        base = info["base_url"]
        named = httpx2.get(base + "/__emulator/clock", headers={"Host": "emulator.test"})
        other = httpx2.get(base + "/__emulator/clock", headers={"Host": "evil.test"})
        assert stop(proc)[0] == 0
    assert named.status_code == 200
    assert other.status_code == 421


def test_another_loopback_address_is_served_under_its_own_name(tmp_path: Path) -> None:
    with emulator_process(tmp_path, "--host", "127.0.0.2") as (proc, info):
        assert info["base_url"] == f"http://127.0.0.2:{info['port']}"
        response = httpx2.get(info["base_url"] + "/__emulator/clock")
        assert stop(proc)[0] == 0
    assert response.status_code == 200


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with emulator_process(tmp_path) as (proc, info):
        result = run("--port", str(info["port"]))
        stop(proc)
    assert result.returncode == 1
    assert f"port {info['port']} on 127.0.0.1 is already in use" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "mentions"),
    [
        (["--port", "70000"], "70000 is not in the range"),
        (["--redirect-uri", "callback"], "is not an absolute URI"),
        (["--redirect-uri", "http://127.0.0.1/cb#frag"], "#fragment"),
        (["--public-client", "--client-secret", "s"], "contradict each other"),
        (["--default-user", "nobody@example.com"], "no user 'nobody@example.com'"),
        (["--refresh-tokens", "forever"], "'forever' is not one of"),
        (["--access-token-ttl", "0"], "0 is not in the range x>=1"),
        (["--api-rate", "0"], "is not in the range x>0"),
        (["--config", "/nonexistent/emulator.toml"], "does not exist"),
    ],
)
def test_bad_flags_get_a_clear_message(args: list[str], mentions: str) -> None:
    result = run("--port", "0", *args)
    assert result.returncode == 2
    assert mentions in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_config_file_gets_a_clear_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("acess_token_ttl = 60\n", encoding="utf-8")
    result = run("--port", "0", "--config", str(bad))
    assert result.returncode == 2
    assert "unknown emulator setting 'acess_token_ttl'" in result.stderr
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    result = run("--port", "0", "--config", str(broken))
    assert result.returncode == 2
    assert f"Invalid value for --config: {broken}: Expecting property name" in result.stderr
    assert "Traceback" not in result.stderr


def test_data_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite3"
    junk.write_text("this is not SQLite, " * 100, encoding="utf-8")
    result = run("--port", "0", "--data", str(junk))
    assert result.returncode == 1
    assert f"cannot use --data {junk}" in result.stderr
    assert "Traceback" not in result.stderr


def test_strict_and_split_hosts(tmp_path: Path) -> None:
    with emulator_process(tmp_path, "--strict", "--split-hosts") as (proc, info):
        origins = info["origins"]
        assert origins["authz"] == info["base_url"]
        assert len({origins["authz"], origins["identity"], origins["api"]}) == 3
        assert info["env"] == {
            "CTCT_AUTH_URL": origins["authz"],
            "CTCT_IDENTITY_URL": origins["identity"],
            "CTCT_API_URL": origins["api"],
            "CTCT_CLIENT_ID": DEFAULT_CLIENT_ID,
            "CTCT_CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
        }
        with httpx2.Client() as http:
            switches = http.get(info["base_url"] + "/__emulator/config").json()["switches"]
            assert switches["strict"] is True and switches["split_hosts"] is True
            assert switches["allow_client_secret_post"] is False
            assert http.get(origins["identity"] + _cc.JWKS_PATH).status_code == 200
            forbidden = http.get(origins["api"] + _cc.TOKEN_PATH)
            assert forbidden.status_code == 403 and forbidden.json() == {"message": "Forbidden"}
        code, out, _ = stop(proc)
    assert code == 0
    assert f"api {origins['api']}" in out and f"export CTCT_AUTH_URL={origins['authz']}" in out
    assert f"{origins['identity']}{_cc.JWKS_PATH}" in out
    assert f"{origins['api']}{_cc.API_BASE_PATH}" in out


@pytest.mark.parametrize(
    ("args", "mentions"),
    [
        (["--api-port", "9000"], "--api-port needs --split-hosts"),
        (["--split-hosts", "--port", "65535"], "leaves no room"),
        (["--split-hosts", "--port", "7000", "--api-port", "7000"], "three different ports"),
    ],
)
def test_split_host_ports_are_checked(args: list[str], mentions: str) -> None:
    result = subprocess.run(
        [str(CTCT), "emulator", *args], capture_output=True, text=True, env=ENV, timeout=30
    )
    assert result.returncode == 2, result.stderr
    assert mentions in result.stderr and "Traceback" not in result.stderr
