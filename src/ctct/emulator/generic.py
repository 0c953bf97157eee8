"""The emulator as a generic OAuth 2 / OpenID Connect provider (``--provider generic``).

Constant Contact's profile is hard-wired in ctct (its hosts, paths, issuer and claims);
every other provider is reached by discovery (``CTCT_ISSUER``). This mode is such a
provider, so ctct's discovery path runs end to end offline:

* the issuer is the emulator's own origin, as the request names it (like a development
  identity server that derives its URLs from the Host header);
* RFC 8414 and OpenID Connect discovery documents at
  ``/.well-known/oauth-authorization-server`` and ``/.well-known/openid-configuration``
  name the endpoints, on paths of their own (nothing at Constant Contact's paths);
* access tokens are RFC 9068 JWTs (``typ: at+jwt``; ``iss``, ``aud``, ``sub``,
  ``client_id``, ``scope``, ``iat``, ``exp``, ``jti``), or with
  ``access_token_format = "opaque"`` random strings whose expiry only ``expires_in``
  tells (see ``generic_tokens``);
* the V3 API stays at ``/v3`` as this provider's resource server and accepts its tokens.

The grants, refresh-token rotation, device flow, revocation, faults, limits and the
control API are the same as in Constant Contact mode.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ctct import _cc
from ctct.emulator.config import EmulatorConfig
from ctct.emulator.oauth_common import ALLOWED_SCOPES

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator

MODE = "generic"

AUTHORIZE_PATH = "/oauth2/authorize"
TOKEN_PATH = "/oauth2/token"
DEVICE_AUTHORIZE_PATH = "/oauth2/device_authorization"
REVOKE_PATH = "/oauth2/revoke"
JWKS_PATH = "/oauth2/jwks"
OIDC_DISCOVERY_PATH = "/.well-known/openid-configuration"
RFC8414_DISCOVERY_PATH = "/.well-known/oauth-authorization-server"
API_PATH = _cc.API_BASE_PATH  # the resource server; also the access tokens' audience

_issuer: ContextVar[str | None] = ContextVar("ctct_emulator_issuer", default=None)


def enabled(config: EmulatorConfig) -> bool:
    return config.provider == MODE


def check_config(config: EmulatorConfig) -> None:
    """Refuse settings that only make sense in the other mode."""
    if config.provider not in ("constant-contact", MODE):
        raise ValueError(
            f"provider must be 'constant-contact' or 'generic', not {config.provider!r}"
        )
    if config.access_token_format not in ("jwt", "opaque"):
        raise ValueError(
            f"access_token_format must be 'jwt' or 'opaque', not {config.access_token_format!r}"
        )
    if config.split_hosts and enabled(config):
        raise ValueError(
            "split hosts are Constant Contact's three hosts; the generic provider is one "
            "issuer on one origin: use --split-hosts or --provider generic, not both"
        )
    if config.access_token_format == "opaque" and not enabled(config):
        raise ValueError(
            "opaque access tokens need the generic provider mode (--provider generic, or "
            "provider = 'generic' in a config file): Constant Contact's are always JWTs"
        )


def issuer() -> str:
    """The issuer of the request being served: its scheme and Host."""
    value = _issuer.get()
    if value is None:
        raise RuntimeError("the generic provider's issuer is known only while serving a request")
    return value


def audience() -> str:
    """The ``aud`` of access tokens: the resource server (the V3 API) at this origin."""
    return issuer() + API_PATH


def token_issuer(config: EmulatorConfig) -> str:
    """``iss`` for the tokens the emulator signs (ID tokens too) in either mode."""
    return issuer() if enabled(config) else _cc.ISSUER


class IssuerMiddleware:
    """Remember each request's origin: the generic provider's issuer for that request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        url = URL(scope=scope)
        reset = _issuer.set(f"{url.scheme}://{url.netloc}")
        try:
            await self.app(scope, receive, send)
        finally:
            _issuer.reset(reset)


def paths(config: EmulatorConfig) -> dict[str, str]:
    """Where each endpoint is served, in either mode (``GET /__emulator/config``)."""
    if not enabled(config):
        return {
            "authorize": _cc.AUTHORIZE_PATH,
            "token": _cc.TOKEN_PATH,
            "device_authorize": _cc.DEVICE_AUTHORIZE_PATH,
            "revoke": _cc.REVOKE_PATH,
            "jwks": _cc.JWKS_PATH,
            "partner_token": _cc.PARTNER_TOKEN_PATH,
            "api": _cc.API_BASE_PATH,
        }
    return {
        "authorize": AUTHORIZE_PATH,
        "token": TOKEN_PATH,
        "device_authorize": DEVICE_AUTHORIZE_PATH,
        "revoke": REVOKE_PATH,
        "jwks": JWKS_PATH,
        "api": API_PATH,
        "openid_configuration": OIDC_DISCOVERY_PATH,
        "oauth_authorization_server": RFC8414_DISCOVERY_PATH,
    }


