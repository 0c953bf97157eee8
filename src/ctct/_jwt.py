"""Verifying JWT access tokens (RFC 9068 / Constant Contact's Okta tokens) with joserfc.

Checks, each reported as ``TokenValidationError(check=...)``:
``oversized``, ``malformed``, ``algorithm`` (only the provider's allowed asymmetric
algorithms; never ``none``; the key's type must fit the algorithm, so an HS256 token
"signed" with public RSA key bytes fails), ``key`` (kid not in the JWKS), ``signature``,
``issuer``, ``audience``, ``expiry``, ``not-before``, ``issued-at`` (all with leeway) and
``client_id`` (``cid`` or RFC 9068 ``client_id`` equal to ours where present).

Times are compared on the provider's clock: ``verify(..., skew=)`` takes the offset
measured from the provider's ``Date`` header (``TokenSet.clock_skew``, the same one the
expiry maths uses) and applies it within ``ctct._clock``'s bound, so a machine whose
clock is a few minutes off in either direction still verifies fresh tokens, and one
that is badly off is told so.

The JWKS is cached. A token whose ``kid`` is unknown triggers one refetch (keys
rotate); further unknown kids within ``jwks_cooldown`` seconds are rejected without
asking the provider again, so a flood of forged kids cannot hammer it. Fetching is the
caller's I/O (``fetch_jwks``), so one verifier serves sync and async code.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, TypeGuard

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, Key, OKPKey, RSAKey

from ctct import _clock, _peek
from ctct._redact import server_text
from ctct._secret import Secret
from ctct.errors import CtctError, TokenValidationError, TransientProviderError

if TYPE_CHECKING:
    from ctct._provider import Provider

log = logging.getLogger("ctct.jwt")

DEFAULT_LEEWAY: Final = 60.0
DEFAULT_JWKS_COOLDOWN: Final = 30.0
DEFAULT_JWKS_MAX_AGE: Final = 3600.0
MAX_TOKEN_BYTES: Final = _peek.MAX_TOKEN_BYTES

Clock = Callable[[], float]
JwksDocument = bytes | Mapping[str, Any]

_KEY_TYPES: Final[dict[str, type[Key]]] = {
    "RS": RSAKey,
    "PS": RSAKey,
    "ES": ECKey,
    "Ed": OKPKey,
}


@dataclass(frozen=True)
class AccessTokenClaims:
    """The verified claims of an access token."""

    issuer: str
    subject: str | None
    client_id: str | None
    scopes: frozenset[str]
    expires_at: float
    issued_at: float | None
    jti: str | None
    claims: Mapping[str, Any] = field(repr=False)


class JwksCache:
    """The provider's signing keys, with the refetch policy described above."""

    def __init__(
        self,
        *,
        cooldown: float = DEFAULT_JWKS_COOLDOWN,
        max_age: float = DEFAULT_JWKS_MAX_AGE,
    ) -> None:
        self.cooldown = cooldown
        self.max_age = max_age
        self._lock = threading.Lock()
        self._keys: dict[str | None, Key] = {}
        self._loaded_at: float | None = None
        self._last_miss_refetch: float | None = None
        self.fetches = 0
        """How many times a fetch was started (for tests and status)."""

    def key(self, kid: str | None) -> Key | None:
        with self._lock:
            if kid is None and len(self._keys) == 1:
                return next(iter(self._keys.values()))
            return self._keys.get(kid)

    def should_fetch(self, kid: str | None, now: float) -> bool:
        """Whether to fetch before looking ``kid`` up; reserves the fetch if so."""
        with self._lock:
            if self._loaded_at is None or now - self._loaded_at >= self.max_age:
                self.fetches += 1
                return True
            known = kid in self._keys or (kid is None and len(self._keys) == 1)
            if known:
                return False
            if self._last_miss_refetch is not None and now - self._last_miss_refetch < (
                self.cooldown
            ):
                return False
            self._last_miss_refetch = now
            self.fetches += 1
            return True

    def load(self, document: JwksDocument, now: float) -> None:
        """Replace the keys with those of a JWKS document (bytes or parsed)."""
        if isinstance(document, bytes | bytearray):
            try:
                document = json.loads(document)
            except (ValueError, UnicodeDecodeError):
                raise TransientProviderError("The provider's JWKS is not valid JSON.") from None
        raw_keys = document.get("keys") if isinstance(document, Mapping) else None
        if not isinstance(raw_keys, list):
            raise TransientProviderError("The provider's JWKS has no 'keys' list.")
        keys: dict[str | None, Key] = {}
        for raw in raw_keys:
            if not isinstance(raw, dict) or raw.get("use", "sig") != "sig":
                continue
            if any(k in raw for k in ("d", "p", "q", "k")):
                continue  # private or symmetric material has no place in a JWKS
            try:
                key = _import_public_key(raw)
            except (JoseError, ValueError, TypeError):
                continue  # an unsupported key type must not hide the usable ones
            kid = raw.get("kid")
            keys[kid if isinstance(kid, str) else None] = key
        with self._lock:
            self._keys = keys
            self._loaded_at = now


