"""JWT verification against real keys served over real HTTP (emulator and loopback)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import httpx2
import jwt as pyjwt
import pytest
from joserfc import jwt as jose_jwt
from joserfc.jwk import ECKey, RSAKey
from starlette.responses import JSONResponse, Response

from ctct import _cc
from ctct._jwt import JwksCache, JwtVerifier
from ctct._oauth_http import afetch_jwks, fetch_jwks
from ctct._peek import peek_claims
from ctct._provider import Provider
from ctct._secret import Secret
from ctct.emulator import Emulator
from ctct.emulator.config import DEFAULT_CLIENT_ID
from ctct.emulator.server import EmulatorServer
from ctct.emulator.tokens import mint_access_token
from ctct.errors import TokenValidationError, TransientProviderError
from tests.core._loopback import LoopbackServer
from tests.core.conftest import FakeClock

SCOPES = ("account_read", "contact_data", "offline_access")


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_for(emu: Emulator, **changes: Any) -> dict[str, Any]:
    now = int(emu.clock.now())
    claims: dict[str, Any] = {
        "ver": 1,
        "jti": "AT.test",
        "iss": _cc.ISSUER,
        "aud": _cc.AUDIENCE,
        "iat": now,
        "exp": now + 3600,
        "cid": DEFAULT_CLIENT_ID,
        "scp": list(SCOPES),
        "sub": "alice@example.com",
        "platform_user_id": "u1",
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


class Setup:
    """A verifier for CC's profile whose JWKS comes from a loopback server."""

    def __init__(self, emu: Emulator, server: LoopbackServer, *, cooldown: float = 30.0) -> None:
        self.emu = emu
        self.server = server
        self.jwks_doc: dict[str, Any] = emu.keys.jwks()
        server.routes["/keys"] = lambda request: JSONResponse(self.jwks_doc)
        self.clock = FakeClock(emu.clock.now())
        self.verifier = JwtVerifier.for_provider(
            Provider.constant_contact(),
            DEFAULT_CLIENT_ID,
            clock=self.clock,
            jwks_cache=JwksCache(cooldown=cooldown),
        )
        self.client = httpx2.Client()

    def fetch(self) -> bytes:
        return fetch_jwks(self.client, self.server.base_url + "/keys")

    def verify(self, token: str) -> Any:
        return self.verifier.verify(token, self.fetch)

    def reject(self, token: str, check: str) -> TokenValidationError:
        with pytest.raises(TokenValidationError) as info:
            self.verify(token)
        error = info.value
        assert error.check == check, error.message
        assert error.code == check
        assert f"check: {check}" in str(error)
        # Never the token, nor any of its parts, in the message.
        for part in token.split("."):
            if len(part) > 8:
                assert part not in str(error)
        return error


@pytest.fixture
def setup(emu: Emulator, loopback: LoopbackServer) -> Setup:
    return Setup(emu, loopback)


def test_emulator_token_verifies_with_jwks_from_running_emulator() -> None:
    with EmulatorServer() as server, httpx2.Client() as client:
        emu = server.emulator
        minted = mint_access_token(
            emu,
            client_id=DEFAULT_CLIENT_ID,
            user=emu.config.default_user,
            scopes=SCOPES,
            grant_id=None,
        )
        verifier = JwtVerifier.for_provider(
            Provider.constant_contact(server.base_url), DEFAULT_CLIENT_ID, clock=emu.clock.now
        )
        jwks_uri = Provider.constant_contact(server.base_url).jwks_uri
        assert jwks_uri == server.base_url + _cc.JWKS_PATH
        claims = verifier.verify(Secret(minted.token), lambda: fetch_jwks(client, jwks_uri))
    assert claims.issuer == _cc.ISSUER
    assert claims.client_id == DEFAULT_CLIENT_ID
    assert claims.subject == emu.config.default_user.username
    assert claims.scopes == frozenset(SCOPES)
    assert claims.expires_at == minted.expires_at
    assert claims.jti == minted.jti


@pytest.mark.anyio
async def test_async_verify_fetches_jwks_with_async_client(
    emu: Emulator, loopback: LoopbackServer
) -> None:
    loopback.routes["/keys"] = lambda request: JSONResponse(emu.keys.jwks())
    minted = mint_access_token(
        emu,
        client_id=DEFAULT_CLIENT_ID,
        user=emu.config.default_user,
        scopes=SCOPES,
        grant_id=None,
    )
    verifier = JwtVerifier.for_provider(
        Provider.constant_contact(), DEFAULT_CLIENT_ID, clock=emu.clock.now
    )
    async with httpx2.AsyncClient() as client:
        claims = await verifier.averify(
            minted.token, lambda: afetch_jwks(client, loopback.base_url + "/keys")
        )
    assert claims.scopes == frozenset(SCOPES)
    assert loopback.hits["/keys"] == 1


