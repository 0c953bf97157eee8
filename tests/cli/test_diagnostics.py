"""Diagnostics that diagnose: ``ctct doctor`` checks the app's credentials, names a grant
filed under another client id, reports every bad setting and goes on, and changes
nothing; ``ctct config show`` prints what is in effect. The CLI runs as a subprocess
against the emulator over loopback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ctct.emulator.config import DEFAULT_CLIENT_ID
from ctct.testing import EmulatorHandle
from tests.cli.conftest import TRACEBACK, Cli, Proxy, login

OTHER_CLIENT = "0c6e0f9a-2b1d-4c3e-9f8a-7b6c5d4e3f2a"


def checks_of(result: Any) -> dict[str, list[dict[str, Any]]]:
    data = json.loads(result.stdout)
    checks: dict[str, list[dict[str, Any]]] = {}
    for check in data["checks"]:
        checks.setdefault(check["check"], []).append(check)
    return checks


def test_doctor_accepts_the_right_credentials(cli: Cli) -> None:
    result = cli.run("doctor", "--json")
    (credentials,) = checks_of(result)["credentials"]
    assert credentials["level"] == "ok", credentials
    assert "invalid_grant" in credentials["detail"]


def test_doctor_fails_on_a_wrong_client_secret(cli: Cli) -> None:
    result = cli.run("doctor", "--json", CTCT_CLIENT_SECRET="not-the-secret")
    assert result.returncode == 1, result.stdout
    (credentials,) = checks_of(result)["credentials"]
    assert credentials["level"] == "fail"
    assert "refused the client id and secret (invalid_client)" in credentials["detail"]
    assert "not-the-secret" not in result.stdout + result.stderr
    human = cli.run("doctor", CTCT_CLIENT_SECRET="not-the-secret")
    assert "✗ credentials" in human.stdout
    assert "0 failed" not in human.stdout


def test_doctor_fails_on_an_unknown_client_id(cli: Cli) -> None:
    result = cli.run("doctor", "--json", CTCT_CLIENT_ID=OTHER_CLIENT)
    assert result.returncode == 1
    assert checks_of(result)["credentials"][0]["level"] == "fail"


def test_a_grant_under_another_client_id_is_named(cli: Cli, emu: EmulatorHandle) -> None:
    login(cli, emu)
    hint = f"there is a grant for this profile under client id {DEFAULT_CLIENT_ID}"
    for command in (("auth", "token"), ("auth", "status"), ("api", "GET", "/account/summary")):
        result = cli.run(*command, CTCT_CLIENT_ID=OTHER_CLIENT, CTCT_NO_FAST_PATH="1")
        assert result.returncode == 4, (command, result.stderr)
        assert hint in result.stderr, (command, result.stderr)
        assert "#via=" not in result.stderr
    doctor = cli.run("doctor", "--json", CTCT_CLIENT_ID=OTHER_CLIENT)
    (grant,) = checks_of(doctor)["grant"]
    assert grant["level"] == "fail" and hint in grant["detail"]


def test_doctor_and_config_show_report_every_bad_setting_and_go_on(
    cli: Cli, tmp_path: Path
) -> None:
    unreadable = tmp_path / "secret-folder"  # unreadable as a file, even by root
    unreadable.mkdir()
    config = Path(cli.env["CTCT_CONFIG"])
    config.write_text(f'client_secret_file = "{unreadable}"\ntimeout = -3\n')
    env = {"CTCT_API_RATE": "fast"}
    del cli.env["CTCT_CLIENT_SECRET"]
    result = cli.run("doctor", "--json", **env)
    assert result.returncode == 1
    assert TRACEBACK not in result.stderr
    checks = checks_of(result)
    details = [c["detail"] for c in checks["settings"]]
    assert any(f"client secret file {unreadable}" in d for d in details), details
    assert any("timeout must be positive" in d for d in details), details
    assert any("CTCT_API_RATE must be a positive number" in d for d in details), details
    assert all(c["level"] == "fail" for c in checks["settings"])
    # ...and went on: the provider was reached with the rest of the settings.
    assert checks["reach JWKS"][0]["level"] == "ok"
    assert "grant" in checks or "store" in checks

    show = cli.run("config", "show", "--json", **env)
    assert show.returncode == 3, show.stderr
    data = json.loads(show.stdout)
    messages = [p["message"] for p in data["problems"]]
    assert len(messages) == 3, messages
    assert data["settings"]["timeout"] == 10.0  # left at its default
    human = cli.run("config", "show", **env)
    assert human.returncode == 3
    assert human.stderr.count("Error:") == 3, human.stderr
    assert "timeout" in human.stdout and "store_keyring" in human.stdout


def test_config_show_prints_what_is_in_effect(cli: Cli, tmp_path: Path) -> None:
    del cli.env["CTCT_STORE"]
    data = cli.json("config", "show", CTCT_API_RATE="10", CTCT_API_DAILY_QUOTA="250000")
    effective, sources = data["effective"], data["effective_sources"]
    state = Path(cli.env["XDG_STATE_HOME"])
    assert effective["store"] == f"sqlite://{state}/ctct/tokens.db"
    assert effective["scopes"] == [
        "account_read",
        "account_update",
        "contact_data",
        "campaign_data",
        "offline_access",
    ]
    assert sources["scopes"] == "default (the provider's)"
    assert effective["api_rate_per_second"] == 10.0
    assert effective["api_daily_quota"] == 250_000
    assert sources["api_daily_quota"] == "env CTCT_API_DAILY_QUOTA"
    assert effective["keyring"] is False and sources["keyring"] == "env CTCT_KEYRING"
    assert effective["store_keyring"] is False
    assert effective["store_key"] is None
    assert effective["fast_path"] is True and effective["debug"] is False
    keyed = cli.json("config", "show", CTCT_STORE_KEY="k" * 43)
    assert keyed["effective"]["store_key"] == "**********"
    assert "k" * 43 not in json.dumps(keyed)


def test_doctor_creates_nothing(cli: Cli, tmp_path: Path) -> None:
    home = tmp_path / "fresh"
    env = {
        **cli.env,
        "HOME": str(home / "home"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CACHE_HOME": str(home / "cache"),
    }
    for name in ("CTCT_STORE", "CTCT_CONFIG", "CTCT_KEYRING", "CTCT_STORE_KEYRING"):
        env.pop(name)
    fresh = Cli(env, cli.home)
    result = fresh.run("doctor", "--json")
    assert TRACEBACK not in result.stderr
    (store,) = checks_of(result)["store"]
    assert "does not exist yet" in store["detail"], store
    assert not home.exists(), sorted(str(p) for p in home.rglob("*"))
    show = fresh.run("config", "show")
    assert show.returncode == 0, show.stderr
    assert not home.exists()


# -- --json: always one document -----------------------------------------------------------


def test_json_errors_are_json_documents(cli: Cli) -> None:
    cases: list[tuple[tuple[str, ...], int, str]] = [
        (("auth", "refresh", "--json"), 4, "no_grant"),
        (("lists", "list", "--json"), 4, "no_grant"),
        (("auth", "list", "--json", "--bogus"), 2, "usage"),
        (("doctor", "--json", "--profile"), 2, "usage"),
    ]
    for args, exit_code, code in cases:
        result = cli.run(*args)
        assert result.returncode == exit_code, (args, result.stderr)
        error = json.loads(result.stdout)["error"]
        assert error["exit_code"] == exit_code, (args, error)
        assert error["code"] == code, (args, error)
        assert error["message"], (args, error)
        assert "Error" in result.stderr  # the person still reads it on stderr
    # A command that printed its own document on failure adds none.
    status = cli.run("auth", "status", "--json")
    assert status.returncode == 4
    data = json.loads(status.stdout)
    assert data["logged_in"] is False and data["error"]["code"] == "not_logged_in"
    # Without --json, stdout stays empty.
    assert cli.run("lists", "list").stdout == ""


def test_offline_status_does_not_claim_logged_out(cli: Cli, emu: EmulatorHandle) -> None:
    proxy = Proxy(emu.base_url, lambda m, p, b: None)
    cli.env["CTCT_BASE_URL"] = proxy.base_url
    login(cli, emu)
    proxy.close()
    result = cli.run("auth", "status", "--json")
    assert result.returncode == 12, result.stderr
    data = json.loads(result.stdout)
    assert data["logged_in"] is True, data
    assert data["provider_reachable"] is False
    assert data["error"]["exit_code"] == 12
    assert data["token"]["access_token_fingerprint"]
    human = cli.run("auth", "status")
    assert "logged in, but the provider could not be reached" in human.stdout
    assert "NetworkError" not in human.stdout + human.stderr
    assert "ConnectError" not in human.stdout + human.stderr
    assert "connection refused" in human.stdout + human.stderr


# -- messages: readable provider text, no internal names -----------------------------------

REQUEST_ID = "req-7f3c9a2e4b1d4e8fa6c05b9d3e2f1a0c"
TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
CONTACT = "1d2f3e4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a"


def test_provider_messages_keep_their_ids(cli: Cli, emu: EmulatorHandle) -> None:
    """Masking hides what ctct holds and JWT-shaped runs, nothing else: the request ids
    and UUIDs a provider quotes reach the person intact."""
    failing = {"token": False}

    def hook(method: str, path: str, body: bytes) -> tuple[int, bytes] | None:
        if failing["token"] and path.endswith("/token"):
            return 400, json.dumps(
                {
                    "error": "invalid_request",
                    "error_description": f"Grant {CONTACT} was revoked (request {REQUEST_ID}, "
                    f"trace {TRACE})",
                }
            ).encode()
        if path.startswith(f"/v3/contacts/{CONTACT}"):
            return 404, json.dumps(
                [
                    {
                        "error_key": "contacts.not_found",
                        "error_message": f"No contact {CONTACT} (request {REQUEST_ID})",
                    }
                ]
            ).encode()
        return None

    proxy = Proxy(emu.base_url, hook)
    try:
        cli.env["CTCT_BASE_URL"] = proxy.base_url
        login(cli, emu)
        api = cli.run("api", "GET", f"/contacts/{CONTACT}")
        assert api.returncode == 14, api.stderr
        assert f"No contact {CONTACT} (request {REQUEST_ID})" in api.stderr
        failing["token"] = True
        refreshed = cli.run("auth", "refresh", "--force")
        assert refreshed.returncode == 10, refreshed.stderr
        assert f"Grant {CONTACT} was revoked (request {REQUEST_ID}, trace {TRACE})" in (
            refreshed.stderr
        )
        assert "**********" not in api.stderr + refreshed.stderr
    finally:
        proxy.close()


def test_messages_name_no_internal_keys_or_exception_classes(cli: Cli, emu: EmulatorHandle) -> None:
    proxy = Proxy(emu.base_url, lambda m, p, b: None)
    cli.env["CTCT_BASE_URL"] = proxy.base_url
    proxy.close()
    outputs = [
        cli.run("auth", "token", CTCT_NO_FAST_PATH="1"),
        cli.run("auth", "status"),
        cli.run("doctor"),
        cli.run("api", "GET", "/account/summary"),
        cli.run("auth", "login", "--device", "--timeout", "5"),
    ]
    text = "".join(r.stdout + r.stderr for r in outputs)
    assert "Constant Contact via http://127.0.0.1" in text  # the readable name instead
    assert "#via=" not in text
    for name in ("ConnectError", "NetworkError", "HTTPError", "OSError", "Exception"):
        assert name not in text, name
    assert TRACEBACK not in text
