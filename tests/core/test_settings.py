"""The settings loader: precedence, profiles, secrets, malformed files, redaction."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ctct import _cc
from ctct._provider import Provider
from ctct._settings import Settings, default_config_path, redact_url_password
from ctct.errors import ConfigError

CONFIG = """\
client_id = "file-top-client"
store = "sqlite:///top.db"
timeout = 5
scopes = ["contact_data", "offline_access"]

[profiles.emulator]
base_url = "http://127.0.0.1:8765"
client_id = "file-profile-client"
redirect_uri = "http://127.0.0.1:8000/callback"

[profiles."staging"]
issuer = "https://id.staging.example/oauth2/abc"
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    return path


def test_precedence_arguments_env_file_defaults(config: Path) -> None:
    env = {"CTCT_CLIENT_ID": "env-client", "CTCT_TIMEOUT": "7.5", "CTCT_PROFILE": "emulator"}
    settings = Settings.load(env=env, config_path=config, client_id="flag-client", store=None)
    assert settings.client_id == "flag-client"  # argument beats env
    assert settings.timeout == 7.5  # env beats file
    assert settings.base_url == "http://127.0.0.1:8765"  # profile table
    assert settings.store == "sqlite:///top.db"  # file top level
    assert settings.leeway == 60.0  # default
    assert settings.scopes == ("contact_data", "offline_access")
    assert settings.profile == "emulator"
    assert settings.sources["client_id"] == "argument"
    assert settings.sources["timeout"] == "env CTCT_TIMEOUT"
    assert settings.sources["base_url"] == f"file {config} [profiles.emulator]"
    assert settings.sources["store"] == f"file {config}"
    assert settings.sources["leeway"] == "default"
    assert settings.sources["profile"] == "env CTCT_PROFILE"

    without_flag = Settings.load(env=env, config_path=config)
    assert without_flag.client_id == "env-client"
    without_env = Settings.load(env={"CTCT_PROFILE": "emulator"}, config_path=config)
    assert without_env.client_id == "file-profile-client"
    default_profile = Settings.load(env={}, config_path=config)
    assert default_profile.client_id == "file-top-client"
    assert default_profile.base_url is None
    assert default_profile.profile == "default"


def test_profile_argument_beats_env(config: Path) -> None:
    settings = Settings.load(
        env={"CTCT_PROFILE": "emulator"}, config_path=config, profile="staging"
    )
    assert settings.issuer == "https://id.staging.example/oauth2/abc"
    assert settings.needs_discovery
    assert settings.sources["profile"] == "argument"
    with pytest.raises(ConfigError, match="Profile 'nope' is not in"):
        Settings.load(env={}, config_path=config, profile="nope")