def test_independent_verifier_agrees(setup: Setup) -> None:
    token = setup.emu.keys.sign(claims_for(setup.emu))
    ours = setup.verify(token)
    key = RSAKey.import_key(setup.jwks_doc["keys"][-1]).as_pem(private=False)
    theirs = pyjwt.decode(
        token, key, algorithms=["RS256"], audience=_cc.AUDIENCE, issuer=_cc.ISSUER
    )
    assert dict(ours.claims) == theirs


def test_jwks_is_cached(setup: Setup) -> None:
    for _ in range(3):
        setup.verify(setup.emu.keys.sign(claims_for(setup.emu)))
    assert setup.server.hits["/keys"] == 1


def test_alg_none_rejected(setup: Setup) -> None:
    header = {"alg": "none", "kid": setup.emu.keys.active_kid}
    token = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims_for(setup.emu)).encode())}."
    error = setup.reject(token, "algorithm")
    assert "'none'" in error.message


def test_hs256_signed_with_rsa_public_key_rejected(setup: Setup) -> None:
    # The classic key-confusion attack: HMAC "signed" with the public key's bytes.
    jwk = setup.jwks_doc["keys"][-1]
    public_pem = RSAKey.import_key(jwk).as_pem(private=False)
    header = {"alg": "HS256", "typ": "JWT", "kid": jwk["kid"]}
    signing_input = (
        f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims_for(setup.emu)).encode())}"
    )
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    setup.reject(f"{signing_input}.{b64(signature)}", "algorithm")
    assert setup.server.hits["/keys"] == 0  # refused before any key was looked up


def test_algorithm_must_fit_key_type(setup: Setup) -> None:
    # An EC key published under a kid, and a token claiming RS256 with that kid.
    ec = ECKey.generate_key("P-256", parameters={"kid": "ec-1"})
    setup.jwks_doc = {"keys": [*setup.jwks_doc["keys"], dict(ec.as_dict(private=False))]}
    rsa = RSAKey.generate_key(2048, parameters={"kid": "ec-1"})
    token = jose_jwt.encode({"alg": "RS256", "kid": "ec-1"}, claims_for(setup.emu), rsa)
    setup.reject(token, "algorithm")


def test_unknown_kid_refetches_once_then_cools_down(setup: Setup) -> None:
    setup.verify(setup.emu.keys.sign(claims_for(setup.emu)))
    assert setup.server.hits["/keys"] == 1
    stranger = RSAKey.generate_key(2048, parameters={"kid": "not-published"})
    forged = jose_jwt.encode(
        {"alg": "RS256", "kid": "not-published"}, claims_for(setup.emu), stranger
    )

    setup.reject(forged, "key")
    assert setup.server.hits["/keys"] == 2  # one refetch: keys may have rotated
    for _ in range(5):
        setup.reject(forged, "key")
    assert setup.server.hits["/keys"] == 2  # cooldown: a flood of bad kids is not forwarded

    setup.clock.advance(31)
    setup.reject(forged, "key")
    assert setup.server.hits["/keys"] == 3


def test_rotated_key_found_by_refetch(setup: Setup) -> None:
    setup.verify(setup.emu.keys.sign(claims_for(setup.emu)))
    setup.emu.keys.rotate()
    setup.jwks_doc = setup.emu.keys.jwks()
    claims = setup.verify(setup.emu.keys.sign(claims_for(setup.emu)))
    assert claims.issuer == _cc.ISSUER
    assert setup.server.hits["/keys"] == 2


def test_expired_rejected_after_leeway(setup: Setup) -> None:
    now = int(setup.clock())
    token = setup.emu.keys.sign(claims_for(setup.emu, iat=now - 3600, exp=now - 30))
    assert setup.verify(token).expires_at == now - 30  # inside the 60 s leeway
    setup.clock.advance(31)
    error = setup.reject(token, "expiry")
    assert "expired" in error.message


def test_missing_exp_rejected(setup: Setup) -> None:
    setup.reject(setup.emu.keys.sign(claims_for(setup.emu, exp=None)), "expiry")


