"""The emulator's settings: registered applications, users, lifetimes, limits and the
switches for behaviour Constant Contact does not document (spec section 12)."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal

from ctct import _cc

RefreshTokenType = Literal["rotating", "long-lived"]
ReusePolicy = Literal["token", "grant"]
ProviderMode = Literal["constant-contact", "generic"]
AccessTokenFormat = Literal["jwt", "opaque"]
Flow = Literal["authorization_code", "device_code", "refresh_token", "implicit"]

ALL_FLOWS: frozenset[Flow] = frozenset({"authorization_code", "device_code", "refresh_token"})

DEFAULT_CLIENT_ID = "5f4c3b2a-1d0e-4f9a-8b7c-6d5e4f3a2b1c"
DEFAULT_CLIENT_SECRET = "emulator-secret-not-for-production"
DEFAULT_REDIRECT_URIS = (
    "http://127.0.0.1/callback",
    "http://localhost:8000/callback",
    "https://localhost",
)


@dataclass(frozen=True)
class AppConfig:
    """A registered application (CC's "API key")."""

    client_id: str
    client_secret: str | None  # None: a public client (PKCE / device flow only)
    redirect_uris: tuple[str, ...] = DEFAULT_REDIRECT_URIS
    flows: frozenset[Flow] = ALL_FLOWS
    refresh_token_type: RefreshTokenType = "rotating"
    name: str = "Emulator app"

    @property
    def confidential(self) -> bool:
        return self.client_secret is not None


@dataclass(frozen=True)
class UserConfig:
    """A Constant Contact user login, with the account it belongs to."""

    username: str
    password: str
    platform_user_id: str
    account_id: str  # CC's encoded_account_id
    first_name: str
    last_name: str
    organization_name: str
    role: Literal["account_owner", "account_manager", "campaign_creator"] = "account_owner"


@dataclass(frozen=True)
class PartnerConfig:
    """A CC technology partner: credentials for the partner token endpoint, the API key
    (``x-api-key``: one of its apps' client ids) and the client accounts it manages."""

    partner_client_id: str
    partner_secret: str
    api_key: str
    name: str = "Emulator Partner"
    accounts: tuple[str, ...] = ()  # encoded_account_ids of existing accounts it manages


DEFAULT_PARTNER_CLIENT_ID = "6a1e0c2f4b8d4e0fa9c3partner"
DEFAULT_PARTNER_SECRET = "emulator-partner-secret-not-for-production"

DEFAULT_USERS = (
    UserConfig(
        username="alice@example.com",
        password="alice-password",
        platform_user_id="0b9d2f4e-1a3c-4e5f-8a7b-000000000001",
        account_id="a07e1alice001",
        first_name="Alice",
        last_name="Owner",
        organization_name="Alice's Bakery",
        role="account_owner",
    ),
    UserConfig(
        username="bob@example.com",
        password="bob-password",
        platform_user_id="0b9d2f4e-1a3c-4e5f-8a7b-000000000002",
        account_id="a07e1bob00002",
        first_name="Bob",
        last_name="Manager",
        organization_name="Bob's Bikes",
        role="account_manager",
    ),
    UserConfig(
        username="carol@example.com",
        password="carol-password",
        platform_user_id="0b9d2f4e-1a3c-4e5f-8a7b-000000000003",
        account_id="a07e1alice001",  # a second login on Alice's account, with fewer privileges
        first_name="Carol",
        last_name="Creator",
        organization_name="Alice's Bakery",
        role="campaign_creator",
    ),
)


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything that shapes the emulator's behaviour. Lifetimes are seconds."""

    apps: tuple[AppConfig, ...] = (AppConfig(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET),)
    users: tuple[UserConfig, ...] = DEFAULT_USERS
    # Bob's Bikes is a managed client account of the default partner.
    partners: tuple[PartnerConfig, ...] = (
        PartnerConfig(
            DEFAULT_PARTNER_CLIENT_ID,
            DEFAULT_PARTNER_SECRET,
            DEFAULT_CLIENT_ID,
            accounts=("a07e1bob00002",),
        ),
    )

    access_token_ttl: int = _cc.ACCESS_TOKEN_TTL
    authorization_code_ttl: int = _cc.AUTHORIZATION_CODE_TTL
    refresh_token_idle_ttl: int = _cc.REFRESH_TOKEN_IDLE_TTL
    device_code_ttl: int = _cc.DEVICE_CODE_TTL
    device_poll_interval: int = _cc.DEVICE_POLL_INTERVAL
    pending_login_ttl: int = 600  # an unanswered login page stops working after this

    # Undocumented behaviour (spec section 12); defaults as in issue 2's table.
    refresh_token_reuse: ReusePolicy = "token"  # "grant": revoke the whole grant (Okta)
    refresh_token_grace_seconds: int = 0
    allow_client_secret_post: bool = True
    allow_pkce_for_confidential: bool = True
    loopback_redirect_any_port: bool = True  # RFC 8252 7.3
    require_state: bool = False  # Okta requires it; CC's examples always send it
    # All of the above at their strictest (``strict.STRICT``); wins over them.
    strict: bool = False

    # CC's three hosts (authz, identity, api) on three origins: see ``hosts``.
    split_hosts: bool = False

    # Limits per API key (client_id); token buckets with burst equal to the rate.
    api_rate_per_second: float = _cc.API_RATE_PER_SECOND
    api_burst: float | None = None
    api_daily_quota: int = _cc.API_DAILY_QUOTA
    token_rate_per_second: float = _cc.TOKEN_RATE_PER_SECOND
    token_burst: float | None = None

    auto_approve: bool = False
    default_username: str = "alice@example.com"

    # Which authorization server to be: Constant Contact's, or a generic OAuth 2 /
    # OpenID Connect provider found by discovery (``generic``), whose access tokens are
    # RFC 9068 JWTs or, with access_token_format "opaque", random strings.
    provider: ProviderMode = "constant-contact"
    access_token_format: AccessTokenFormat = "jwt"

    # Hosts the emulator answers to (its control API has no authentication, so a
    # request naming any other Host is refused: DNS-rebinding protection).
    allowed_hosts: tuple[str, ...] = ()

    data_path: Path | None = None  # SQLite file; None keeps state in memory

    def __post_init__(self) -> None:
        if self.strict:
            from ctct.emulator import strict

            strict.apply(self)

    def app(self, client_id: str) -> AppConfig | None:
        return next((a for a in self.apps if a.client_id == client_id), None)

    def user(self, username: str) -> UserConfig | None:
        return next((u for u in self.users if u.username.lower() == username.lower()), None)

    def partner(self, partner_client_id: str) -> PartnerConfig | None:
        return next((p for p in self.partners if p.partner_client_id == partner_client_id), None)

    @property
    def default_app(self) -> AppConfig:
        return self.apps[0]

    @property
    def default_user(self) -> UserConfig:
        user = self.user(self.default_username)
        if user is None:
            raise ValueError(f"default user {self.default_username!r} is not configured")
        return user

    def with_changes(self, **changes: Any) -> EmulatorConfig:
        return replace(self, **changes)


def load_config_file(path: Path, base: EmulatorConfig | None = None) -> EmulatorConfig:
    """Read apps, users and settings from a TOML or JSON file.

    ``[[apps]]``, ``[[users]]`` and ``[[partners]]`` tables replace the defaults; other
    top-level keys are ``EmulatorConfig`` field names.
    """
    text = path.read_text(encoding="utf-8")
    raw: dict[str, Any] = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    config = base or EmulatorConfig()
    changes: dict[str, Any] = {}
    if "apps" in raw:
        changes["apps"] = tuple(_app_from_dict(a) for a in raw.pop("apps"))
    if "users" in raw:
        changes["users"] = tuple(UserConfig(**u) for u in raw.pop("users"))
    if "partners" in raw:
        changes["partners"] = tuple(
            PartnerConfig(**{**p, "accounts": tuple(p.get("accounts", ()))})
            for p in raw.pop("partners")
        )
    known = {f.name for f in fields(EmulatorConfig)}
    for key, value in raw.items():
        if key not in known:
            raise ValueError(f"{path}: unknown emulator setting {key!r}")
        changes[key] = tuple(value) if isinstance(value, list) else value
    return replace(config, **changes)


def _app_from_dict(raw: dict[str, Any]) -> AppConfig:
    values = dict(raw)
    if "redirect_uris" in values:
        values["redirect_uris"] = tuple(values["redirect_uris"])
    if "flows" in values:
        values["flows"] = frozenset(values["flows"])
    return AppConfig(**values)
