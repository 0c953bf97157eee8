"""``ctct emulator``: serve a local Constant Contact in the foreground until Ctrl-C.

Prints where it listens, the default app's test credentials, the users and their
passwords, and the ``export`` line that points ctct at it. ``--json`` also prints one
JSON line (on stdout; the human-readable part then goes to stderr) and ``--ready-file``
writes the same JSON to a file once the port accepts connections, so scripts and tests
learn the port chosen by ``--port 0``.

``--strict`` turns every behaviour CC's documentation leaves unconfirmed to its strict
side (``ctct.emulator.strict``); ``--split-hosts`` serves CC's three hosts on three ports
(``ctct.emulator.hosts``).

Exit codes: 0 stopped by Ctrl-C/SIGTERM; 1 could not start (e.g. port in use);
2 bad flags or config file; 3 a non-loopback ``--host`` without ``--allow-remote``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import click

from ctct import _cc
from ctct.cli._types import Seconds
from ctct.errors import ConfigError

if TYPE_CHECKING:
    from ctct.emulator.config import EmulatorConfig, RefreshTokenType

DEFAULT_PORT = 7717
# Addresses meaning "every interface": no client sends them as its Host header.
WILDCARD_HOSTS = ("0.0.0.0", "::", "")  # noqa: S104 - compared against, never bound here


@dataclass(frozen=True)
class Settings:
    """The flags that shape the emulator's configuration (None: keep the default)."""

    config_file: Path | None = None
    data: Path | None = None
    client_id: str | None = None
    client_secret: str | None = None
    redirect_uris: tuple[str, ...] = ()
    public_client: bool = False
    default_user: str | None = None
    refresh_tokens: str | None = None
    access_token_ttl: int | None = None
    code_ttl: int | None = None
    refresh_token_idle_ttl: int | None = None
    refresh_token_reuse: str | None = None
    refresh_token_grace: int | None = None
    reject_client_secret_post: bool = False
    reject_pkce_confidential: bool = False
    strict_loopback_ports: bool = False
    require_state: bool = False
    strict: bool = False
    split_hosts: bool = False
    device_interval: int | None = None
    device_expires_in: int | None = None
    auto_approve: bool = False
    api_rate: float | None = None
    api_daily_quota: int | None = None
    token_rate: float | None = None
    allowed_hosts: tuple[str, ...] = ()
    provider: str | None = None
    access_tokens: str | None = None


# Flags that map one-to-one onto an EmulatorConfig field.
_FIELDS = {
    "access_token_ttl": "access_token_ttl",
    "code_ttl": "authorization_code_ttl",
    "refresh_token_idle_ttl": "refresh_token_idle_ttl",
    "refresh_token_reuse": "refresh_token_reuse",
    "refresh_token_grace": "refresh_token_grace_seconds",
    "device_interval": "device_poll_interval",
    "device_expires_in": "device_code_ttl",
    "api_rate": "api_rate_per_second",
    "api_daily_quota": "api_daily_quota",
    "token_rate": "token_rate_per_second",
    "default_user": "default_username",
    "provider": "provider",
    "access_tokens": "access_token_format",
}
# Flags that switch off a behaviour that is on by default.
_OFF_SWITCHES = {
    "reject_client_secret_post": "allow_client_secret_post",
    "reject_pkce_confidential": "allow_pkce_for_confidential",
    "strict_loopback_ports": "loopback_redirect_any_port",
}


def build_config(settings: Settings) -> EmulatorConfig:
    """The emulator's configuration: defaults, then ``--config``, then the other flags."""
    from ctct.emulator.config import EmulatorConfig, load_config_file

    config = EmulatorConfig()
    if settings.config_file is not None:
        try:
            config = load_config_file(settings.config_file, config)
        except (OSError, ValueError, TypeError) as exc:
            message = str(exc)
            if str(settings.config_file) not in message:
                message = f"{settings.config_file}: {message}"
            raise click.BadParameter(message, param_hint="--config") from None
    changes: dict[str, Any] = {}
    for flag, field in _FIELDS.items():
        value = getattr(settings, flag)
        if value is not None:
            changes[field] = value
    for flag, field in _OFF_SWITCHES.items():
        if getattr(settings, flag):
            changes[field] = False
    for switch in ("auto_approve", "require_state", "strict", "split_hosts"):
        if getattr(settings, switch):
            changes[switch] = True
    if settings.data is not None:
        changes["data_path"] = settings.data
    if settings.allowed_hosts:
        changes["allowed_hosts"] = (*config.allowed_hosts, *settings.allowed_hosts)
    changes["apps"] = _apps(config, settings)
    config = config.with_changes(**changes)
    _check_provider(config)
    if config.user(config.default_username) is None:
        known = ", ".join(u.username for u in config.users)
        raise click.BadParameter(
            f"no user {config.default_username!r}; configured users: {known}",
            param_hint="--default-user",
        )
    return config


def _check_provider(config: EmulatorConfig) -> None:
    from ctct.emulator.generic import check_config

    try:
        check_config(config)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--access-tokens / --provider") from None