def describe(config: EmulatorConfig) -> dict[str, Any]:
    """The mode's part of ``GET /__emulator/config``."""
    if not enabled(config):
        return {"provider": "constant-contact", "issuer": _cc.ISSUER, "audience": _cc.AUDIENCE}
    return {
        "provider": MODE,
        "issuer": issuer(),
        "audience": audience(),
        "access_token_format": config.access_token_format,
    }


def metadata(config: EmulatorConfig) -> dict[str, Any]:
    """The discovery document (RFC 8414 section 2; OpenID Connect Discovery 1.0 section 3)."""
    base = issuer()
    auth_methods = ["client_secret_basic", "client_secret_post", "none"]
    if not config.allow_client_secret_post:
        auth_methods.remove("client_secret_post")
    return {
        "issuer": base,
        "authorization_endpoint": base + AUTHORIZE_PATH,
        "token_endpoint": base + TOKEN_PATH,
        "device_authorization_endpoint": base + DEVICE_AUTHORIZE_PATH,
        "revocation_endpoint": base + REVOKE_PATH,
        "jwks_uri": base + JWKS_PATH,
        "scopes_supported": sorted(ALLOWED_SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": [
            "authorization_code",
            "refresh_token",
            _cc.DEVICE_CODE_GRANT,
        ],
        "token_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "code_challenge_methods_supported": ["S256"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "claims_supported": ["iss", "sub", "aud", "iat", "exp", "auth_time", "nonce"],
    }


def routes(emu: Emulator) -> list[BaseRoute]:
    """The authorization server's routes at this mode's paths, plus discovery."""
    from ctct.emulator.oauth import _bind as bind
    from ctct.emulator.oauth_authorize import authorize_get, authorize_post
    from ctct.emulator.oauth_device import (
        ACTIVATE_PATH,
        activate_get,
        activate_post,
        device_authorize_endpoint,
    )
    from ctct.emulator.oauth_revoke import revoke_endpoint
    from ctct.emulator.oauth_token import token_endpoint

    async def discovery(request: Request) -> Response:
        return JSONResponse(metadata(emu.config), headers={"Cache-Control": "max-age=300"})

    async def jwks(request: Request) -> Response:
        return JSONResponse(emu.keys.jwks(), headers={"Cache-Control": "max-age=300"})

    return [
        Route(OIDC_DISCOVERY_PATH, discovery, methods=["GET"]),
        Route(RFC8414_DISCOVERY_PATH, discovery, methods=["GET"]),
        Route(AUTHORIZE_PATH, bind(emu, authorize_get), methods=["GET"]),
        Route(AUTHORIZE_PATH, bind(emu, authorize_post), methods=["POST"]),
        Route(TOKEN_PATH, bind(emu, token_endpoint), methods=["POST"]),
        Route(DEVICE_AUTHORIZE_PATH, bind(emu, device_authorize_endpoint), methods=["POST"]),
        Route(REVOKE_PATH, bind(emu, revoke_endpoint), methods=["POST"]),
        Route(JWKS_PATH, jwks, methods=["GET"]),
        Route(ACTIVATE_PATH, bind(emu, activate_get), methods=["GET"]),
        Route(ACTIVATE_PATH, bind(emu, activate_post), methods=["POST"]),
    ]


def client_env(config: EmulatorConfig, base_url: str) -> dict[str, str]:
    """The environment that points ctct at an emulator at ``base_url``, in either mode:
    Constant Contact's profile with its hosts replaced, or discovery from the issuer."""
    app = config.default_app
    if enabled(config):
        env = {"CTCT_ISSUER": base_url, "CTCT_CLIENT_ID": app.client_id}
        if config.access_token_format == "jwt":
            env["CTCT_AUDIENCE"] = base_url + API_PATH  # have ctct check `aud` too
    else:
        env = {"CTCT_BASE_URL": base_url, "CTCT_CLIENT_ID": app.client_id}
    if app.client_secret is not None:
        env["CTCT_CLIENT_SECRET"] = app.client_secret
    return env


def endpoints(config: EmulatorConfig) -> list[tuple[str, str]]:
    """(name, path) of what ``ctct emulator`` lists on start."""
    where = paths(config)
    listed = [
        ("authorize", where["authorize"]),
        ("token", where["token"]),
        ("device", where["device_authorize"]),
        ("revoke", where["revoke"]),
        ("JWKS", where["jwks"]),
        ("V3 API", where["api"]),
        ("control", "/__emulator/config"),
    ]
    if enabled(config):
        listed.insert(0, ("discovery", OIDC_DISCOVERY_PATH))
    return listed
