"""What ``ctct config show`` and ``ctct doctor`` share: the settings loaded leniently
and the values actually in effect.

Leniently: an unreadable secret file or a bad setting is one problem in a list, left
at its default, and the rest still loads (``Settings.load(problems=...)``), so both
commands report every problem at once instead of stopping at the first.

In effect: what a command would really use, where the settings only say "unset" -
the store's location (``sqlite://`` means a file in the user state directory), the
scopes a login asks for, the provider's API limits (``CTCT_API_RATE`` /
``CTCT_API_DAILY_QUOTA``), and the switches read from the environment only (keyrings,
the store key, debug, the fast path). Nothing here creates or opens anything, and no
keyring is asked: describing must not change the machine.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ctct.errors import ConfigError, CtctError

if TYPE_CHECKING:
    from ctct._provider import Provider
    from ctct._settings import Settings

_OFF = frozenset({"0", "no", "off", "false"})


@dataclass
class Effective:
    """Settings, their problems, and the values in effect with where each came from."""

    settings: Settings
    problems: list[CtctError] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    provider: Provider | None = None

    def add(self, name: str, value: Any, source: str) -> None:
        self.values[name] = value
        self.sources[name] = source


def problem_json(problem: CtctError) -> dict[str, Any]:
    return {"code": problem.code, "message": problem.message, "exit_code": problem.exit_code}


def effective_settings(
    flags: dict[str, Any], environ: Mapping[str, str] | None = None
) -> Effective:
    """Load ``flags`` leniently and work out what is in effect."""
    from ctct.cli.auth_common import load_settings

    env = dict(os.environ if environ is None else environ)
    problems: list[ConfigError] = []
    settings = load_settings(flags, env=env, problems=problems)
    result = Effective(settings, list(problems))
    _store(result)
    _provider(result)
    _limits(result, env)
    _switches(result, env)
    return result


def store_url(settings: Settings) -> str:
    """The store in effect, with the default SQLite file spelled out."""
    text = (settings.store or "sqlite://").strip()
    if text.lower() == "sqlite://":
        from ctct.stores.sqlite import default_path

        return f"sqlite://{default_path()}"
    return text


def sqlite_file(url: str) -> Path | None:
    """The file of a ``sqlite:///path`` URL (``store_url``'s form); None for others."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme.lower() == "sqlite" and rest.startswith("/"):
        return Path(rest)
    return None


def _store(result: Effective) -> None:
    from ctct._settings import redact_url_password

    settings = result.settings
    source = settings.sources.get("store", "default")
    result.add("store", redact_url_password(store_url(settings)), source)


def _provider(result: Effective) -> None:
    settings = result.settings
    if settings.needs_discovery:
        result.add("provider", f"discovered from {settings.issuer}", settings.sources["issuer"])
        if settings.scopes is None:
            result.add("scopes", None, "the provider's defaults (discovered at login)")
        return
    try:
        provider = settings.provider()
    except CtctError as exc:
        result.problems.append(exc)
        return
    result.provider = provider
    result.add("provider", provider.name, "settings")
    result.add("token_endpoint", provider.token_endpoint, "settings")
    if provider.api_base_url is not None:
        result.add("api_url", provider.api_base_url, "settings")
    if settings.scopes is not None:
        scopes, source = list(settings.scopes), settings.sources.get("scopes", "default")
    else:
        scopes, source = list(provider.default_scopes), "default (the provider's)"
    if provider.offline_scope and provider.offline_scope not in scopes:
        scopes.append(provider.offline_scope)  # every login adds it
    result.add("scopes", scopes, source)


def _limits(result: Effective, env: dict[str, str]) -> None:
    if result.provider is None or result.provider.api_base_url is None:
        return
    from ctct.api.limits import RateLimits, limits_from_env

    base = RateLimits.for_provider(result.provider)
    try:
        limits = limits_from_env(base, env)
    except CtctError as exc:
        result.problems.append(exc)
        limits = base
    for name, variable, value in (
        ("api_rate_per_second", "CTCT_API_RATE", limits.rate_per_second),
        ("api_daily_quota", "CTCT_API_DAILY_QUOTA", limits.daily_quota),
    ):
        given = limits is not base and env.get(variable, "").strip()
        result.add(name, value, f"env {variable}" if given else "default (the provider's)")


def _switches(result: Effective, env: dict[str, str]) -> None:
    # (shown name, variable, value when unset, whether a true variable turns it off)
    _keyring_switch(result, env)
    for name, variable, default, negated in (
        ("debug", "CTCT_DEBUG", False, False),
        ("fast_path", "CTCT_NO_FAST_PATH", True, True),
    ):
        raw = env.get(variable, "").strip().lower()
        if not raw:
            result.add(name, default, "default")
            continue
        true = raw not in _OFF
        result.add(name, not true if negated else true, f"env {variable}")
    result.add("store_key", *_store_key(env, store_keyring=result.values["store_keyring"]))


def _keyring_switch(result: Effective, env: dict[str, str]) -> None:
    """Whether the keyring is asked, for the client secret and the store key alike: one
    switch (``CTCT_KEYRING``, old name ``CTCT_STORE_KEYRING``), and not where no backend
    could work (``ctct._keyring``)."""
    from ctct import _keyring

    reason = _keyring.unavailable(env)
    given = [v for v in (_keyring.ENV, _keyring.OLD_ENV) if env.get(v, "").strip()]
    if given and _keyring.switched_off(env):
        source = f"env {given[0]}"
    elif reason is not None:
        source = f"{'env ' + given[0] + ', but' if given else 'default:'} {reason}"
    else:
        source = f"env {given[0]}" if given else "default"
    for name in ("keyring", "store_keyring"):
        result.add(name, reason is None, source)


def _store_key(env: dict[str, str], *, store_keyring: bool) -> tuple[str | None, str]:
    """Where the store key would come from, without reading it (``ctct.stores.keys``)."""
    from ctct._secret import MASK
    from ctct.stores.keys import default_key_file

    if env.get("CTCT_STORE_KEY", "").strip():
        return MASK, "env CTCT_STORE_KEY"
    if env.get("CTCT_STORE_KEY_FILE", "").strip():
        return f"key file {env['CTCT_STORE_KEY_FILE'].strip()}", "env CTCT_STORE_KEY_FILE"
    default = default_key_file()
    if default.exists():
        return f"key file {default}", "default"
    if store_keyring:
        return "the keyring entry, if there is one (else none: not encrypted)", "default"
    return None, "default (none: not encrypted)"
