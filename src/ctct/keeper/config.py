"""The keeper's configuration: one TOML file (``ctct keeper run --config FILE``).

::

    store = "postgresql://ctct@db/ctct"      # or CTCT_STORE; every replica the same
    tick = 1.0                               # seconds between scheduling ticks
    concurrency = 8                          # refreshes in flight per replica
    headroom = 0.05                          # share of the token endpoint left to workers
    keep_alive_interval = 604800             # keep-alive accounts: at least weekly
    count_token_calls_in_quota = false       # CC: unknown; when true the plan counts them

    [[apps]]                                 # one per application (client_id)
    client_id = "5f4c3b2a-..."
    client_secret_file = "/run/secrets/cc-secret"   # or client_secret_env = "CC_SECRET"
    # base_url = "http://127.0.0.1:7717"     # an emulator; issuer = "..." for another provider
    # token_rate = 1.0                       # the provider's per-app token-endpoint limit

    [[policies]]                             # first match wins; default keep-fresh
    profiles = ["archive-*"]
    policy = "keep-alive"

    [[policies]]
    profiles = ["big-customer"]
    weight = 10                              # kept fresh first when over capacity

    [webhooks]
    url = "https://hooks.example.com/ctct"
    secret_files = ["/run/secrets/whsec-new", "/run/secrets/whsec-old"]
    max_attempts = 12

The file and the secret files are re-read when they change (a rotated Kubernetes Secret
needs no restart): ``ConfigWatcher`` compares their stat on every tick.
"""

from __future__ import annotations

import fnmatch
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ctct._secret import Secret
from ctct.errors import ConfigError
from ctct.keeper.schedule import DEFAULT_IDLE_MARGIN, DEFAULT_KEEP_ALIVE_INTERVAL, Policy

_TOP = {
    "store",
    "tick",
    "concurrency",
    "headroom",
    "margin",
    "keep_alive_interval",
    "idle_margin",
    "replan_interval",
    "count_token_calls_in_quota",
    "http_timeout",
    "max_rate_wait",
    "apps",
    "policies",
    "webhooks",
}
_APP = {"client_id", "client_secret_file", "client_secret_env", "base_url", "issuer", "token_rate"}
_POLICY = {"profiles", "policy", "weight"}
_HOOKS = {"url", "secret_files", "secret_env", "max_attempts", "timeout"}


@dataclass(frozen=True, repr=False)
class AppConfig:
    client_id: str
    client_secret: Secret | None
    base_url: str | None = None
    issuer: str | None = None
    token_rate: float | None = None
    secret_source: str = "none"

    def __repr__(self) -> str:
        return f"AppConfig(client_id={self.client_id!r}, secret from {self.secret_source})"


@dataclass(frozen=True)
class PolicyRule:
    patterns: tuple[str, ...]
    policy: Policy | None = None
    weight: float | None = None

    def matches(self, profile: str) -> bool:
        return any(fnmatch.fnmatchcase(profile, p) for p in self.patterns)


@dataclass(frozen=True, repr=False)
class WebhookConfig:
    url: str
    secrets: tuple[str, ...]
    max_attempts: int = 12
    timeout: float = 10.0

    def __repr__(self) -> str:
        return f"WebhookConfig(url={self.url!r}, {len(self.secrets)} secret(s))"


@dataclass(frozen=True)
class KeeperConfig:
    store: str | None = None
    tick: float = 1.0
    concurrency: int = 8
    headroom: float = 0.05
    margin: float = 0.02
    keep_alive_interval: float = DEFAULT_KEEP_ALIVE_INTERVAL
    idle_margin: float = DEFAULT_IDLE_MARGIN
    replan_interval: float = 300.0
    """One scan of the whole fleet per interval (new grants wait at most this long to be
    planned: their first token is fresh for hours)."""
    count_token_calls_in_quota: bool = False
    http_timeout: float = 10.0
    max_rate_wait: float = 30.0
    """The longest a refresh waits for the token endpoint's shared limit."""
    apps: Mapping[str, AppConfig] = field(default_factory=dict)
    policies: tuple[PolicyRule, ...] = ()
    webhooks: WebhookConfig | None = None
    path: Path | None = None

    def policy_for(self, profile: str) -> tuple[Policy, float]:
        """The profile's policy and weight (first matching rule of each)."""
        policy: Policy | None = None
        weight: float | None = None
        for rule in self.policies:
            if rule.matches(profile):
                if policy is None and rule.policy is not None:
                    policy = rule.policy
                if weight is None and rule.weight is not None:
                    weight = rule.weight
        return policy or Policy.KEEP_FRESH, 1.0 if weight is None else weight

    def secret_files(self) -> list[Path]:
        """Files whose change means: read the configuration again."""
        paths = [self.path] if self.path is not None else []
        return paths + [Path(p) for p in self._secret_paths]

    _secret_paths: tuple[str, ...] = ()


