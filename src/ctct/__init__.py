"""ctct: connect to the Constant Contact V3 API once and stay connected.

The public API is flat; names are loaded lazily (PEP 562) so that ``import ctct``
stays cheap for the CLI's fast path.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # not typing's: the CLI's fast path never imports typing
if TYPE_CHECKING:  # for type checkers and IDEs; at run time names load on first use
    from typing import Any

    from ctct._auth import BearerAuth, RequestsAuth
    from ctct._httpx_auth import HttpxAuth
    from ctct._jwt import AccessTokenClaims, JwtVerifier
    from ctct._manager import TokenManager
    from ctct._oauth_requests import ClientCredentials
    from ctct._provider import Provider
    from ctct._refresh import RefreshPolicy
    from ctct._secret import Secret
    from ctct._settings import Settings
    from ctct._timer import BackgroundRefresher, TimerPolicy, keep_alive, run_refresher
    from ctct._tokens import TokenSet, TokenState
    from ctct.api import (
        ActivityFailed,
        AsyncClient,
        BadRequest,
        Client,
        Conflict,
        Forbidden,
        NotFound,
        QuotaExceeded,
        RateLimits,
        RetryPolicy,
        ServerError,
        Throttled,
        Unauthorized,
    )
    from ctct.api.shapes import (
        AccountSummary,
        Activity,
        ActivityStatus,
        Contact,
        ContactList,
        CustomField,
        EmailAddress,
        EmailCampaign,
        PhysicalAddress,
        SignUpResult,
        Tag,
    )
    from ctct.errors import (
        ApiError,
        AuthorizationDenied,
        AuthorizationRequired,
        ClientRejected,
        ConfigError,
        CtctError,
        FlowError,
        FlowTimedOut,
        InsufficientScope,
        NetworkError,
        ProviderError,
        StoreError,
        TokenValidationError,
        TransientProviderError,
    )
    from ctct.flows import Login, LoginEvent, LoginResult, WebLogin, choose_flow, qr_text
    from ctct.stores import open_store

__version__ = "0.1.0"

# name -> module that defines it (relative to this package)
_EXPORTS: dict[str, str] = {
    "AccessTokenClaims": "ctct._jwt",
    "AccountSummary": "ctct.api.shapes",
    "Activity": "ctct.api.shapes",
    "ActivityFailed": "ctct.api",
    "ActivityStatus": "ctct.api.shapes",
    "ApiError": "ctct.errors",
    "AsyncClient": "ctct.api",
    "AuthorizationDenied": "ctct.errors",
    "AuthorizationRequired": "ctct.errors",
    "BackgroundRefresher": "ctct._timer",
    "BadRequest": "ctct.api",
    "BearerAuth": "ctct._auth",
    "Client": "ctct.api",
    "ClientCredentials": "ctct._oauth_requests",
    "ClientRejected": "ctct.errors",
    "ConfigError": "ctct.errors",
    "Conflict": "ctct.api",
    "Contact": "ctct.api.shapes",
    "ContactList": "ctct.api.shapes",
    "CtctError": "ctct.errors",
    "CustomField": "ctct.api.shapes",
    "EmailAddress": "ctct.api.shapes",
    "EmailCampaign": "ctct.api.shapes",
    "FlowError": "ctct.errors",
    "FlowTimedOut": "ctct.errors",
    "Forbidden": "ctct.api",
    "HttpxAuth": "ctct._httpx_auth",
    "InsufficientScope": "ctct.errors",
    "JwtVerifier": "ctct._jwt",
    "Login": "ctct.flows",
    "LoginEvent": "ctct.flows",
    "LoginResult": "ctct.flows",
    "NetworkError": "ctct.errors",
    "NotFound": "ctct.api",
    "PhysicalAddress": "ctct.api.shapes",
    "Provider": "ctct._provider",
    "ProviderError": "ctct.errors",
    "QuotaExceeded": "ctct.api",
    "RateLimits": "ctct.api",
    "RefreshPolicy": "ctct._refresh",
    "RequestsAuth": "ctct._auth",
    "RetryPolicy": "ctct.api",
    "Secret": "ctct._secret",
    "ServerError": "ctct.api",
    "Settings": "ctct._settings",
    "SignUpResult": "ctct.api.shapes",
    "StoreError": "ctct.errors",
    "Tag": "ctct.api.shapes",
    "Throttled": "ctct.api",
    "TimerPolicy": "ctct._timer",
    "TokenManager": "ctct._manager",
    "TokenSet": "ctct._tokens",
    "TokenState": "ctct._tokens",
    "TokenValidationError": "ctct.errors",
    "TransientProviderError": "ctct.errors",
    "Unauthorized": "ctct.api",
    "WebLogin": "ctct.flows",
    "choose_flow": "ctct.flows",
    "keep_alive": "ctct._timer",
    "open_store": "ctct.stores",
    "qr_text": "ctct.flows",
    "run_refresher": "ctct._timer",
}

# A literal list: type checkers read exports from it (a computed one hides the API).
__all__ = [
    "AccessTokenClaims",
    "AccountSummary",
    "Activity",
    "ActivityFailed",
    "ActivityStatus",
    "ApiError",
    "AsyncClient",
    "AuthorizationDenied",
    "AuthorizationRequired",
    "BackgroundRefresher",
    "BadRequest",
    "BearerAuth",
    "Client",
    "ClientCredentials",
    "ClientRejected",
    "ConfigError",
    "Conflict",
    "Contact",
    "ContactList",
    "CtctError",
    "CustomField",
    "EmailAddress",
    "EmailCampaign",
    "FlowError",
    "FlowTimedOut",
    "Forbidden",
    "HttpxAuth",
    "InsufficientScope",
    "JwtVerifier",
    "Login",
    "LoginEvent",
    "LoginResult",
    "NetworkError",
    "NotFound",
    "PhysicalAddress",
    "Provider",
    "ProviderError",
    "QuotaExceeded",
    "RateLimits",
    "RefreshPolicy",
    "RequestsAuth",
    "RetryPolicy",
    "Secret",
    "ServerError",
    "Settings",
    "SignUpResult",
    "StoreError",
    "Tag",
    "Throttled",
    "TimerPolicy",
    "TokenManager",
    "TokenSet",
    "TokenState",
    "TokenValidationError",
    "TransientProviderError",
    "Unauthorized",
    "WebLogin",
    "__version__",
    "choose_flow",
    "keep_alive",
    "open_store",
    "qr_text",
    "run_refresher",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ctct' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