def test_config_path_from_env_and_platform_default(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert Settings.load(env={"CTCT_CONFIG": str(config)}).client_id == "file-top-client"
    with pytest.raises(ConfigError, match="does not exist"):
        Settings.load(env={"CTCT_CONFIG": str(tmp_path / "missing.toml")})
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert default_config_path() == tmp_path / "xdg" / "ctct" / "config.toml"
    assert Settings.load(env={}).config_path == default_config_path()  # absent: fine
    default_config_path().parent.mkdir(parents=True)
    default_config_path().write_text('client_id = "from-platform-dir"\n')
    assert Settings.load(env={}).client_id == "from-platform-dir"


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ('client_id = "a"\n\nstore = = 3\n', 3, "not valid TOML"),
        ('client_id = "a"\ncliend_id = "typo"\n', 2, "unknown setting 'cliend_id'"),
        ('client_id = "a"\n[profiles.x]\ntimeout = "soon"\n', 3, "timeout must be a number"),
        ("[profiles.x]\nbase_url = 8\n", 2, "base_url must be a str"),
        ("scopes = [1, 2]\n", 1, "scopes must be a list of strings"),
        ("profiles = 3\n", 1, "'profiles' must be a table"),
    ],
)
def test_malformed_config_names_file_and_line(
    tmp_path: Path, text: str, line: int, needle: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        Settings.load(env={}, config_path=path)
    assert str(path) in info.value.message
    assert f"line {line}" in info.value.message
    assert needle in info.value.message
    assert info.value.exit_code == 3


def test_client_secret_sources(tmp_path: Path, config: Path) -> None:
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text("secret-from-file\n")
    secret_file.chmod(0o600)
    from_env = Settings.load(env={"CTCT_CLIENT_SECRET": "secret-from-env"}, config_path=config)
    assert from_env.client_secret is not None
    assert from_env.client_secret.reveal() == "secret-from-env"
    from_file = Settings.load(env={"CTCT_CLIENT_SECRET_FILE": str(secret_file)}, config_path=config)
    assert from_file.client_secret is not None
    assert from_file.client_secret.reveal() == "secret-from-file"
    assert str(secret_file) in from_file.sources["client_secret"]
    # In the config file, a relative secret file is next to the config file.
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "app.secret").write_text("secret-beside-config")
    (tmp_path / "cfg" / "app.secret").chmod(0o600)
    (tmp_path / "cfg" / "config.toml").write_text('client_secret_file = "app.secret"\n')
    beside = Settings.load(env={}, config_path=tmp_path / "cfg" / "config.toml")
    assert beside.client_secret is not None
    assert beside.client_secret.reveal() == "secret-beside-config"
    # The environment's plain secret outranks the file's secret file.
    both = Settings.load(
        env={"CTCT_CLIENT_SECRET": "env-wins"}, config_path=tmp_path / "cfg" / "config.toml"
    )
    assert both.client_secret is not None
    assert both.client_secret.reveal() == "env-wins"


def test_bad_secret_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"the client secret file .* does not exist"):
        Settings.load(env={"CTCT_CLIENT_SECRET_FILE": str(tmp_path / "nope")})
    with pytest.raises(ConfigError, match="is not a regular file"):
        Settings.load(env={"CTCT_CLIENT_SECRET_FILE": str(tmp_path)})
    empty = tmp_path / "empty"
    empty.write_text("\n")
    empty.chmod(0o600)
    with pytest.raises(ConfigError, match="is empty"):
        Settings.load(env={"CTCT_CLIENT_SECRET_FILE": str(empty)})


