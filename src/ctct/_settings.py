"""``Settings``: the one configuration loader shared by the library and the CLI.

Each value comes from the first source that sets it:

1. explicit arguments (library keyword arguments, CLI flags);
2. the environment, ``CTCT_<NAME>`` (e.g. ``CTCT_CLIENT_ID``, ``CTCT_BASE_URL``);
3. the TOML config file: ``[profiles.NAME]`` first, then its top-level keys;
4. defaults.

The file is ``CTCT_CONFIG`` if set, else ``config.toml`` in platformdirs'
``user_config_dir("ctct")``. The profile is the ``profile`` argument, else
``CTCT_PROFILE``, else ``default``. The client secret may come from
``client_secret`` or from a file named by ``client_secret_file``
(``CTCT_CLIENT_SECRET_FILE``), at any level; the CLI never takes it as a flag.

Example ``config.toml``::

    client_id = "5f4c3b2a-..."
    [profiles.emulator]
    base_url = "http://127.0.0.1:8765"
    store = "sqlite:///home/me/.local/share/ctct/emulator.db"
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit, urlunsplit

from ctct import _cc
from ctct._describe import describe_error
from ctct._private_file import read_private
from ctct._provider import (
    PKCE_MODES,
    AccessTokenFormat,
    PkceMode,
    Provider,
    normalize_base_url,
)
from ctct._redact import redact_url
from ctct._secret import MASK, Secret
from ctct._urls import require_safe_url
from ctct.errors import ConfigError

if TYPE_CHECKING:
    from ctct._oauth_requests import ClientCredentials

DEFAULT_PROFILE: Final = "default"
_URL_FIELDS: Final = (
    "issuer",
    "token_endpoint",
    "authorization_endpoint",
    "device_authorization_endpoint",
    "revocation_endpoint",
    "jwks_uri",
)
# Constant Contact's three hosts, each pointable at its own base URL (``--split-hosts``).
_HOST_FIELDS: Final = ("auth_url", "identity_url", "api_url")
_STR_FIELDS: Final = (
    "client_id",
    "base_url",
    *_HOST_FIELDS,
    *_URL_FIELDS,
    "audience",
    "access_token_format",
    "pkce",
    "redirect_uri",
    "store",
)
_FLOAT_FIELDS: Final = ("refresh_margin", "leeway", "timeout")
_INT_FIELDS: Final = ("redirect_port",)
_SECRET_FILE: Final = "client_secret_file"
_KEYS: Final = frozenset(
    {*_STR_FIELDS, *_FLOAT_FIELDS, *_INT_FIELDS, "scopes", "client_secret", _SECRET_FILE}
)
_FORMATS: Final = ("jwt", "opaque", "auto")


@dataclass(frozen=True, repr=False)
class Settings:
    """Resolved configuration. Build with ``Settings.load()``; ``repr`` is redacted."""

    profile: str = DEFAULT_PROFILE
    client_id: str | None = None
    client_secret: Secret | None = None
    base_url: str | None = None
    """Point all of Constant Contact's hosts at one origin (e.g. the emulator)."""
    auth_url: str | None = None
    """Point CC's authorization server (authz.constantcontact.com) elsewhere."""
    identity_url: str | None = None
    """Point CC's identity host (identity.constantcontact.com: the JWKS) elsewhere."""
    api_url: str | None = None
    """Point CC's V3 API host (api.cc.email; ``/v3`` is appended) elsewhere."""
    issuer: str | None = None
    """Another provider's issuer or discovery URL (``CTCT_ISSUER``)."""
    token_endpoint: str | None = None
    authorization_endpoint: str | None = None
    device_authorization_endpoint: str | None = None
    revocation_endpoint: str | None = None
    jwks_uri: str | None = None
    audience: str | None = None
    access_token_format: str | None = None
    scopes: tuple[str, ...] | None = None
    pkce: str | None = None
    """``auto``, ``always`` or ``never`` (see ``ctct._provider.PkceMode``); default: the
    provider's (Constant Contact: ``auto``, no PKCE when a client secret is set)."""
    redirect_uri: str | None = None
    redirect_port: int | None = None
    """The loopback login's fixed port (a provider matching redirect URIs exactly needs
    the registered one); default: the redirect URI's, else any free port."""
    store: str | None = None
    """Token store URL, e.g. ``sqlite:///path``; ``None`` lets the store layer choose."""
    refresh_margin: float = 300.0
    leeway: float = 60.0
    timeout: float = 10.0
    config_path: Path | None = None
    """The config file consulted (it may not exist)."""
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)
    """Where each value came from: ``argument``, ``env CTCT_X``, ``file PATH`` or ``default``."""

    @classmethod
    def load(
        cls,
        *,
        env: Mapping[str, str] | None = None,
        config_path: str | Path | None = None,
        problems: list[ConfigError] | None = None,
        **arguments: Any,
    ) -> Settings:
        """Resolve settings. ``arguments`` are field names (plus ``client_secret_file``);
        ``None`` values count as unset, so CLI options can be passed straight through.
        Raises ``ConfigError`` for anything invalid, naming where it came from.

        With a ``problems`` list, nothing invalid raises: each problem is appended to
        it and the setting it concerns is left at its default (``ctct doctor`` and
        ``ctct config show`` report them all and go on)."""
        complain = _Complaints(problems)
        environ = os.environ if env is None else env
        given = {k: v for k, v in arguments.items() if v is not None}
        unknown = set(given) - _KEYS - {"profile"}
        if unknown:
            raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")

        if given.get("profile"):
            profile, profile_source = str(given.pop("profile")), "argument"
        elif environ.get("CTCT_PROFILE"):
            profile, profile_source = environ["CTCT_PROFILE"], "env CTCT_PROFILE"
        else:
            profile, profile_source = DEFAULT_PROFILE, "default"
        explicit_path = config_path or environ.get("CTCT_CONFIG")
        path = Path(explicit_path) if explicit_path else default_config_path()
        file_layers = _read_config(path, profile, required=bool(explicit_path), complain=complain)

        layers: list[tuple[str, dict[str, Any]]] = [("argument", given)]
        env_values = {
            key: environ[f"CTCT_{key.upper()}"] for key in _KEYS if f"CTCT_{key.upper()}" in environ
        }
        layers.append(("env", env_values))
        layers.extend(file_layers)

        values: dict[str, Any] = {"profile": profile}
        sources: dict[str, str] = {"profile": profile_source}
        for key in (*_STR_FIELDS, *_FLOAT_FIELDS, *_INT_FIELDS, "scopes"):
            for label, layer in layers:
                if key in layer:
                    where = _describe_source(label, key)
                    try:
                        values[key] = _convert(key, layer[key], where)
                    except ConfigError as exc:
                        complain(exc)
                        break
                    sources[key] = where
                    break
        try:
            secret, secret_source = _resolve_secret(layers)
        except ConfigError as exc:
            complain(exc)
            secret, secret_source = None, "default"
        if secret is not None:
            values["client_secret"] = secret
            sources["client_secret"] = secret_source
        for f in fields(cls):
            sources.setdefault(f.name, "default")
        settings = cls(**values, config_path=path, sources=sources)
        blamed: set[str] = set()
        for key, problem in list(settings._problems()):
            complain(problem)  # strict: raises the first
            blamed.add(key)
        if blamed:  # lenient: what is wrong is left at its default
            settings = settings.with_changes(
                **{key: _DEFAULTS[key] for key in blamed},
                sources={**settings.sources, **dict.fromkeys(blamed, "default")},
            )
        return settings

    # -- derived ----------------------------------------------------------------------

    @property
    def needs_discovery(self) -> bool:
        """True when the provider is known only by issuer: fetch its metadata first."""
        return self.issuer is not None and self.token_endpoint is None and self.issuer != _cc.ISSUER

    def provider(self) -> Provider:
        """The provider profile these settings describe, without I/O.

        Raises ``ConfigError`` when discovery is needed (see ``needs_discovery`` and
        ``ctct._oauth_http.resolve_provider``).
        """
        if self.token_endpoint is not None:
            if self.issuer is None:
                raise ConfigError(
                    "token_endpoint is set but issuer is not: set CTCT_ISSUER too (it is the "
                    "tokens' 'iss' and part of the key stored grants are filed under)."
                )
            fmt: AccessTokenFormat = (
                "jwt"
                if self.access_token_format == "jwt"
                else "opaque"
                if self.access_token_format == "opaque"
                else "auto"
            )
            return Provider(
                issuer=self.issuer,
                token_endpoint=self.token_endpoint,
                authorization_endpoint=self.authorization_endpoint,
                device_authorization_endpoint=self.device_authorization_endpoint,
                revocation_endpoint=self.revocation_endpoint,
                jwks_uri=self.jwks_uri,
                audience=self.audience,
                access_token_format=fmt,
                default_scopes=self.scopes or (),
                pkce=self.pkce_mode or "always",
            ).local_pacing()
        if self.needs_discovery:
            raise ConfigError(
                f"The provider {self.issuer!r} must be discovered first (network I/O)."
            )
        return Provider.constant_contact(
            self.base_url,
            auth_url=self.auth_url,
            identity_url=self.identity_url,
            api_url=self.api_url,
            pkce=self.pkce_mode or "auto",
        ).local_pacing()

    @property
    def pkce_mode(self) -> PkceMode | None:
        """``pkce`` as a ``PkceMode`` (validated at load), or None when unset."""
        for mode in PKCE_MODES:
            if self.pkce == mode:
                return mode
        return None

    def login_redirect_uri(self) -> str | None:
        """The redirect URI for logins: ``redirect_uri`` with ``redirect_port`` applied
        (on ``http://127.0.0.1/callback`` when only the port is set); None: the flows'
        default."""
        if self.redirect_port is None:
            return self.redirect_uri
        parts = urlsplit(self.redirect_uri or "http://127.0.0.1/callback")
        host = parts.hostname or "127.0.0.1"
        netloc = f"[{host}]:{self.redirect_port}" if ":" in host else f"{host}:{self.redirect_port}"
        return urlunsplit(parts._replace(netloc=netloc))

    def client_credentials(self) -> ClientCredentials:
        """The app's identity for token requests; ``ConfigError`` without a client id."""
        from ctct._oauth_requests import ClientCredentials  # keeps httpx2 off import path

        if self.client_id is None:
            raise ConfigError(
                "No client id is configured: set CTCT_CLIENT_ID (your app's API key), or "
                f"client_id in {self.config_path or default_config_path()}."
            )
        return ClientCredentials(self.client_id, self.client_secret)

    def redacted(self) -> dict[str, Any]:
        """Every setting, safe to print (``ctct config show``): the secret is masked and
        a password inside the store URL too."""
        shown: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "sources":
                continue
            value = getattr(self, f.name)
            if f.name == "client_secret":
                value = MASK if value is not None else None
            elif f.name == "store" and value is not None:
                value = redact_url_password(value)
            elif isinstance(value, Path):
                value = str(value)
            elif isinstance(value, tuple):
                value = list(value)
            shown[f.name] = value
        return shown

    def with_changes(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.redacted().items() if v is not None)
        return f"Settings({inner})"

    __str__ = __repr__

    def _problems(self) -> Iterator[tuple[str, ConfigError]]:
        """What is wrong: (the field to blame, the error), first problem first."""

        def where(key: str) -> str:
            return self.sources.get(key, "default")

        hosts = [key for key in ("base_url", *_HOST_FIELDS) if getattr(self, key) is not None]
        for key in hosts:
            try:
                normalize_base_url(getattr(self, key), what=f"CTCT_{key.upper()}")
            except ConfigError as exc:
                yield key, ConfigError(f"{exc.message} (from {where(key)})")
        if hosts:
            first = hosts[0]
            if self.issuer is not None and self.issuer != _cc.ISSUER:
                yield (
                    "issuer",
                    ConfigError(
                        f"{first} points Constant Contact's hosts elsewhere, but issuer names "
                        f"another provider ({where('issuer')}): set one or the other."
                    ),
                )
            explicit = [key for key in _URL_FIELDS[1:] if getattr(self, key) is not None]
            if explicit:
                yield (
                    explicit[0],
                    ConfigError(
                        f"{first} replaces Constant Contact's endpoints, but {explicit[0]} "
                        f"is also set ({where(explicit[0])}): set one or the other."
                    ),
                )
        if self.pkce is not None and self.pkce_mode is None:
            yield (
                "pkce",
                ConfigError(
                    f"pkce must be one of {', '.join(PKCE_MODES)}, not {self.pkce!r} "
                    f"(from {where('pkce')})."
                ),
            )
        if self.redirect_port is not None:
            if not 1 <= self.redirect_port <= 65535:
                yield (
                    "redirect_port",
                    ConfigError(
                        f"redirect_port must be a port number 1-65535, not {self.redirect_port} "
                        f"(from {where('redirect_port')})."
                    ),
                )
            try:
                uri_port = urlsplit(self.redirect_uri).port if self.redirect_uri else None
            except ValueError:
                uri_port = None
            if uri_port is not None and uri_port != self.redirect_port:
                yield (
                    "redirect_port",
                    ConfigError(
                        f"redirect_port {self.redirect_port} ({where('redirect_port')}) differs "
                        f"from the port of redirect_uri {self.redirect_uri} "
                        f"({where('redirect_uri')}): set one or the other."
                    ),
                )
        for key in _URL_FIELDS:
            value = getattr(self, key)
            if value is not None:
                try:
                    require_safe_url(value, what=key.replace("_", " "))
                except ConfigError as exc:
                    yield key, ConfigError(f"{exc.message} (from {where(key)})")
        if self.access_token_format not in (None, *_FORMATS):
            yield (
                "access_token_format",
                ConfigError(
                    f"access_token_format must be one of {', '.join(_FORMATS)}, not "
                    f"{self.access_token_format!r} (from {where('access_token_format')})."
                ),
            )
        for key in _FLOAT_FIELDS:
            value = getattr(self, key)
            # NaN compares false with everything and an infinite leeway accepts a
            # year-old token: only finite numbers mean something here.
            if not math.isfinite(value):
                yield key, ConfigError(_not_finite(key, value, where(key)))
            elif value < 0 or (key == "timeout" and value == 0):
                yield key, ConfigError(f"{key} must be positive (from {where(key)}).")