def _number(where: str, value: object, *, minimum: float = 0.0, integer: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where} must be a number.")
    if not math.isfinite(value) or value < minimum:
        raise ConfigError(f"{where} must be a finite number >= {minimum:g}.")
    if integer and int(value) != value:
        raise ConfigError(f"{where} must be a whole number.")
    return float(value)


def _read_secret(where: str, path: Path) -> Secret:
    try:
        info = path.stat()
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read {path}: {exc.strerror}.") from None
    if info.st_mode & 0o007:
        raise ConfigError(f"{where}: {path} can be read by every user; run `chmod 600 {path}`.")
    if not text:
        raise ConfigError(f"{where}: {path} is empty.")
    return Secret(text)


def _app(path: Path, index: int, table: Any, env: Mapping[str, str]) -> tuple[AppConfig, list[str]]:
    where = f"{path}, apps[{index}]"
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: each [[apps]] entry must be a table.")
    unknown = set(table) - _APP
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)} (known: {sorted(_APP)}).")
    client_id = table.get("client_id")
    if not isinstance(client_id, str) or not client_id:
        raise ConfigError(f"{where}: client_id (your application's API key) is required.")
    files: list[str] = []
    secret: Secret | None = None
    source = "none (a public client)"
    if "client_secret_file" in table and "client_secret_env" in table:
        raise ConfigError(f"{where}: give client_secret_file or client_secret_env, not both.")
    if "client_secret_file" in table:
        secret_path = path.parent / Path(str(table["client_secret_file"])).expanduser()
        secret = _read_secret(where, secret_path)
        files.append(str(secret_path))
        source = f"file {secret_path}"
    elif "client_secret_env" in table:
        name = str(table["client_secret_env"])
        value = env.get(name, "").strip()
        if not value:
            raise ConfigError(f"{where}: the environment variable {name} is not set.")
        secret, source = Secret(value), f"env {name}"
    for key in ("base_url", "issuer"):
        if key in table and not isinstance(table[key], str):
            raise ConfigError(f"{where}: {key} must be a URL.")
    rate = table.get("token_rate")
    return (
        AppConfig(
            client_id=client_id,
            client_secret=secret,
            base_url=table.get("base_url"),
            issuer=table.get("issuer"),
            token_rate=None
            if rate is None
            else _number(f"{where}: token_rate", rate, minimum=1e-6),
            secret_source=source,
        ),
        files,
    )


def load_config(path: Path | None, env: Mapping[str, str] | None = None) -> KeeperConfig:
    """Read ``path`` (None: defaults from the environment only)."""
    environ = os.environ if env is None else env
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"Cannot read the keeper config {path}: {exc.strerror}.") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}.") from None
    where = str(path) if path is not None else "the keeper config"
    unknown = set(data) - _TOP
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)} (known: {sorted(_TOP)}).")
    values: dict[str, Any] = {}
    for key in (
        "tick",
        "headroom",
        "margin",
        "keep_alive_interval",
        "idle_margin",
        "replan_interval",
        "http_timeout",
        "max_rate_wait",
    ):
        if key in data:
            values[key] = _number(f"{where}: {key}", data[key])
    if "concurrency" in data:
        values["concurrency"] = int(
            _number(f"{where}: concurrency", data["concurrency"], minimum=1, integer=True)
        )
    for key in ("headroom", "margin"):
        if key in values and values[key] >= 1:
            raise ConfigError(f"{where}: {key} must be below 1.")
    if values.get("tick", 1.0) <= 0 or values.get("keep_alive_interval", 1.0) <= 0:
        raise ConfigError(f"{where}: tick and keep_alive_interval must be positive.")
    if "count_token_calls_in_quota" in data:
        if not isinstance(data["count_token_calls_in_quota"], bool):
            raise ConfigError(f"{where}: count_token_calls_in_quota must be true or false.")
        values["count_token_calls_in_quota"] = data["count_token_calls_in_quota"]
    store = data.get("store", environ.get("CTCT_STORE"))
    if store is not None and not isinstance(store, str):
        raise ConfigError(f"{where}: store must be a URL.")
    secret_paths: list[str] = []
    apps: dict[str, AppConfig] = {}
    if path is not None:
        for index, table in enumerate(data.get("apps", []) or []):
            app, files = _app(path, index, table, environ)
            if app.client_id in apps:
                raise ConfigError(f"{where}: client_id {app.client_id} appears twice in [[apps]].")
            apps[app.client_id] = app
            secret_paths += files
    policies = tuple(_policy(where, i, t) for i, t in enumerate(data.get("policies", []) or []))
    hooks = None
    if "webhooks" in data:
        hooks, files = _hooks(where, path, data["webhooks"], environ)
        secret_paths += files
    return KeeperConfig(
        store=store,
        apps=apps,
        policies=policies,
        webhooks=hooks,
        path=path,
        _secret_paths=tuple(secret_paths),
        **values,
    )