def test_redacted_and_repr_hide_secrets(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings.load(
        env={
            "CTCT_CLIENT_ID": "my-client",
            "CTCT_CLIENT_SECRET": "very-secret-value",
            "CTCT_STORE": "postgresql://ctct:db-password@db.example/ctct",
        },
        config_path=None,
    )
    shown = settings.redacted()
    assert shown["client_secret"] == "**********"
    assert shown["client_id"] == "my-client"
    assert shown["store"] == "postgresql://ctct:**********@db.example/ctct"
    assert shown["profile"] == "default"
    for text in (repr(settings), str(settings), f"{settings}", repr(shown)):
        assert "very-secret-value" not in text
        assert "db-password" not in text
    assert "my-client" in repr(settings)
    assert redact_url_password("sqlite:///x.db") == "sqlite:///x.db"


def test_invalid_values_say_why_and_where() -> None:
    with pytest.raises(ConfigError) as info:
        Settings.load(env={"CTCT_BASE_URL": "http://emulator.lan:8765"})
    assert "plain http" in info.value.message
    assert "env CTCT_BASE_URL" in info.value.message
    with pytest.raises(ConfigError, match="must be a number"):
        Settings.load(env={"CTCT_LEEWAY": "lots"})
    with pytest.raises(ConfigError, match="one or the other"):
        Settings.load(
            env={"CTCT_BASE_URL": "http://127.0.0.1:1", "CTCT_ISSUER": "https://x.example"}
        )
    with pytest.raises(ConfigError, match="access_token_format"):
        Settings.load(env={"CTCT_ACCESS_TOKEN_FORMAT": "paper"})
    with pytest.raises(ConfigError, match="token endpoint"):
        Settings.load(env={"CTCT_TOKEN_ENDPOINT": "http://auth.example/token"})
    with pytest.raises(TypeError, match="unknown settings"):
        Settings.load(env={}, colour="blue")


def test_scopes_from_env() -> None:
    assert Settings.load(env={"CTCT_SCOPES": "a b,c"}).scopes == ("a", "b", "c")


def test_provider_from_settings() -> None:
    assert Settings.load(env={}).provider() == Provider.constant_contact()
    emulator = Settings.load(env={"CTCT_BASE_URL": "http://127.0.0.1:8765"}).provider()
    assert emulator.token_endpoint == "http://127.0.0.1:8765" + _cc.TOKEN_PATH
    assert emulator.storage_issuer != Provider.constant_contact().storage_issuer
    # CC's own issuer needs no discovery (CC publishes no discovery document).
    named_cc = Settings.load(env={"CTCT_ISSUER": _cc.ISSUER})
    assert not named_cc.needs_discovery
    assert named_cc.provider() == Provider.constant_contact()
    explicit = Settings.load(
        env={
            "CTCT_ISSUER": "https://id.example",
            "CTCT_TOKEN_ENDPOINT": "https://id.example/token",
            "CTCT_ACCESS_TOKEN_FORMAT": "opaque",
        }
    ).provider()
    assert explicit.token_endpoint == "https://id.example/token"
    assert explicit.access_token_format == "opaque"
    with pytest.raises(ConfigError, match="issuer is not"):
        Settings.load(env={"CTCT_TOKEN_ENDPOINT": "https://id.example/token"}).provider()
    with pytest.raises(ConfigError, match="discovered"):
        Settings.load(env={"CTCT_ISSUER": "https://id.example"}).provider()


def test_base_url_conflicts_with_explicit_endpoints() -> None:
    with pytest.raises(ConfigError, match="token_endpoint is also set"):
        Settings.load(
            env={
                "CTCT_BASE_URL": "http://127.0.0.1:1",
                "CTCT_TOKEN_ENDPOINT": "https://id.example/token",
            }
        )


def test_client_credentials() -> None:
    public = Settings.load(env={"CTCT_CLIENT_ID": "app-1"}).client_credentials()
    assert public.client_id == "app-1"
    assert not public.confidential
    confidential = Settings.load(
        env={"CTCT_CLIENT_ID": "app-1", "CTCT_CLIENT_SECRET": "s3cret-value"}
    ).client_credentials()
    assert confidential.confidential
    assert "s3cret-value" not in repr(confidential)
    with pytest.raises(ConfigError, match="CTCT_CLIENT_ID"):
        Settings.load(env={}).client_credentials()


def test_ccs_three_hosts_pkce_and_redirect_port() -> None:
    env = {
        "CTCT_AUTH_URL": "http://127.0.0.1:7717",
        "CTCT_IDENTITY_URL": "http://127.0.0.1:7718",
        "CTCT_API_URL": "http://127.0.0.1:7719",
        "CTCT_PKCE": "always",
        "CTCT_REDIRECT_PORT": "8123",
    }
    settings = Settings.load(env=env, config_path=None)
    provider = settings.provider()
    assert provider.token_endpoint == "http://127.0.0.1:7717" + _cc.TOKEN_PATH
    assert provider.jwks_uri == "http://127.0.0.1:7718" + _cc.JWKS_PATH
    assert provider.api_base_url == "http://127.0.0.1:7719/v3"
    assert provider.pkce == "always"
    assert settings.login_redirect_uri() == "http://127.0.0.1:8123/callback"
    assert Settings.load(env={}).provider().pkce == "auto"
    with_uri = Settings.load(
        env={"CTCT_REDIRECT_URI": "http://127.0.0.1/done", "CTCT_REDIRECT_PORT": "9000"}
    )
    assert with_uri.login_redirect_uri() == "http://127.0.0.1:9000/done"


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"CTCT_PKCE": "sometimes"}, "pkce must be one of auto, always, never"),
        ({"CTCT_REDIRECT_PORT": "http"}, "redirect_port must be a whole number"),
        ({"CTCT_REDIRECT_PORT": "70000"}, "redirect_port must be a port number"),
        (
            {"CTCT_REDIRECT_PORT": "8000", "CTCT_REDIRECT_URI": "http://127.0.0.1:9000/cb"},
            "differs from the port of redirect_uri",
        ),
        ({"CTCT_API_URL": "http://example.com"}, "CTCT_API_URL"),
        ({"CTCT_AUTH_URL": "http://127.0.0.1:1", "CTCT_ISSUER": "https://x.example"}, "issuer"),
        (
            {"CTCT_AUTH_URL": "http://127.0.0.1:1", "CTCT_JWKS_URI": "https://x.example/k"},
            "jwks_uri",
        ),
    ],
)
def test_bad_host_pkce_and_port_settings(env: dict[str, str], says: str) -> None:
    with pytest.raises(ConfigError, match=says) as caught:
        Settings.load(env=env, config_path=None)
    assert "(from env CTCT_" in caught.value.message or "CTCT_" in caught.value.message