def _apps(config: EmulatorConfig, settings: Settings) -> tuple[Any, ...]:
    default = config.default_app
    changes: dict[str, Any] = {}
    if settings.client_id is not None:
        if not settings.client_id.strip():
            raise click.BadParameter("must not be empty", param_hint="--client-id")
        others = {a.client_id for a in config.apps[1:]}
        if settings.client_id in others:
            raise click.BadParameter(
                f"{settings.client_id!r} is already another app's client_id",
                param_hint="--client-id",
            )
        changes["client_id"] = settings.client_id
    if settings.public_client and settings.client_secret is not None:
        raise click.UsageError("--public-client and --client-secret contradict each other")
    if settings.client_secret is not None:
        if not settings.client_secret:
            raise click.BadParameter("must not be empty", param_hint="--client-secret")
        changes["client_secret"] = settings.client_secret
    if settings.public_client:
        changes["client_secret"] = None
    if settings.redirect_uris:
        for uri in settings.redirect_uris:
            _check_redirect_uri(uri)
        changes["redirect_uris"] = settings.redirect_uris
    apps = (replace(default, **changes), *config.apps[1:])
    if settings.refresh_tokens is not None:
        kind = cast("RefreshTokenType", settings.refresh_tokens)
        apps = tuple(replace(app, refresh_token_type=kind) for app in apps)
    return apps


def _check_redirect_uri(uri: str) -> None:
    parts = urlsplit(uri)
    if not parts.scheme or not (parts.netloc or parts.path):
        raise click.BadParameter(
            f"{uri!r} is not an absolute URI, e.g. http://127.0.0.1:8000/callback",
            param_hint="--redirect-uri",
        )
    if parts.fragment:
        raise click.BadParameter(
            f"{uri!r} has a #fragment, which a redirect URI must not have (RFC 6749 3.1.2)",
            param_hint="--redirect-uri",
        )


def check_host(host: str, allow_remote: bool) -> None:
    from ctct.emulator.server import is_loopback

    if not is_loopback(host) and not allow_remote:
        raise ConfigError(
            f"refusing to listen on {host}: the emulator's control API has no authentication "
            "and its credentials are public test values. Use --host 127.0.0.1, or add "
            "--allow-remote if other machines must reach it."
        )


