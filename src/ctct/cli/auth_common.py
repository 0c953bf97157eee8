"""What the ``ctct auth``, ``config`` and ``doctor`` commands share: the settings flags,
loading settings (``ctct._settings.Settings.load``, flags passed straight through), the
client secret from the keyring, and building a ``TokenManager``.

The client secret is never a flag: a hidden ``--client-secret`` exists only to refuse
it with the reason (see ``ctct.cli._errors.SECRET_FLAG_REFUSAL``).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from ctct.cli._errors import secret_flag_refused

if TYPE_CHECKING:
    import httpx2

    from ctct._manager import TokenManager
    from ctct._provider import Provider
    from ctct._settings import Settings
    from ctct.errors import ConfigError

F = TypeVar("F", bound=Callable[..., Any])

KEYRING_SERVICE = "ctct"
KEYRING_SECRET_USER = "client-secret"
KEYRING_TIMEOUT = 2.0
SETTING_FLAGS = ("profile", "config", "client_id", "base_url", "issuer", "store")


def settings_options(function: F) -> F:
    """The flags every command that reads settings accepts (all optional)."""
    decorators: list[Callable[[Any], Any]] = [
        click.option(
            "--profile",
            "-p",
            metavar="NAME",
            help="Which connected account (profile) to use.  [env: CTCT_PROFILE; default: default]",
        ),
        click.option(
            "--config",
            "config",
            metavar="PATH",
            help="The config file.  [env: CTCT_CONFIG; default: config.toml in the user "
            "config dir]",
        ),
        click.option(
            "--client-id", metavar="ID", help="Your app's API key.  [env: CTCT_CLIENT_ID]"
        ),
        click.option(
            "--base-url",
            metavar="URL",
            help="Point Constant Contact's hosts at one origin, e.g. a `ctct emulator`.  "
            "[env: CTCT_BASE_URL]",
        ),
        click.option(
            "--issuer",
            metavar="URL",
            help="Another OAuth2 provider's issuer (discovered).  [env: CTCT_ISSUER]",
        ),
        click.option(
            "--store",
            metavar="URL",
            help="Token store, e.g. sqlite:///path/tokens.db.  [env: CTCT_STORE]",
        ),
        secret_flag_refused(),
    ]
    wrapped: Any = function
    for decorator in reversed(decorators):
        wrapped = decorator(wrapped)
    return cast("F", wrapped)


def pop_setting_flags(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Take the settings flags out of a command's keyword arguments."""
    return {name: kwargs.pop(name, None) for name in SETTING_FLAGS}


def load_settings(
    flags: dict[str, Any],
    *,
    want_secret: bool = True,
    env: dict[str, str] | None = None,
    problems: list[ConfigError] | None = None,
) -> Settings:
    """``Settings.load`` with the flags as arguments (``None`` = not given); with a
    ``problems`` list, leniently (see ``Settings.load``).

    When no secret is configured and ``want_secret``, the system keyring is asked
    (service ``ctct``, user ``client-secret``), within a timeout: keyrings hang on
    servers and in containers. ``CTCT_KEYRING=0`` skips it (``ctct._keyring``).
    """
    from ctct._settings import Settings

    arguments = dict(flags)
    config_path = arguments.pop("config", None)
    settings = Settings.load(env=env, config_path=config_path, problems=problems, **arguments)
    if settings.client_secret is None and want_secret and settings.client_id is not None:
        settings = _with_keyring_secret(settings, env if env is not None else os.environ)
    return settings


def _with_keyring_secret(settings: Settings, environ: Any) -> Settings:
    from ctct import _keyring

    value, _ = _keyring.get_password(KEYRING_SECRET_USER, environ=environ)
    if not value:
        return settings
    from ctct._secret import Secret

    sources = {**settings.sources, "client_secret": f"keyring ({KEYRING_SERVICE}/client-secret)"}
    return settings.with_changes(client_secret=Secret(value.strip()), sources=sources)


def resolve_provider(settings: Settings, http: httpx2.Client) -> Provider:
    """The provider profile, discovering it first when only an issuer is configured."""
    from ctct._oauth_http import resolve_provider as resolve

    return resolve(settings, http)


@contextmanager
def http_client(settings: Settings) -> Iterator[httpx2.Client]:
    """One HTTP client for a command (no redirects are followed by ctct's senders)."""
    import httpx2

    with httpx2.Client(timeout=settings.timeout) as http:
        yield http


@contextmanager
def token_manager(settings: Settings, http: httpx2.Client) -> Iterator[TokenManager]:
    """A ``TokenManager`` for the configured profile (closes its store afterwards)."""
    from ctct._manager import TokenManager

    manager = TokenManager.from_settings(settings, http=http)
    try:
        yield manager
    finally:
        manager.close()


def with_settings(function: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the settings flags of a command into one ``settings_flags`` dict argument."""

    @functools.wraps(function)
    def wrapper(**kwargs: Any) -> Any:
        flags = pop_setting_flags(kwargs)
        flags["profile"] = _one_profile(flags["profile"])
        return function(settings_flags=flags, **kwargs)

    return wrapper


def _one_profile(after: str | None) -> str | None:
    """The profile given after the command, or before it (``ctct --profile NAME CMD``,
    kept by ``ctct.cli.main``); both, only when they agree."""
    context = click.get_current_context(silent=True)
    before = None if context is None else context.meta.get("ctct.profile")
    if before is not None and after is not None and before != after:
        raise click.UsageError(f"Two profiles given: --profile {before} and --profile {after}.")
    return after if after is not None else before


def path_text(path: Path | str | None) -> str:
    return "-" if path is None else str(path)
