"""``ctct auth status/token/refresh/logout/list``, ``ctct config`` and ``ctct doctor``
against the emulator over loopback, the CLI run as a subprocess."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ctct.emulator.config import DEFAULT_CLIENT_SECRET
from ctct.testing import EmulatorHandle
from tests.cli.conftest import TRACEBACK, Cli, Proxy, login


@pytest.fixture
def logged_in(cli: Cli, emu: EmulatorHandle) -> Cli:
    login(cli, emu)
    return cli


def test_status_shows_account_claims_refresh_token_and_store(logged_in: Cli) -> None:
    result = logged_in.run("auth", "status")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "logged in" in out
    assert "Alice's Bakery (a07e1alice001), Alice Owner <alice@example.com>" in out
    assert "signature ✓, issuer ✓, audience ✓, client ✓; sub alice@example.com" in out
    assert "(in 23 h 59 min); fresh" in out or "(in 23 h 58 min); fresh" in out
    assert "type unknown until the first refresh; dies if unused until" in out
    assert "NOT encrypted" in out
    assert "records are stored unencrypted" in out  # the warning
    assert "eyJ…(" in out  # a fingerprint, never the token
    token = logged_in.run("auth", "token").stdout.strip()
    assert token not in out


def test_status_json(logged_in: Cli) -> None:
    data = logged_in.json("auth", "status")
    assert data["logged_in"] is True
    assert data["account"]["organization_name"] == "Alice's Bakery"
    assert data["claims"]["verified"] is True
    assert "offline_access" in data["claims"]["scopes"]
    assert 86_000 < data["token"]["expires_in"] <= 86_400
    assert data["token"]["refresh_token"] is True
    assert data["store"]["encrypted"] is False
    assert data["error"] is None


def test_status_with_an_encrypted_store(cli: Cli, emu: EmulatorHandle) -> None:
    from ctct.stores import generate_key

    cli.env["CTCT_STORE_KEY"] = generate_key()
    login(cli, emu)
    data = cli.json("auth", "status")
    assert data["store"] == {
        "backend": "sqlite",
        "encrypted": True,
        "encryption": "CTCT_STORE_KEY",
        "location": data["store"]["location"],
        "server": data["store"]["server"],  # the probe's (tests/stores/test_store_status.py)
        "persistence": data["store"]["persistence"],
        "latency_ms": data["store"]["latency_ms"],
    }
    assert not any("unencrypted" in w for w in data["warnings"])


def test_status_when_not_logged_in_exits_4(cli: Cli) -> None:
    result = cli.run("auth", "status")
    assert result.returncode == 4
    assert "not logged in" in result.stdout
    assert "Error: Profile 'default' is not logged in" in result.stderr
    assert "ctct auth login --profile default" in result.stderr


def test_status_after_the_grant_was_revoked_exits_4(logged_in: Cli, emu: EmulatorHandle) -> None:
    for grant in emu.grants()["grants"]:
        emu.revoke_grant(grant["grant_id"])
    result = logged_in.run("auth", "status", "--json")
    assert result.returncode == 4, result.stderr
    data = json.loads(result.stdout)
    assert data["logged_in"] is False
    assert data["error"]["exit_code"] == 4
    assert "ctct auth login" in result.stderr


def test_token_prints_only_the_token(logged_in: Cli) -> None:
    result = logged_in.run("auth", "token")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("eyJ") and lines[0].count(".") == 2
    assert result.stderr == ""
    full = logged_in.run("auth", "token", CTCT_NO_FAST_PATH="1")
    assert full.stdout == result.stdout


def test_token_when_not_logged_in_exits_4(cli: Cli) -> None:
    result = cli.run("auth", "token")
    assert result.returncode == 4
    assert result.stdout == ""
    assert "run `ctct auth login`" in result.stderr
    assert TRACEBACK not in result.stderr


def test_refresh_only_when_due_unless_forced(logged_in: Cli, emu: EmulatorHandle) -> None:
    before = logged_in.run("auth", "token").stdout
    idle = logged_in.run("auth", "refresh")
    assert idle.returncode == 0
    assert "is still fresh" in idle.stdout
    forced = logged_in.run("auth", "refresh", "--force")
    assert forced.returncode == 0, forced.stderr
    assert "Refreshed profile default" in forced.stdout
    assert "The refresh token rotated:" in forced.stdout
    after = logged_in.run("auth", "token").stdout
    assert after != before
    counts = emu.counters()["token_requests"]["refresh_token"]
    assert sum(counts.values()) == 1
    data = logged_in.json("auth", "refresh", "--force")
    assert data["refreshed"] is True and data["refresh_token_rotated"] is True
    assert data["refresh_token_type"] == "rotating"


def test_logout_revokes_then_forgets(logged_in: Cli, emu: EmulatorHandle) -> None:
    result = logged_in.run("auth", "logout")
    assert result.returncode == 0, result.stderr
    assert "revoked at the server and deleted from the store" in result.stdout
    assert logged_in.grants() == []
    assert all(g["revoked"] for g in emu.grants()["grants"])
    again = logged_in.run("auth", "logout")
    assert again.returncode == 0
    assert "nothing to do" in again.stdout


def test_logout_when_the_token_is_already_invalid_forgets(
    logged_in: Cli, emu: EmulatorHandle
) -> None:
    for grant in emu.grants()["grants"]:
        emu.revoke_grant(grant["grant_id"])
    result = logged_in.run("auth", "logout")
    assert result.returncode == 0, result.stderr
    assert logged_in.grants() == []


def test_logout_on_a_server_failure_keeps_tokens_unless_local(
    cli: Cli, emu: EmulatorHandle
) -> None:
    """The revocation endpoint answers 503 (through a proxy): the tokens stay, exit 11;
    with --local they are forgotten anyway, with a warning."""

    def failing_revoke(method: str, path: str, body: bytes) -> tuple[int, bytes] | None:
        if path.endswith("/v1/revoke"):
            return 503, b'{"error":"temporarily_unavailable"}'
        return None

    proxy = Proxy(emu.base_url, failing_revoke)
    try:
        cli.env["CTCT_BASE_URL"] = proxy.base_url
        login(cli, emu)
        before = cli.stored()
        kept = cli.run("auth", "logout")
        assert kept.returncode == 11, kept.stderr
        assert "Could not revoke the grant at the server, so the tokens were kept" in kept.stderr
        assert "ctct auth logout --local" in kept.stderr
        assert cli.stored() == before
        forced = cli.run("auth", "logout", "--local")
        assert forced.returncode == 0, forced.stderr
        assert "but the server could not revoke it" in forced.stdout
        assert "the grant may stay valid at the server" in forced.stderr
        assert cli.stored() is None
    finally:
        proxy.close()


def test_logout_when_the_network_is_down_keeps_tokens_exit_12(
    cli: Cli, emu: EmulatorHandle, tmp_path: Path
) -> None:
    proxy = Proxy(emu.base_url, lambda m, p, b: None)
    cli.env["CTCT_BASE_URL"] = proxy.base_url
    login(cli, emu)
    before = cli.stored()
    proxy.close()
    result = cli.run("auth", "logout")
    assert result.returncode == 12, result.stderr
    assert "Could not reach" in result.stderr
    assert "tokens were kept" in result.stderr
    assert cli.stored() == before
    refresh = cli.run("auth", "refresh", "--force")
    assert refresh.returncode in (11, 12), refresh.stderr
    assert cli.stored() == before
    assert TRACEBACK not in result.stderr + refresh.stderr


def test_list_json(logged_in: Cli, emu: EmulatorHandle) -> None:
    login(logged_in, emu, profile="work")
    data = logged_in.json("auth", "list")
    rows = {g["profile"]: g for g in data["grants"]}
    assert set(rows) == {"default", "work"}
    assert rows["default"]["current"] is True and rows["work"]["current"] is False
    assert rows["work"]["state"] == "fresh"
    assert data["encrypted"] is False


def test_config_show_redacts_the_secret_and_names_sources(cli: Cli, tmp_path: Path) -> None:
    config = Path(cli.env["CTCT_CONFIG"])
    config.write_text('timeout = 5\n[profiles.work]\nscopes = ["contact_data"]\n')
    result = cli.run("config", "show", "--profile", "work")
    assert result.returncode == 0, result.stderr
    assert DEFAULT_CLIENT_SECRET not in result.stdout
    assert "**********" in result.stdout
    data = cli.json("config", "show", "--profile", "work")
    settings: dict[str, Any] = data["settings"]
    sources: dict[str, str] = data["sources"]
    assert settings["client_secret"] == "**********"
    assert sources["client_secret"] == "env CTCT_CLIENT_SECRET"
    assert sources["profile"] == "argument"
    assert settings["timeout"] == 5.0 and sources["timeout"] == f"file {config}"
    assert settings["scopes"] == ["contact_data"]
    assert sources["scopes"] == f"file {config} [profiles.work]"
    assert sources["refresh_margin"] == "default"
    flag = cli.json("config", "show", "--client-id", "from-flag")
    assert flag["settings"]["client_id"] == "from-flag"
    assert flag["sources"]["client_id"] == "argument"
    path = cli.run("config", "path")
    assert path.stdout.strip() == str(config)


def test_doctor_checks_everything(logged_in: Cli) -> None:
    result = logged_in.run("doctor", "--json")
    data = json.loads(result.stdout)
    checks = {c["check"]: c for c in data["checks"]}
    for name in ("reach token endpoint", "reach JWKS", "reach V3 API"):
        assert checks[name]["level"] == "ok"
    assert checks["clock"]["level"] == "ok"
    assert checks["grant"]["level"] == "ok"
    assert checks["encryption"]["level"] == "warn"
    assert checks["scopes"]["level"] == "ok"  # the login asked for the default scopes
    assert "keyring" in checks
    assert checks["permissions"]["level"] in ("ok", "fail")
    assert result.returncode == (0 if data["ok"] else 1)
    human = logged_in.run("doctor")
    assert "checks" in human.stdout


def test_doctor_warns_about_missing_scopes(cli: Cli, emu: EmulatorHandle) -> None:
    login(cli, emu, "--scopes", "contact_data")
    data = cli.json("doctor")
    checks = {c["check"]: c for c in data["checks"]}
    assert checks["scopes"]["level"] == "warn"
    assert "missing account_read account_update campaign_data" in checks["scopes"]["detail"]
    assert checks["scopes"]["fix"].startswith("ctct auth login --profile default --scopes")


def test_doctor_fails_when_the_provider_is_unreachable(cli: Cli, emu: EmulatorHandle) -> None:
    proxy = Proxy(emu.base_url, lambda m, p, b: None)
    proxy.close()
    result = cli.run("doctor", CTCT_BASE_URL=proxy.base_url)
    assert result.returncode == 1
    assert "✗ reach token endpoint" in result.stdout
    assert "check the network" in result.stdout