def _import_public_key(raw: dict[str, Any]) -> Key:
    kty = raw.get("kty")
    if kty == "RSA":
        return RSAKey.import_key(raw)
    if kty == "EC":
        return ECKey.import_key(raw)
    if kty == "OKP":
        return OKPKey.import_key(raw)
    raise ValueError(f"unsupported kty {kty!r}")


@dataclass(frozen=True)
class _Parsed:
    obj: jws.CompactSignature
    alg: str
    kid: str | None


class JwtVerifier:
    """Verifies access tokens for one provider and client. Thread-safe.

    ``clock`` returns epoch seconds. ``fetch_jwks`` (given per call) returns the JWKS
    document; it is called only when the cache needs it. ``emulated``: the provider
    runs on this machine (an emulator on loopback), whose clock can be advanced, so a
    token "issued in the future" is explained by that, not by this machine's clock.
    """

    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        clock: Clock,
        audience: str | None = None,
        algorithms: tuple[str, ...] = ("RS256",),
        client_id_claims: tuple[str, ...] = ("client_id", "cid"),
        require_client_id: bool = False,
        leeway: float = DEFAULT_LEEWAY,
        jwks_cache: JwksCache | None = None,
        max_token_bytes: int = MAX_TOKEN_BYTES,
        emulated: bool = False,
    ) -> None:
        if "none" in algorithms or any(a.startswith("HS") for a in algorithms):
            raise ValueError("access tokens must be verified with an asymmetric algorithm")
        self.issuer = issuer
        self.client_id = client_id
        self.audience = audience
        self.algorithms = algorithms
        self.client_id_claims = client_id_claims
        self.require_client_id = require_client_id
        self.leeway = leeway
        self.clock = clock
        self.jwks = jwks_cache or JwksCache()
        self.max_token_bytes = max_token_bytes
        self.emulated = emulated

    @classmethod
    def for_provider(
        cls,
        provider: Provider,
        client_id: str,
        *,
        clock: Clock,
        leeway: float = DEFAULT_LEEWAY,
        jwks_cache: JwksCache | None = None,
    ) -> JwtVerifier:
        """A verifier configured from a ``ctct._provider.Provider``."""
        return cls(
            issuer=provider.issuer,
            client_id=client_id,
            clock=clock,
            audience=provider.audience,
            algorithms=provider.signing_algorithms,
            client_id_claims=provider.client_id_claims,
            require_client_id=provider.require_client_id_claim,
            leeway=leeway,
            jwks_cache=jwks_cache,
            emulated=provider.is_local,
        )

    def verify(
        self,
        token: str | Secret,
        fetch_jwks: Callable[[], JwksDocument],
        *,
        skew: float = 0.0,
    ) -> AccessTokenClaims:
        """Verify ``token``; raises ``TokenValidationError`` naming the failed check.

        ``skew``: the provider's clock minus ours, as measured from its ``Date`` header
        (``TokenSet.clock_skew``); bounded by ``ctct._clock.MAX_CLOCK_OFFSET``.
        """
        parsed = self._parse(token)
        if self.jwks.should_fetch(parsed.kid, self.clock()):
            try:
                document = fetch_jwks()
            except CtctError as exc:
                self._fetch_failed(parsed, exc)
            else:
                self.jwks.load(document, self.clock())
        return self._check(parsed, skew)

    async def averify(
        self,
        token: str | Secret,
        fetch_jwks: Callable[[], Awaitable[JwksDocument]],
        *,
        skew: float = 0.0,
    ) -> AccessTokenClaims:
        """``verify`` for async code: ``fetch_jwks`` is awaited."""
        parsed = self._parse(token)
        if self.jwks.should_fetch(parsed.kid, self.clock()):
            try:
                document = await fetch_jwks()
            except CtctError as exc:
                self._fetch_failed(parsed, exc)
            else:
                self.jwks.load(document, self.clock())
        return self._check(parsed, skew)

    def _fetch_failed(self, parsed: _Parsed, exc: CtctError) -> None:
        # A stale cache that still holds the token's key beats failing outright; without
        # the key, the fetch failure (not a "key" check failure) is the real story.
        if self.jwks.key(parsed.kid) is None:
            raise exc
        log.warning("Could not refresh the JWKS (%s); using the cached keys.", exc.message)

    # -- steps ------------------------------------------------------------------------

    def _parse(self, token: str | Secret) -> _Parsed:
        value = token.reveal() if isinstance(token, Secret) else token
        if len(value) > self.max_token_bytes:
            raise _fail(
                "oversized",
                f"The access token is {len(value)} bytes, over the {self.max_token_bytes}-byte "
                "limit.",
            )
        if value.count(".") != 2:
            raise _fail("malformed", "The access token is not a JWS (three dot-separated parts).")
        try:
            obj = jws.extract_compact(value.encode("ascii"))
        except (JoseError, ValueError, TypeError, UnicodeError):
            raise _fail(
                "malformed", "The access token's header or payload cannot be decoded."
            ) from None
        header = obj.headers()
        alg, kid = header.get("alg"), header.get("kid")
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise _fail(
                "algorithm",
                f"The access token is signed with {_short(alg)}; this provider allows only "
                f"{', '.join(self.algorithms)}.",
            )
        if kid is not None and not isinstance(kid, str):
            raise _fail("malformed", "The access token's 'kid' header is not a string.")
        return _Parsed(obj, alg, kid)

    def _check(self, parsed: _Parsed, skew: float) -> AccessTokenClaims:
        key = self.jwks.key(parsed.kid)
        if key is None:
            raise _fail(
                "key",
                f"The access token's key id {_short(parsed.kid)} is not in the provider's JWKS "
                "(even after fetching it again).",
            )
        expected_type = _KEY_TYPES.get(parsed.alg[:2])
        if expected_type is None or not isinstance(key, expected_type):
            raise _fail(
                "algorithm",
                f"The access token's algorithm {parsed.alg} does not fit its key's type "
                f"({key.key_type}).",
            )
        key_alg = key.get("alg")
        if key_alg is not None and key_alg != parsed.alg:
            raise _fail(
                "algorithm",
                f"The access token uses {parsed.alg} but its key is published for {key_alg}.",
            )
        try:
            valid = jws.validate_compact(parsed.obj, key, algorithms=[parsed.alg])
        except JoseError:
            valid = False
        if not valid:
            raise _fail("signature", "The access token's signature does not verify.")
        try:
            claims = json.loads(parsed.obj.payload)
        except (ValueError, UnicodeDecodeError):
            claims = None
        if not isinstance(claims, dict):
            raise _fail("malformed", "The access token's payload is not a JSON object.")
        return self._check_claims(claims, skew)

    def _check_claims(self, claims: dict[str, Any], skew: float) -> AccessTokenClaims:
        now = self.clock()
        # iat/nbf/exp are in the provider's time: compare them with its clock, as measured
        # from its Date header (the offset the expiry maths uses), never the raw local one.
        now += _clock.usable_offset(skew)
        if claims.get("iss") != self.issuer:
            raise _fail(
                "issuer",
                f"The access token was issued by {_short(claims.get('iss'))}, not by "
                f"{self.issuer!r}.",
            )
        if self.audience is not None:
            aud = claims.get("aud")
            audiences = aud if isinstance(aud, list) else [aud]
            if self.audience not in audiences:
                raise _fail(
                    "audience",
                    f"The access token is meant for {_short(aud)}, not {self.audience!r}.",
                )
        exp = claims.get("exp")
        if not _is_time(exp):
            raise _fail("expiry", "The access token has no numeric 'exp' claim.")
        if now - self.leeway >= exp:
            raise _fail(
                "expiry",
                f"The access token expired {_clock.duration(now - exp)} ago (leeway "
                f"{_clock.duration(self.leeway)})"
                f"{self._expiry_hint(skew)}",
            )
        nbf = claims.get("nbf")
        if nbf is not None and not _is_time(nbf):
            raise _fail("not-before", "The access token's 'nbf' claim is not a number.")
        if nbf is not None and nbf > now + self.leeway:
            raise _fail(
                "not-before",
                f"The access token is not valid for another {_clock.duration(nbf - now)} "
                f"('nbf' in the future){self._future_hint(skew)}",
            )
        iat = claims.get("iat")
        if iat is not None and not _is_time(iat):
            raise _fail("issued-at", "The access token's 'iat' claim is not a number.")
        if iat is not None and iat > now + self.leeway:
            raise _fail(
                "issued-at",
                f"The access token claims to be issued {_clock.duration(iat - now)} in the "
                f"future ('iat'){self._future_hint(skew)}",
            )
        named = [claims[c] for c in self.client_id_claims if c in claims]
        if any(value != self.client_id for value in named):
            raise _fail(
                "client_id",
                f"The access token was issued to another client, not {self.client_id!r}.",
            )
        if not named and self.require_client_id:
            raise _fail(
                "client_id",
                f"The access token names no client ({' or '.join(self.client_id_claims)}).",
            )
        return AccessTokenClaims(
            issuer=self.issuer,
            subject=claims["sub"] if isinstance(claims.get("sub"), str) else None,
            client_id=named[0] if named else None,
            scopes=_scopes_of(claims),
            expires_at=float(exp),
            issued_at=float(iat) if _is_time(iat) else None,
            jti=claims["jti"] if isinstance(claims.get("jti"), str) else None,
            claims=claims,
        )

    def _future_hint(self, skew: float) -> str:
        """Why a token can look issued in the future, and what to do about it."""
        limit = _clock.duration(_clock.MAX_CLOCK_OFFSET)
        if self.emulated:
            measured = _clock.describe_offset(skew, whose="the emulator's")
            return (
                ". The emulator's clock is ahead of this machine's: it can be advanced "
                f"(POST /__emulator/clock/advance) and never goes back ({measured}, from its "
                f"Date header; ctct corrects for up to {limit}). Start a fresh emulator, or "
                "give ctct a clock that follows the emulator's (TokenManager(clock=...))."
            )
        measured = _clock.describe_offset(skew)
        if not _clock.offset_in_range(skew):
            return (
                f": {measured} (from its Date header), more than the {limit} ctct corrects "
                "for. Fix the system clock (NTP: `timedatectl set-ntp true`)."
            )
        return (
            f" even after correcting for the measured clock offset ({measured}): the "
            "provider's token and its Date header disagree. Check the system clock (NTP) "
            "and try again."
        )

    def _expiry_hint(self, skew: float) -> str:
        if _clock.offset_in_range(skew):
            return "."
        whose = "the emulator's" if self.emulated else "the provider's"
        return (
            f"; {_clock.describe_offset(skew, whose=whose)} (from its Date header), more "
            f"than the {_clock.duration(_clock.MAX_CLOCK_OFFSET)} ctct corrects for. Fix the "
            "system clock (NTP: `timedatectl set-ntp true`)."
        )


def _scopes_of(claims: Mapping[str, Any]) -> frozenset[str]:
    scp = claims.get("scp")
    if isinstance(scp, list):
        return frozenset(s for s in scp if isinstance(s, str))
    scope = claims.get("scope")  # RFC 9068 section 2.2.3
    return frozenset(scope.split()) if isinstance(scope, str) else frozenset()


def _is_time(value: object) -> TypeGuard[int | float]:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


def _short(value: object) -> str:
    # Headers and claims are the provider's text: JWT shapes masked, controls escaped.
    return server_text(repr(value), limit=120)


def _fail(check: str, message: str) -> TokenValidationError:
    return TokenValidationError(f"{message} [check: {check}]", check=check)