def test_redirect_port_in_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('redirect_port = 8123\npkce = "never"\n')
    settings = Settings.load(env={}, config_path=path)
    assert settings.redirect_port == 8123 and settings.pkce_mode == "never"
    path.write_text('redirect_port = "8123"\n')
    with pytest.raises(ConfigError, match="redirect_port must be a whole number"):
        Settings.load(env={}, config_path=path)


@pytest.mark.parametrize("key", ["refresh_margin", "leeway", "timeout"])
@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "NaN", "Infinity"])
def test_nan_and_infinity_are_refused_for_every_number_setting(
    tmp_path: Path, key: str, text: str
) -> None:
    # safety: src/ctct/_settings.py: yield key, ConfigError(_not_finite(key, value, where(key)))
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    with pytest.raises(ConfigError) as from_env:
        Settings.load(env={f"CTCT_{key.upper()}": text}, config_path=empty)
    assert f"{key} must be a finite number" in from_env.value.message
    assert f"env CTCT_{key.upper()}" in from_env.value.message
    # TOML has its own nan and inf literals; a real file on disk.
    config = tmp_path / "config.toml"
    config.write_text(f"{key} = {text.lower().replace('infinity', 'inf')}\n")
    with pytest.raises(ConfigError) as from_file:
        Settings.load(env={}, config_path=config)
    assert f"{key} must be a finite number" in from_file.value.message
    assert str(config) in from_file.value.message
    arguments: dict[str, Any] = {key: float(text)}
    with pytest.raises(ConfigError, match=f"{key} must be a finite number"):
        Settings.load(env={}, config_path=empty, **arguments)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644, 0o610])
def test_a_client_secret_file_open_to_others_is_refused_like_the_store_key_file(
    tmp_path: Path, mode: int
) -> None:
    secret_file = tmp_path / "client-secret"
    secret_file.write_text("the-client-secret\n")
    secret_file.chmod(mode)
    config = tmp_path / "config.toml"
    config.write_text('client_secret_file = "client-secret"\n')
    for env in ({"CTCT_CLIENT_SECRET_FILE": str(secret_file)}, {}):
        # safety: src/ctct/_private_file.py: raise ConfigError(_open_to_others(what, path, info.st_mode))  # noqa: E501
        with pytest.raises(ConfigError) as info:
            Settings.load(env=env, config_path=config)
        message = info.value.message
        assert f"the client secret file {secret_file} is accessible by group or others" in message
        assert f"mode {mode:04o}" in message and f"chmod 600 {secret_file}" in message
        assert "the-client-secret" not in message
        assert info.value.exit_code == 3
    secret_file.chmod(0o600)
    loaded = Settings.load(env={}, config_path=config)
    assert loaded.client_secret is not None
    assert loaded.client_secret.reveal() == "the-client-secret"