@pytest.mark.parametrize(
    ("changes", "check"),
    [
        ({"iss": "https://evil.example/oauth2/x"}, "issuer"),
        ({"aud": "https://api.example/v1"}, "audience"),
        ({"aud": ["https://a.example", "https://b.example"]}, "audience"),
        ({"cid": "someone-elses-client"}, "client_id"),
        ({"cid": None, "client_id": "someone-elses-client"}, "client_id"),
        ({"cid": None}, "client_id"),  # CC always names the client
        ({"nbf": 10**10}, "not-before"),
        ({"iat": 10**10}, "issued-at"),
    ],
)
def test_claim_checks(setup: Setup, changes: dict[str, Any], check: str) -> None:
    setup.reject(setup.emu.keys.sign(claims_for(setup.emu, **changes)), check)


def test_audience_list_containing_ours_accepted(setup: Setup) -> None:
    token = setup.emu.keys.sign(claims_for(setup.emu, aud=["https://other", _cc.AUDIENCE]))
    assert setup.verify(token).client_id == DEFAULT_CLIENT_ID


def test_rfc9068_client_id_accepted_for_generic_provider(setup: Setup) -> None:
    verifier = JwtVerifier(issuer=_cc.ISSUER, client_id="app-1", clock=setup.clock, audience=None)
    token = setup.emu.keys.sign(claims_for(setup.emu, cid=None, client_id="app-1"))
    assert verifier.verify(token, setup.fetch).client_id == "app-1"
    # A provider that names no client at all is fine when not required.
    anonymous = setup.emu.keys.sign(claims_for(setup.emu, cid=None))
    assert verifier.verify(anonymous, setup.fetch).client_id is None


def test_truncated_and_tampered_tokens(setup: Setup) -> None:
    token = setup.emu.keys.sign(claims_for(setup.emu))
    header, payload, signature = token.split(".")
    setup.reject(f"{header}.{payload}", "malformed")
    setup.reject(token[: len(header) + 10], "malformed")
    setup.reject(f"{header}.{payload}.{signature[:-12]}", "signature")
    setup.reject("x.y.z", "malformed")
    setup.reject(f"{header}.!!!.{signature}", "malformed")
    evil = b64(json.dumps(claims_for(setup.emu, scp=["billing_data"])).encode())
    setup.reject(f"{header}.{evil}.{signature}", "signature")


def test_oversized_rejected_without_network(setup: Setup) -> None:
    token = setup.emu.keys.sign(claims_for(setup.emu, padding="x" * 20_000))
    setup.reject(token, "oversized")
    assert setup.server.hits["/keys"] == 0


def test_jwks_with_private_or_foreign_keys_skips_them(setup: Setup) -> None:
    private = dict(setup.emu.keys.key_set().keys[0].as_dict(private=True))
    setup.jwks_doc = {"keys": [private, {"kty": "weird", "kid": "w"}, *setup.jwks_doc["keys"]]}
    token = setup.emu.keys.sign(claims_for(setup.emu))
    assert setup.verify(token).issuer == _cc.ISSUER


def test_peek_claims() -> None:
    assert peek_claims("opaque-token-value") is None
    assert peek_claims("a.b.c") is None
    token = jose_jwt.encode({"alg": "RS256"}, {"exp": 5}, RSAKey.generate_key(2048))
    assert peek_claims(token) == {"exp": 5}


def test_verifier_refuses_symmetric_algorithms(clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="asymmetric"):
        JwtVerifier(issuer="https://i", client_id="c", clock=clock, algorithms=("HS256",))


def test_stale_jwks_kept_when_refetch_fails(setup: Setup) -> None:
    token = setup.emu.keys.sign(claims_for(setup.emu, exp=int(setup.clock()) + 7200))
    setup.verify(token)
    setup.server.routes["/keys"] = lambda request: Response("down", status_code=503)
    setup.clock.advance(3601)  # past max_age: the cache wants a refetch, which fails
    assert setup.verify(token).issuer == _cc.ISSUER
    assert setup.server.hits["/keys"] == 2


def test_unknown_kid_with_failing_jwks_reports_the_outage(setup: Setup) -> None:
    setup.verify(setup.emu.keys.sign(claims_for(setup.emu)))
    setup.server.routes["/keys"] = lambda request: Response("down", status_code=503)
    stranger = RSAKey.generate_key(2048, parameters={"kid": "new-kid"})
    token = jose_jwt.encode({"alg": "RS256", "kid": "new-kid"}, claims_for(setup.emu), stranger)
    with pytest.raises(TransientProviderError):
        setup.verify(token)