class _Complaints:
    """Strict (no list): raise the first problem. Lenient: collect them all."""

    def __init__(self, problems: list[ConfigError] | None) -> None:
        self.problems = problems

    def __call__(self, problem: ConfigError) -> None:
        if self.problems is None:
            raise problem
        self.problems.append(problem)


_DEFAULTS: Final = {f.name: f.default for f in fields(Settings) if f.name != "sources"}


def default_config_path() -> Path:
    """``config.toml`` in the platform's user config directory for ctct."""
    from ctct._dirs import user_dir

    return Path(user_dir("config")) / "config.toml"


def redact_url_password(url: str) -> str:
    """``url`` with any password in it replaced by the mask (``ctct._redact.redact_url``)."""
    return redact_url(url)


# -- the config file ----------------------------------------------------------------------


def _read_config(
    path: Path, profile: str, *, required: bool, complain: _Complaints
) -> list[tuple[str, dict[str, Any]]]:
    """``[(source label, values)]`` from the file: the profile table, then top level.
    A lenient ``complain`` reports what is wrong and leaves it out."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if required:
            complain(
                ConfigError(
                    f"The config file {path} (CTCT_CONFIG) does not exist: create it or unset "
                    "CTCT_CONFIG."
                )
            )
        return []
    except (OSError, UnicodeDecodeError) as exc:
        complain(ConfigError(f"Cannot read the config file {path}: {describe_error(exc)}."))
        return []
    import tomllib  # only when there is a file

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        complain(ConfigError(f"{path}: not valid TOML: {exc}. Fix that line."))
        return []

    profiles = data.pop("profiles", {})
    if not isinstance(profiles, dict):
        complain(
            ConfigError(
                f"{path}, line {_line_of(text, None, 'profiles')}: 'profiles' must "
                "be a table of [profiles.NAME] tables."
            )
        )
        profiles = {}
    _check_table(path, text, None, data, complain)
    for name, table in list(profiles.items()):
        if not isinstance(table, dict):
            complain(
                ConfigError(
                    f"{path}, line {_line_of(text, 'profiles', name)}: profiles.{name} must be "
                    "a table."
                )
            )
            del profiles[name]
            continue
        _check_table(path, text, name, table, complain)
    if profile != DEFAULT_PROFILE and profiles and profile not in profiles:
        complain(
            ConfigError(
                f"Profile {profile!r} is not in {path} (it has: {', '.join(sorted(profiles))})."
            )
        )
    layers: list[tuple[str, dict[str, Any]]] = []
    if profile in profiles:
        layers.append((f"file {path} [profiles.{profile}]", dict(profiles[profile])))
    layers.append((f"file {path}", dict(data)))
    # Secret files named in the config are relative to the config file's folder.
    for _, layer in layers:
        if _SECRET_FILE in layer:
            layer[_SECRET_FILE] = str(path.parent / Path(layer[_SECRET_FILE]).expanduser())
    return layers


def _check_table(
    path: Path, text: str, profile: str | None, table: dict[str, Any], complain: _Complaints
) -> None:
    """Complain about each unknown or mistyped key (and drop it, when lenient)."""
    table_name = None if profile is None else f"profiles.{profile}"
    for key, value in list(table.items()):
        problem = _table_problem(key, value)
        if problem is not None:
            complain(ConfigError(f"{path}, line {_line_of(text, table_name, key)}: {problem}"))
            del table[key]


def _table_problem(key: str, value: Any) -> str | None:
    if key not in _KEYS:
        return f"unknown setting {key!r} (known: {', '.join(sorted(_KEYS))})."
    expected: tuple[type, ...]
    if key in _FLOAT_FIELDS:
        expected = (int, float)
    elif key in _INT_FIELDS:
        expected = (int,)
    elif key == "scopes":
        expected = (list, str)
    else:
        expected = (str,)
    if isinstance(value, bool) or not isinstance(value, expected):
        names = " or ".join(
            "whole number"
            if expected == (int,)
            else "number"
            if t in (int, float)
            else "list of strings"
            if t is list
            else "string"
            for t in expected
        )
        return f"{key} must be a {names}."
    if key == "scopes" and isinstance(value, list) and not all(isinstance(s, str) for s in value):
        return "scopes must be a list of strings."
    return None


def _line_of(text: str, table: str | None, key: str) -> int | str:
    """The line of ``key`` inside ``[table]`` (best effort: '?' if not found)."""
    current: str | None = None
    key_pattern = re.compile(rf"""^\s*["']?{re.escape(key)}["']?\s*=""")
    for number, line in enumerate(text.splitlines(), start=1):
        header = re.match(r"^\s*\[\s*([^\]]+?)\s*\]", line)
        if header:
            current = header.group(1).replace('"', "").replace("'", "").replace(" ", "")
            if table == "profiles" and current == f"profiles.{key}":
                return number
            continue
        if current == table and key_pattern.match(line):
            return number
    return "?"


# -- values -----------------------------------------------------------------------------


def _not_finite(key: str, value: float, where: str) -> str:
    return f"{key} must be a finite number, not {value!r} (from {where}): set a number of seconds."


def _describe_source(label: str, key: str) -> str:
    if label == "env":
        return f"env CTCT_{key.upper()}"
    return label


def _convert(key: str, value: Any, where: str) -> Any:
    if key in _FLOAT_FIELDS:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key} must be a number, not {value!r} (from {where}).") from None
    if key in _INT_FIELDS:
        try:
            return int(str(value).strip()) if not isinstance(value, int) else value
        except ValueError:
            raise ConfigError(
                f"{key} must be a whole number, not {value!r} (from {where})."
            ) from None
    if key == "scopes":
        items = value.replace(",", " ").split() if isinstance(value, str) else list(value)
        return tuple(items)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{key} must be a non-empty string (from {where}).")
    return value.strip()


def _resolve_secret(layers: list[tuple[str, dict[str, Any]]]) -> tuple[Secret | None, str]:
    for label, layer in layers:
        if "client_secret" in layer:
            value = layer["client_secret"]
            where = _describe_source(label, "client_secret")
            if isinstance(value, Secret):
                return value, where
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"client_secret is empty (from {where}).")
            return Secret(value.strip()), where
        if _SECRET_FILE in layer:
            where = _describe_source(label, _SECRET_FILE)
            secret_path = Path(str(layer[_SECRET_FILE])).expanduser()
            try:
                # The same rule as the store key file: private (0600) or refused.
                content = read_private(secret_path, "the client secret file").decode().strip()
            except ConfigError as exc:
                raise ConfigError(f"{exc.message} (from {where}).") from None
            except UnicodeDecodeError:
                raise ConfigError(
                    f"The client secret file {secret_path} is not UTF-8 text (from {where})."
                ) from None
            if not content:
                raise ConfigError(f"The client secret file {secret_path} is empty (from {where}).")
            return Secret(content), f"{where} ({secret_path})"
    return None, "default"
