"""Every expected failure: one clear message, its own exit code, no traceback (and
``--debug`` shows one, still without secrets)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctct.emulator.config import DEFAULT_CLIENT_SECRET
from ctct.testing import EmulatorHandle
from tests.cli.conftest import TRACEBACK, Cli, isolated_env, login


@pytest.fixture
def bare(tmp_path: Path) -> Cli:
    """The CLI with no emulator and nothing configured."""
    return Cli(isolated_env(tmp_path), tmp_path)


@pytest.mark.parametrize(
    "args",
    [
        ("auth", "login", "--client-secret", "s3cret-value"),
        ("auth", "status", "--client-secret=s3cret-value"),
        ("auth", "token", "--client-secret", "s3cret-value"),
        ("auth", "import", "--client-secret", "s3cret-value"),
        ("auth", "--client-secret", "s3cret-value", "list"),
        ("config", "show", "--client-secret", "s3cret-value"),
        ("config", "--client-secret", "s3cret-value", "show"),
        ("auth", "logout", "--client-secret"),
    ],
)
def test_client_secret_flag_is_refused_with_the_reason(bare: Cli, args: tuple[str, ...]) -> None:
    result = bare.run(*args)
    assert result.returncode == 2
    assert "--client-secret is not accepted on the command line" in result.stderr
    assert "shell history" in result.stderr
    assert "CTCT_CLIENT_SECRET" in result.stderr
    assert "s3cret-value" not in result.stderr + result.stdout
    assert TRACEBACK not in result.stderr


def test_the_emulator_takes_its_test_secret_as_a_flag(bare: Cli) -> None:
    result = bare.run("emulator", "--help")
    assert result.returncode == 0
    assert "--client-secret" in result.stdout


def test_malformed_config_file_exit_3(bare: Cli) -> None:
    Path(bare.env["CTCT_CONFIG"]).write_text('client_id = "abc"\ntimeout = [oops\n')
    for args in (("auth", "status"), ("auth", "token"), ("config", "show")):
        result = bare.run(*args)
        assert result.returncode == 3, (args, result.stderr)
        assert "not valid TOML" in result.stderr
        assert "Fix that line" in result.stderr
        assert TRACEBACK not in result.stderr
    # The doctor reports it as one failed check and goes on with the others.
    doctor = bare.run("doctor")
    assert doctor.returncode == 1, doctor.stderr
    assert "✗ settings:" in doctor.stdout and "Fix that line" in doctor.stdout
    assert TRACEBACK not in doctor.stderr


def test_unknown_setting_in_config_names_the_line(bare: Cli) -> None:
    Path(bare.env["CTCT_CONFIG"]).write_text('client_id = "abc"\n\nclient_sercet = "x"\n')
    result = bare.run("auth", "status")
    assert result.returncode == 3
    assert "line 3: unknown setting 'client_sercet'" in result.stderr


def test_missing_config_file_named_by_ctct_config(bare: Cli, tmp_path: Path) -> None:
    result = bare.run("config", "show", CTCT_CONFIG=str(tmp_path / "nope.toml"))
    assert result.returncode == 3
    assert "does not exist" in result.stderr


def test_no_client_id_exit_3(bare: Cli) -> None:
    result = bare.run("auth", "login", "--device")
    assert result.returncode == 3
    assert "CTCT_CLIENT_ID" in result.stderr
    assert TRACEBACK not in result.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CTCT_ISSUER", "http://auth.example.com"),
        ("CTCT_BASE_URL", "http://cc.example.com"),
    ],
)
def test_plain_http_off_loopback_is_refused(bare: Cli, variable: str, value: str) -> None:
    env = {"CTCT_CLIENT_ID": "abc", variable: value}
    for args in (("auth", "status"), ("auth", "login", "--device"), ("auth", "token")):
        result = bare.run(*args, **env)
        assert result.returncode == 3, (args, result.stderr)
        assert "plain http to a non-loopback host" in result.stderr
        assert "Use https" in result.stderr
        assert TRACEBACK not in result.stderr


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("sqlite:///", "names no file"),
        ("sqlite:////", "names no file"),
        ("sqlite:///srv/ctct/", "ends with '/'"),
        ("sqlite:///srv/tokens.db?mode=ro", "has a query or fragment"),
        ("redis://:hunter2@[::1", "not a valid URL"),
        ("postgresql://u:hunter2@[db.example/ctct", "not a valid URL"),
        ("redis://localhost:port/0", "not a valid URL"),
    ],
)
def test_edge_store_urls_get_a_message_not_an_unexpected_error(
    bare: Cli, url: str, says: str
) -> None:
    for args in (("auth", "status"), ("auth", "token")):
        result = bare.run(*args, CTCT_CLIENT_ID="abc", CTCT_STORE=url)
        assert result.returncode == 3, (args, result.stderr)
        assert says in result.stderr, (args, result.stderr)
        assert "unexpected" not in result.stderr and TRACEBACK not in result.stderr
        assert "hunter2" not in result.stderr + result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("auth", "token", "--min-valid", "nan"),
        ("auth", "token", "--min-valid", "inf"),
        ("auth", "login", "--device", "--timeout", "inf"),
        ("emulator", "--api-rate", "nan"),
    ],
)
def test_nan_and_infinite_seconds_flags_are_usage_errors(bare: Cli, args: tuple[str, ...]) -> None:
    result = bare.run(*args, CTCT_CLIENT_ID="abc")
    assert result.returncode == 2, result.stderr
    assert "is not a finite number" in result.stderr and TRACEBACK not in result.stderr


def test_network_failure_exit_12(bare: Cli) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = bare.run(
        "auth",
        "login",
        "--device",
        CTCT_CLIENT_ID="abc",
        CTCT_BASE_URL=f"http://127.0.0.1:{port}",
    )
    assert result.returncode == 12, result.stderr
    assert "Could not reach" in result.stderr
    assert "check the network" in result.stderr
    assert TRACEBACK not in result.stderr


def test_provider_error_exit_10(cli: Cli, emu: EmulatorHandle) -> None:
    result = cli.run("auth", "login", "--device", "--scopes", "no_such_scope")
    assert result.returncode == 10, result.stderr
    assert "invalid_scope" in result.stderr
    assert TRACEBACK not in result.stderr


def test_client_rejected_exit_5(cli: Cli, emu: EmulatorHandle) -> None:
    result = cli.run("auth", "login", "--device", CTCT_CLIENT_SECRET="wrong-secret")
    assert result.returncode == 5, result.stderr
    assert "refused this app's credentials (invalid_client)" in result.stderr
    assert "wrong-secret" not in result.stderr


def test_transient_provider_error_exit_11(cli: Cli, emu: EmulatorHandle) -> None:
    login(cli, emu)
    before = cli.stored()
    emu.inject_fault("token", "503", count=5)
    result = cli.run("auth", "refresh", "--force")
    assert result.returncode == 11, result.stderr
    assert "Could not refresh profile 'default' now" in result.stderr
    assert "The current access token stays in use" in result.stderr
    assert cli.stored() == before


def test_store_error_exit_13(cli: Cli, emu: EmulatorHandle) -> None:
    from ctct.stores import generate_key

    login(cli, emu)
    encrypted_key = generate_key()
    # Under a key, an unencrypted record is refused (it could have been planted) ...
    plain = cli.run("auth", "status", CTCT_STORE_KEY=encrypted_key)
    assert plain.returncode == 13, plain.stderr
    assert "is not encrypted, but a store key is configured" in plain.stderr
    cli.env["CTCT_STORE_KEY"] = encrypted_key
    # ... until the operator adopts it: now sealed with that key.
    assert cli.run("store", "rekey").returncode == 0
    assert cli.run("auth", "status").returncode == 0
    wrong = cli.run("auth", "token", CTCT_STORE_KEY=generate_key())
    assert wrong.returncode == 13, wrong.stderr
    assert "store key" in wrong.stderr
    assert encrypted_key not in wrong.stderr
    assert TRACEBACK not in wrong.stderr


def test_debug_shows_a_traceback_without_secrets(cli: Cli, emu: EmulatorHandle) -> None:
    result = cli.run("auth", "token", "--debug")
    assert result.returncode == 4
    assert TRACEBACK in result.stderr
    assert "Error: No stored grant for profile 'default'" in result.stderr
    assert DEFAULT_CLIENT_SECRET not in result.stderr
    env_debug = cli.run("auth", "status", CTCT_DEBUG="1")
    assert TRACEBACK in env_debug.stderr


def test_usage_errors_exit_2(bare: Cli) -> None:
    result = bare.run("auth", "login", "--device", "--browser", "--bogus")
    assert result.returncode == 2
    assert "No such option '--bogus'" in result.stderr


def test_config_errors_leave_the_stored_grant_intact(cli: Cli, emu: EmulatorHandle) -> None:
    login(cli, emu)
    before = cli.stored()
    assert before is not None
    config = Path(cli.env["CTCT_CONFIG"])
    config.write_text("[profiles\n")
    for args in (("auth", "login", "--device"), ("auth", "logout"), ("auth", "refresh")):
        result = cli.run(*args)
        assert result.returncode == 3, (args, result.stderr)
        assert "not valid TOML" in result.stderr
    config.write_text("")
    insecure = cli.run("auth", "login", "--device", CTCT_BASE_URL="http://cc.example.com")
    assert insecure.returncode == 3
    assert "plain http to a non-loopback host" in insecure.stderr
    assert cli.stored() == before
    assert cli.run("auth", "token").returncode == 0
