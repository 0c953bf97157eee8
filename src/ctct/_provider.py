"""The provider profile: where an OAuth2 authorization server lives and what its tokens
look like.

Three ways to get one:

* ``Provider.constant_contact()`` - Constant Contact V3 (the default), optionally with
  ``base_url`` pointing all of CC's hosts at one origin such as the emulator, and
  ``auth_url``/``identity_url``/``api_url`` pointing each of CC's three hosts (the
  authorization server, the identity host serving the JWKS, the V3 API) at its own;
* ``Provider.from_metadata(...)`` - an RFC 8414 / OpenID Connect discovery document
  (fetching it is I/O: see ``ctct._oauth_http.discover``);
* ``Provider(issuer=..., token_endpoint=..., ...)`` - explicit endpoints.

``storage_issuer`` is the issuer half of the key stored grants are filed under. It
differs whenever the hosts differ, so a profile pointed at an emulator (or any other
origin) can never be handed a production refresh token or secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from urllib.parse import urlsplit

from ctct import _cc
from ctct._redact import server_text
from ctct._urls import is_loopback_host, origin_of, require_safe_url
from ctct.errors import ConfigError

PkceMode = Literal["auto", "always", "never"]
"""When the authorization code flow sends PKCE (RFC 7636): ``always``; ``auto``, only
when the client has no secret (a provider may refuse PKCE from a confidential client, as
CC might: its server flow has none); ``never`` (a provider without PKCE support)."""
PKCE_MODES: tuple[PkceMode, ...] = ("auto", "always", "never")

AccessTokenFormat = Literal["jwt", "opaque", "auto"]
"""``jwt``: access tokens must be JWTs and are verified; ``opaque``: never parsed
(``expires_in`` alone sets the expiry); ``auto``: verified when they parse as a JWS and
the provider publishes a JWKS, else treated as opaque."""

# Algorithms a client can verify with a published public key. "none" and the HMAC
# family are refused outright: with HS256 the "key" would be public JWKS bytes.
_ALLOWED_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


@dataclass(frozen=True)
class Provider:
    """An authorization server profile. Build with the class methods or explicitly."""

    issuer: str
    token_endpoint: str
    authorization_endpoint: str | None = None
    device_authorization_endpoint: str | None = None
    revocation_endpoint: str | None = None
    jwks_uri: str | None = None
    audience: str | None = None
    """Expected ``aud`` of access tokens; ``None`` skips the audience check."""
    api_base_url: str | None = None
    name: str = "custom"
    storage_issuer: str = ""
    """Key under which grants from this provider are stored; derived when left empty."""
    scopes_supported: frozenset[str] | None = None
    default_scopes: tuple[str, ...] = ()
    offline_scope: str | None = "offline_access"
    access_token_format: AccessTokenFormat = "auto"
    signing_algorithms: tuple[str, ...] = ("RS256",)
    client_id_claims: tuple[str, ...] = ("client_id", "cid")
    """Claims that name the client (RFC 9068 ``client_id``, CC/Okta ``cid``)."""
    require_client_id_claim: bool = False
    api_rate_per_second: float | None = None
    api_daily_quota: int | None = None
    token_rate_per_second: float | None = None
    refresh_token_idle_ttl: int | None = None
    """Seconds a refresh token survives unused (CC: 180 days); ``None`` if unknown."""
    base_url: str | None = None
    """Set when CC's authorization server was pointed at another origin
    (``CTCT_BASE_URL`` or ``CTCT_AUTH_URL``): that origin."""
    pkce: PkceMode = "always"
    """When to send PKCE (see ``PkceMode``); RFC 9700 recommends it for every client."""
    device_poll_at_once: bool = False
    """Poll a device login's token at once instead of one ``interval`` after the code was
    issued. Only for an emulator (``local_pacing``): a real provider answers a poll that
    comes before the first interval with ``slow_down``, adding 5 s to every later wait."""
    metadata: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        _require_issuer(self.issuer)
        for what, url in self._endpoints().items():
            if url is not None:
                require_safe_url(url, what=f"{self.name} {what}")
        bad = [a for a in self.signing_algorithms if a not in _ALLOWED_ALGORITHMS]
        if bad or not self.signing_algorithms:
            raise ConfigError(
                f"Signing algorithms {bad or '(none)'} cannot be used to verify access tokens: "
                f"choose from {sorted(_ALLOWED_ALGORITHMS)}."
            )
        if self.access_token_format == "jwt" and self.jwks_uri is None:
            raise ConfigError(
                f"The {self.name} profile says access tokens are JWTs but has no JWKS URI "
                "to verify them with: set jwks_uri, or access_token_format='opaque'."
            )
        if not self.storage_issuer:
            object.__setattr__(self, "storage_issuer", _derive_storage_issuer(self))

    def _endpoints(self) -> dict[str, str | None]:
        return {
            "token endpoint": self.token_endpoint,
            "authorization endpoint": self.authorization_endpoint,
            "device authorization endpoint": self.device_authorization_endpoint,
            "revocation endpoint": self.revocation_endpoint,
            "JWKS URI": self.jwks_uri,
            "API base URL": self.api_base_url,
        }

    @property
    def is_constant_contact(self) -> bool:
        return self.name == "constant-contact"

    def uses_pkce(self, confidential: bool) -> bool:
        """Whether an authorization request from this client carries PKCE."""
        if self.pkce == "auto":
            return not confidential
        return self.pkce == "always"

    @property
    def is_local(self) -> bool:
        """The token endpoint is on loopback: an emulator (whose clock can be advanced)."""
        return is_loopback_host(urlsplit(self.token_endpoint).hostname or "")

    def local_pacing(self) -> Provider:
        """This profile, polling device logins at once when its token endpoint is on
        loopback (an emulator: it measures only between polls, and one started with
        ``--auto-approve`` has the grant ready at the first poll)."""
        if not self.is_local or self.device_poll_at_once:
            return self
        return replace(self, device_poll_at_once=True)

    @classmethod
    def constant_contact(
        cls,
        base_url: str | None = None,
        *,
        auth_url: str | None = None,
        identity_url: str | None = None,
        api_url: str | None = None,
        pkce: PkceMode = "auto",
    ) -> Provider:
        """Constant Contact V3; with ``base_url``, every CC host is replaced by that origin.

        ``auth_url``, ``identity_url`` and ``api_url`` replace one host each (the
        authorization server; the identity host, whose JWKS verifies tokens; the V3 API),
        as ``ctct emulator --split-hosts`` serves them; the ones not given fall back to
        ``base_url``, else to CC's own host. Each is a base URL, CC's paths are appended.

        The issuer and audience stay CC's literal values (the emulator mints exactly
        those), but ``storage_issuer`` gains the authorization server's URL when it is
        not CC's, so grants never mix. ``pkce`` defaults to ``auto``: CC documents PKCE
        for public clients and the secret for server apps, never both.
        """
        common: dict[str, Any] = {
            "issuer": _cc.ISSUER,
            "audience": _cc.AUDIENCE,
            "name": "constant-contact",
            "scopes_supported": _cc.SCOPES,
            "default_scopes": (*_cc.DEFAULT_SCOPES, "offline_access"),
            "access_token_format": "jwt",
            "signing_algorithms": ("RS256",),
            "client_id_claims": ("cid", "client_id"),
            "require_client_id_claim": True,
            "api_rate_per_second": _cc.API_RATE_PER_SECOND,
            "api_daily_quota": _cc.API_DAILY_QUOTA,
            "token_rate_per_second": _cc.TOKEN_RATE_PER_SECOND,
            "refresh_token_idle_ttl": _cc.REFRESH_TOKEN_IDLE_TTL,
            "pkce": pkce,
        }
        base = None if base_url is None else normalize_base_url(base_url, what="CTCT_BASE_URL")

        def host(given: str | None, setting: str, real: str) -> str:
            if given is not None:
                return normalize_base_url(given, what=setting)
            return base if base is not None else real

        authz = host(auth_url, "CTCT_AUTH_URL", _cc.AUTHZ_ORIGIN)
        identity = host(identity_url, "CTCT_IDENTITY_URL", _cc.IDENTITY_ORIGIN)
        api = host(api_url, "CTCT_API_URL", _cc.API_ORIGIN)
        redirected = authz != _cc.AUTHZ_ORIGIN
        storage = _cc.ISSUER
        if redirected:
            # An RFC 8414 issuer has no fragment, so this key can never equal a real one.
            storage = f"{_cc.ISSUER}#via={authz}"
        return cls(
            token_endpoint=authz + _cc.TOKEN_PATH,
            authorization_endpoint=authz + _cc.AUTHORIZE_PATH,
            device_authorization_endpoint=authz + _cc.DEVICE_AUTHORIZE_PATH,
            revocation_endpoint=authz + _cc.REVOKE_PATH,
            jwks_uri=identity + _cc.JWKS_PATH,
            api_base_url=api + _cc.API_BASE_PATH,
            storage_issuer=storage,
            base_url=authz if redirected else None,
            **common,
        )

    @classmethod
    def from_metadata(
        cls,
        metadata: Mapping[str, Any],
        *,
        expected_issuer: str,
        audience: str | None = None,
        access_token_format: AccessTokenFormat = "auto",  # noqa: S107 - not a password
        default_scopes: tuple[str, ...] = (),
        signing_algorithms: tuple[str, ...] | None = None,
    ) -> Provider:
        """Build a profile from an RFC 8414 / OIDC discovery document.

        The document's ``issuer`` must equal ``expected_issuer`` exactly (RFC 8414
        section 3.3), else a document from one server could impersonate another.
        """
        issuer = metadata.get("issuer")
        if issuer != expected_issuer:
            raise ConfigError(
                f"The discovery document names issuer {server_text(repr(issuer))}, not the "
                "configured "
                f"{expected_issuer!r} (RFC 8414 section 3.3 requires them to be equal). "
                "Check CTCT_ISSUER; a mismatch can mean the URL points at the wrong server."
            )
        token_endpoint = metadata.get("token_endpoint")
        if not isinstance(token_endpoint, str):
            raise ConfigError(
                f"The discovery document of {expected_issuer} has no token_endpoint: "
                "configure the endpoints explicitly instead."
            )
        algorithms = signing_algorithms
        if algorithms is None:
            published = metadata.get("id_token_signing_alg_values_supported")
            usable = (
                [a for a in published if a in _ALLOWED_ALGORITHMS]
                if isinstance(published, list)
                else []
            )
            algorithms = tuple(usable) or ("RS256",)
        scopes = metadata.get("scopes_supported")
        return cls(
            issuer=expected_issuer,
            token_endpoint=token_endpoint,
            authorization_endpoint=_optional_str(metadata, "authorization_endpoint"),
            device_authorization_endpoint=_optional_str(metadata, "device_authorization_endpoint"),
            revocation_endpoint=_optional_str(metadata, "revocation_endpoint"),
            jwks_uri=_optional_str(metadata, "jwks_uri"),
            audience=audience,
            name="custom",
            # Discovery anchors trust in the issuer: its own document named these hosts.
            storage_issuer=expected_issuer,
            scopes_supported=(
                frozenset(s for s in scopes if isinstance(s, str))
                if isinstance(scopes, list)
                else None
            ),
            default_scopes=default_scopes,
            access_token_format=access_token_format,
            signing_algorithms=algorithms,
            metadata=dict(metadata),
        )


def normalize_base_url(base_url: str, *, what: str = "CTCT_BASE_URL") -> str:
    """Check a base URL (``https``, or ``http`` on loopback) and drop a trailing slash."""
    require_safe_url(base_url, what=f"base URL ({what})")
    parts = urlsplit(base_url)
    if parts.query or parts.fragment:
        raise ConfigError(f"The base URL ({what}) must not have a query or fragment.")
    return origin_of(base_url) + parts.path.rstrip("/")


def _require_issuer(issuer: str) -> None:
    require_safe_url(issuer, what="issuer")
    parts = urlsplit(issuer)
    if parts.query or parts.fragment:
        raise ConfigError(
            f"The issuer {issuer!r} has a query or fragment; RFC 8414 issuers have neither."
        )


def _derive_storage_issuer(provider: Provider) -> str:
    # With explicit endpoints the token endpoint was chosen by hand, not named by the
    # issuer: if it is on another origin, file its grants apart from the issuer's.
    token_origin = origin_of(provider.token_endpoint)
    if token_origin == origin_of(provider.issuer):
        return provider.issuer
    return f"{provider.issuer}#via={token_origin}"


def _optional_str(metadata: Mapping[str, Any], key: str) -> str | None:
    value = metadata.get(key)
    return value if isinstance(value, str) else None