@click.command("emulator")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="Port to listen on; 0 picks any free port.",
)
@click.option(
    "--allow-remote", is_flag=True, help="Allow a --host other machines can reach (no auth!)."
)
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    metavar="NAME",
    help="Another Host header to answer to (e.g. this machine's name), with --allow-remote.",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="TOML or JSON file with [[apps]], [[users]] and settings.",
)
@click.option(
    "--data",
    type=click.Path(dir_okay=False, path_type=Path),
    help="SQLite file keeping grants, keys, account data and the clock across restarts.",
)
@click.option("--client-id", metavar="ID", help="The default app's client_id.")
@click.option("--client-secret", metavar="SECRET", help="The default app's client_secret.")
@click.option(
    "--redirect-uri",
    "redirect_uris",
    multiple=True,
    metavar="URI",
    help="The default app's redirect URIs (repeat for several).",
)
@click.option("--public-client", is_flag=True, help="Register the default app without a secret.")
@click.option("--default-user", metavar="USERNAME", help="Who auto-approval signs in as.")
@click.option(
    "--refresh-tokens",
    type=click.Choice(["rotating", "long-lived"]),
    help="Refresh token type of the apps (CC's per-app setting).  [default: rotating]",
)
@click.option(
    "--access-token-ttl",
    type=click.IntRange(1),
    metavar="SECONDS",
    help=f"Access token lifetime.  [default: {_cc.ACCESS_TOKEN_TTL}]",
)
@click.option(
    "--code-ttl",
    type=click.IntRange(1),
    metavar="SECONDS",
    help=f"Authorization code lifetime.  [default: {_cc.AUTHORIZATION_CODE_TTL}]",
)
@click.option(
    "--refresh-token-idle-ttl",
    type=click.IntRange(1),
    metavar="SECONDS",
    help="A refresh token unused this long expires.  "
    f"[default: {_cc.REFRESH_TOKEN_IDLE_TTL} ({_cc.REFRESH_TOKEN_IDLE_TTL // 86_400} days)]",
)
@click.option(
    "--refresh-token-reuse",
    type=click.Choice(["token", "grant"]),
    help="Reusing a rotated refresh token kills that token, or the whole grant (Okta)."
    "  [default: token]",
)
@click.option(
    "--refresh-token-grace",
    type=click.IntRange(0, 3600),
    metavar="SECONDS",
    help="A rotated refresh token still works this long.  [default: 0]",
)
@click.option(
    "--reject-client-secret-post",
    is_flag=True,
    help="Accept client credentials only as HTTP Basic.",
)
@click.option(
    "--reject-pkce-confidential",
    is_flag=True,
    help="Refuse PKCE parameters from apps that have a secret.",
)
@click.option(
    "--strict-loopback-ports",
    is_flag=True,
    help="Loopback redirect URIs must match the port too (no RFC 8252 any-port rule).",
)
@click.option(
    "--require-state",
    is_flag=True,
    help="Refuse authorization requests without a state parameter (Okta does).",
)
@click.option(
    "--strict",
    is_flag=True,
    help="CC's strictest plausible behaviour where it is unconfirmed: exact loopback "
    "ports, state required, HTTP Basic only, no PKCE from apps with a secret, reusing "
    "a rotated refresh token revokes the grant. Run your CI once with it.",
)
@click.option(
    "--split-hosts",
    is_flag=True,
    help="Serve CC's three hosts on three ports: the authorization server (--port, also "
    "the control API), the identity host with the JWKS (--identity-port) and the V3 API "
    "(--api-port).",
)
@click.option(
    "--identity-port",
    type=click.IntRange(0, 65535),
    metavar="PORT",
    help="With --split-hosts: the identity host's port.  [default: --port + 1, or any "
    "free port with --port 0]",
)
@click.option(
    "--api-port",
    type=click.IntRange(0, 65535),
    metavar="PORT",
    help="With --split-hosts: the V3 API's port.  [default: --port + 2, or any free port "
    "with --port 0]",
)
@click.option(
    "--device-interval",
    type=click.IntRange(0),
    metavar="SECONDS",
    help=f"Device flow: minimum time between polls.  [default: {_cc.DEVICE_POLL_INTERVAL}]",
)
@click.option(
    "--device-expires-in",
    type=click.IntRange(1),
    metavar="SECONDS",
    help=f"Device flow: device code lifetime.  [default: {_cc.DEVICE_CODE_TTL}]",
)
@click.option(
    "--auto-approve", is_flag=True, help="Approve every login at once as the default user."
)
@click.option(
    "--api-rate",
    type=Seconds(0, min_open=True),
    metavar="PER_SECOND",
    help=f"V3 API requests per second per app.  [default: {_cc.API_RATE_PER_SECOND:g}]",
)
@click.option(
    "--api-daily-quota",
    type=click.IntRange(0),
    metavar="N",
    help=f"V3 API requests per app per UTC day.  [default: {_cc.API_DAILY_QUOTA}]",
)
@click.option(
    "--token-rate",
    type=Seconds(0, min_open=True),
    metavar="PER_SECOND",
    help=f"Token endpoint requests per second per app.  [default: {_cc.TOKEN_RATE_PER_SECOND:g}]",
)
@click.option(
    "--provider",
    type=click.Choice(["constant-contact", "generic"]),
    help="Be Constant Contact, or a generic OAuth 2 / OpenID Connect provider found by "
    "discovery (CTCT_ISSUER).  [default: constant-contact]",
)
@click.option(
    "--access-tokens",
    type=click.Choice(["jwt", "opaque"]),
    help="With --provider generic: RFC 9068 JWT access tokens, or opaque random strings."
    "  [default: jwt]",
)
@click.option("--json", "as_json", is_flag=True, help="Also print one JSON line when ready.")
@click.option(
    "--ready-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the JSON there once ready (removed on exit).",
)
def emulator(
    host: str,
    port: int,
    allow_remote: bool,
    as_json: bool,
    ready_file: Path | None,
    identity_port: int | None,
    api_port: int | None,
    **flags: Any,
) -> None:
    """Run a local Constant Contact (OAuth2 server + V3 API) until Ctrl-C.

    Everything it prints is test data: the default app's credentials and the users'
    passwords are meant to be pasted into your app's settings.
    """
    check_host(host, allow_remote)
    if not _is_wildcard(host):
        # Clients name this host in their Host header (e.g. 127.0.0.2, or this machine's
        # address with --allow-remote): answer to it.
        bare = host.strip("[]").lower()
        flags["allowed_hosts"] = (*flags["allowed_hosts"], f"[{bare}]" if ":" in bare else bare)
    config = build_config(Settings(**flags))
    ports = split_ports(config.split_hosts, port, identity_port, api_port)
    if config.data_path is not None:
        config.data_path.parent.mkdir(parents=True, exist_ok=True)
    from ctct.cli.emulator_serve import serve

    serve(config, host=host, port=port, as_json=as_json, ready_file=ready_file, ports=ports)


def split_ports(
    split: bool, port: int, identity_port: int | None, api_port: int | None
) -> tuple[int, ...]:
    """The ports to listen on: ``(port,)``, or the three of ``--split-hosts``."""
    if not split:
        for value, flag in ((identity_port, "--identity-port"), (api_port, "--api-port")):
            if value is not None:
                raise click.UsageError(f"{flag} needs --split-hosts")
        return (port,)

    def default(offset: int) -> int:
        if port == 0:
            return 0
        if port + offset > 65535:
            raise click.UsageError(
                f"--port {port} leaves no room for the ports after it: set --identity-port "
                "and --api-port"
            )
        return port + offset

    identity = default(1) if identity_port is None else identity_port
    api = default(2) if api_port is None else api_port
    chosen = [p for p in (port, identity, api) if p != 0]
    if len(set(chosen)) != len(chosen):
        raise click.UsageError(
            f"--split-hosts needs three different ports, got {port}, {identity} and {api}"
        )
    return (port, identity, api)


def _is_wildcard(host: str) -> bool:
    return host.strip("[]") in WILDCARD_HOSTS