def _policy(where: str, index: int, table: Any) -> PolicyRule:
    at = f"{where}, policies[{index}]"
    if not isinstance(table, dict) or set(table) - _POLICY:
        raise ConfigError(f"{at}: a [[policies]] entry has profiles, policy and/or weight.")
    patterns = table.get("profiles")
    if isinstance(patterns, str):
        patterns = [patterns]
    if (
        not isinstance(patterns, list)
        or not patterns
        or not all(isinstance(p, str) for p in patterns)
    ):
        raise ConfigError(f"{at}: profiles must be a list of names or patterns.")
    policy = None
    if "policy" in table:
        try:
            policy = Policy(table["policy"])
        except ValueError:
            raise ConfigError(f"{at}: policy must be 'keep-fresh' or 'keep-alive'.") from None
    weight = _number(f"{at}: weight", table["weight"]) if "weight" in table else None
    return PolicyRule(tuple(patterns), policy, weight)


def _hooks(
    where: str, path: Path | None, table: Any, env: Mapping[str, str]
) -> tuple[WebhookConfig, list[str]]:
    at = f"{where}, [webhooks]"
    if not isinstance(table, dict) or set(table) - _HOOKS:
        raise ConfigError(f"{at}: known keys are {sorted(_HOOKS)}.")
    url = table.get("url")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise ConfigError(f"{at}: url must be an http(s) URL.")
    secrets: list[str] = []
    files: list[str] = []
    base = path.parent if path is not None else Path.cwd()
    for name in table.get("secret_files", []) or []:
        secret_path = base / Path(str(name)).expanduser()
        secrets.append(_read_secret(at, secret_path).reveal())
        files.append(str(secret_path))
    if "secret_env" in table:
        value = env.get(str(table["secret_env"]), "").strip()
        if not value:
            raise ConfigError(f"{at}: the environment variable {table['secret_env']} is not set.")
        secrets.append(value)
    if not secrets:
        raise ConfigError(f"{at}: give secret_files (or secret_env) to sign deliveries with.")
    attempts = int(
        _number(f"{at}: max_attempts", table.get("max_attempts", 12), minimum=1, integer=True)
    )
    timeout = _number(f"{at}: timeout", table.get("timeout", 10.0), minimum=0.1)
    return WebhookConfig(url, tuple(secrets), attempts, timeout), files


class ConfigWatcher:
    """Reloads the configuration when the file or a secret file it names changes."""

    def __init__(self, path: Path | None, env: Mapping[str, str] | None = None) -> None:
        self.path = path
        self.env = env
        self.config = load_config(path, env)
        self._stamp = self._stamps()

    def _stamps(self) -> tuple[tuple[str, int, int, int], ...]:
        stamps = []
        for p in self.config.secret_files():
            try:
                st = os.stat(p)  # follows symlinks: a Kubernetes Secret swaps ..data
                stamps.append((str(p), st.st_ino, st.st_mtime_ns, st.st_size))
            except OSError:
                stamps.append((str(p), 0, 0, 0))
        return tuple(stamps)

    def poll(self) -> bool:
        """True when the configuration was reloaded. A broken new file keeps the old
        configuration (and raises, so the caller can report it)."""
        stamp = self._stamps()
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        self.config = load_config(self.path, self.env)
        self._stamp = self._stamps()
        return True
