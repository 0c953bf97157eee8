"""The token model: expiry maths, states, import, serialization, redaction."""

from __future__ import annotations

import logging
import pickle
from dataclasses import replace
from email.utils import formatdate
from typing import Any

import pytest

from ctct import _cc
from ctct._secret import Secret
from ctct._tokens import (
    FORMAT_VERSION,
    TokenSet,
    TokenState,
    compute_expiry,
    missing_scopes,
    parse_http_date,
    require_scopes,
)
from ctct.emulator import Emulator
from ctct.emulator.config import DEFAULT_CLIENT_ID
from ctct.emulator.tokens import mint_access_token
from ctct.errors import AuthorizationRequired, StoreError, TransientProviderError
from tests.core.conftest import FakeClock

ISSUER = _cc.ISSUER
T0 = 1_800_000_000.0


def response(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "access_token": "opaque-access-value-1234567890",
        "token_type": "Bearer",
        "expires_in": 86_400,
        "refresh_token": "refresh-value-A-1234567890",
        "scope": "account_read contact_data offline_access",
    }
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def from_body(body: dict[str, Any], **kwargs: Any) -> TokenSet:
    options: dict[str, Any] = {"issuer": ISSUER, "client_id": "app", "received_at": T0}
    options.update(kwargs)
    return TokenSet.from_token_response(body, **options)


# -- expiry maths ---------------------------------------------------------------------


def test_expires_in_alone_sets_expiry_of_opaque_token() -> None:
    tokens = from_body(response(expires_in=3600))
    assert tokens.expires_at == T0 + 3600
    assert tokens.clock_skew == 0.0
    assert tokens.lifetime == 3600


def test_no_lifetime_at_all_means_unknown_expiry() -> None:
    tokens = from_body(response(expires_in=None))
    assert tokens.expires_at is None
    assert tokens.state(T0 + 10**9) is TokenState.FRESH  # used until the API refuses it


def test_date_granularity_rule() -> None:
    # Server and local clocks agree: Date truncates to the second, skew is +1 at most.
    date = formatdate(T0, usegmt=True)
    expires_at, skew = compute_expiry(
        received_at=T0 + 0.4, expires_in=None, jwt_exp=T0 + 100, date_header=date
    )
    assert skew == pytest.approx(0.6)  # (D + 1) - receipt
    assert expires_at == pytest.approx(T0 + 99.4)  # never later than the true expiry


def test_skew_from_date_corrects_jwt_exp() -> None:
    # The server's clock runs 120 s ahead of ours; its exp is in its own time.
    server_now = T0 + 120
    date = formatdate(server_now, usegmt=True)
    expires_at, skew = compute_expiry(
        received_at=T0, expires_in=None, jwt_exp=server_now + 3600, date_header=date
    )
    assert skew == pytest.approx(121)
    assert expires_at == pytest.approx(T0 + 3599)


def test_earlier_of_exp_and_expires_in() -> None:
    later_exp, _ = compute_expiry(received_at=T0, expires_in=60, jwt_exp=T0 + 3600)
    earlier_exp, _ = compute_expiry(received_at=T0, expires_in=3600, jwt_exp=T0 + 60)
    assert later_exp == T0 + 60
    assert earlier_exp == T0 + 60


def test_unusable_date_headers_mean_no_skew() -> None:
    for header in (None, "", "yesterday", "Mon, 01 Jan 2024 00:00:00"):
        _, skew = compute_expiry(received_at=T0, expires_in=1, date_header=header)
        assert skew == 0.0
    assert parse_http_date("Thu, 01 Jan 1970 00:00:10 GMT") == 10.0


def test_emulator_token_with_skewed_date() -> None:
    # A real emulator-minted JWT whose clock runs an hour ahead of the client's.
    emu = Emulator()
    try:
        emu.clock.advance(3600)
        minted = mint_access_token(
            emu,
            client_id=DEFAULT_CLIENT_ID,
            user=emu.config.default_user,
            scopes=("account_read",),
            grant_id=None,
            ttl=600,
        )
        local_receipt = emu.clock.now() - 3600
        tokens = from_body(
            response(access_token=minted.token, expires_in=600, scope=None),
            received_at=local_receipt,
            date_header=formatdate(emu.clock.now(), usegmt=True),
        )
    finally:
        emu.close()
    assert tokens.clock_skew == pytest.approx(3600, abs=1.01)
    assert tokens.expires_at is not None
    assert local_receipt + 598.9 <= tokens.expires_at <= local_receipt + 600
    assert tokens.scopes == {"account_read"}  # from the JWT's scp when scope is absent


# -- states ---------------------------------------------------------------------------


def test_state_transitions_day_long_token(clock: FakeClock) -> None:
    tokens = from_body(response(expires_in=86_400), received_at=clock())
    assert tokens.state(clock()) is TokenState.FRESH
    clock.advance(86_400 - 301)
    assert tokens.state(clock()) is TokenState.FRESH
    clock.advance(2)
    assert tokens.state(clock()) is TokenState.REFRESH_DUE
    clock.advance(299)
    assert tokens.state(clock()) is TokenState.EXPIRED


def test_margin_is_configurable(clock: FakeClock) -> None:
    tokens = from_body(response(expires_in=86_400), received_at=clock())
    clock.advance(86_400 - 1000)
    assert tokens.state(clock()) is TokenState.FRESH
    assert tokens.state(clock(), margin=1800) is TokenState.REFRESH_DUE


def test_margin_capped_for_short_lived_tokens(clock: FakeClock) -> None:
    tokens = from_body(response(expires_in=10), received_at=clock())
    # 5 minutes would exceed the whole lifetime; the cap is 10 % of it: 1 second.
    assert tokens.refresh_due_at() == clock() + 9
    assert tokens.state(clock()) is TokenState.FRESH
    clock.advance(8.9)
    assert tokens.state(clock()) is TokenState.FRESH
    clock.advance(0.2)
    assert tokens.state(clock()) is TokenState.REFRESH_DUE
    clock.advance(1)
    assert tokens.state(clock()) is TokenState.EXPIRED


# -- refresh semantics --------------------------------------------------------------


def test_refresh_detects_rotating_and_long_lived_tokens() -> None:
    first = from_body(response())
    assert first.refresh_token_type is None
    assert first.refresh_token_used_at == T0
    rotated = from_body(
        response(refresh_token="refresh-value-B-1234567890"), received_at=T0 + 10, previous=first
    )
    assert rotated.refresh_token_type == "rotating"
    assert rotated.obtained_at == T0
    assert rotated.last_refresh_at == T0 + 10
    assert rotated.refresh_token_used_at == T0 + 10
    same = from_body(response(), received_at=T0 + 20, previous=first)
    assert same.refresh_token_type == "long-lived"
    kept = from_body(response(refresh_token=None), received_at=T0 + 30, previous=rotated)
    assert kept.refresh_token == Secret("refresh-value-B-1234567890")
    assert kept.refresh_token_type == "rotating"


def test_idle_deadline() -> None:
    tokens = from_body(response())
    assert tokens.refresh_token_idle_deadline(_cc.REFRESH_TOKEN_IDLE_TTL) == (T0 + 180 * 86_400)
    assert tokens.refresh_token_idle_deadline(None) is None


@pytest.mark.parametrize(
    "body",
    [
        {},
        response(access_token=""),
        response(access_token=12),
        response(token_type="mac"),
        response(expires_in="soon"),
        response(expires_in=-5),
        response(expires_in=True),
        response(refresh_token=7),
        response(scope=["a"]),
    ],
)
def test_malformed_token_response_is_transient(body: dict[str, Any]) -> None:
    with pytest.raises(TransientProviderError) as info:
        from_body(body)
    assert "opaque-access-value" not in str(info.value)


# -- scopes ---------------------------------------------------------------------------


def test_scope_helpers() -> None:
    tokens = from_body(response(scope="account_read contact_data"))
    assert tokens.missing_scopes(["contact_data"]) == frozenset()
    assert tokens.missing_scopes(["contact_data", "campaign_data"]) == {"campaign_data"}
    assert missing_scopes(["a"], ["a", "b", "c"]) == {"b", "c"}
    require_scopes(tokens, ["account_read"])
    with pytest.raises(AuthorizationRequired) as info:
        require_scopes(tokens, ["campaign_data", "account_read"])
    assert info.value.code == "insufficient_scope"
    assert "campaign_data" in info.value.message


def test_absent_scope_means_as_requested() -> None:
    tokens = from_body(response(scope=None), requested_scopes=["contact_data"])
    assert tokens.scopes == {"contact_data"}


# -- import -----------------------------------------------------------------------------


def test_import_refresh_token_alone_needs_refresh() -> None:
    tokens = TokenSet.imported(
        issuer=ISSUER, client_id="app", now=T0, refresh_token="refresh-from-env-123456"
    )
    assert tokens.state(T0) is TokenState.EXPIRED
    assert tokens.access_token is None
    assert tokens.refresh_token_used_at is None
    with pytest.raises(AuthorizationRequired):
        tokens.authorization_header()


def test_import_jwt_access_token_takes_exp_and_scopes() -> None:
    emu = Emulator()
    try:
        minted = mint_access_token(
            emu,
            client_id=DEFAULT_CLIENT_ID,
            user=emu.config.default_user,
            scopes=("contact_data",),
            grant_id=None,
        )
    finally:
        emu.close()
    tokens = TokenSet.imported(
        issuer=ISSUER,
        client_id=DEFAULT_CLIENT_ID,
        now=minted.issued_at,
        access_token=minted.token,
        refresh_token="refresh-from-user-123456",
    )
    assert tokens.expires_at == minted.expires_at
    assert tokens.scopes == {"contact_data"}
    assert tokens.state(minted.issued_at) is TokenState.FRESH
    assert tokens.authorization_header() == f"Bearer {minted.token}"


def test_import_opaque_access_token() -> None:
    unknown = TokenSet.imported(issuer=ISSUER, client_id="c", now=T0, access_token="opaque")
    assert unknown.expires_at is None
    known = TokenSet.imported(
        issuer=ISSUER, client_id="c", now=T0, access_token="opaque", expires_at=T0 + 60
    )
    assert known.state(T0 + 61) is TokenState.EXPIRED
    with pytest.raises(ValueError, match="needs"):
        TokenSet.imported(issuer=ISSUER, client_id="c", now=T0)


# -- serialization --------------------------------------------------------------------


def test_json_round_trip() -> None:
    first = from_body(response(id_token="id-token-value"), date_header=formatdate(T0, usegmt=True))
    tokens = replace(
        from_body(response(), received_at=T0 + 5, previous=first), subject="alice@example.com"
    )
    data = tokens.to_json()
    assert isinstance(data, bytes)
    back = TokenSet.from_json(data)
    assert back == tokens
    assert back.refresh_token_type == "long-lived"
    assert back.to_json() == data
    refresh_only = TokenSet.imported(issuer=ISSUER, client_id="c", now=T0, refresh_token="r")
    assert TokenSet.from_json(refresh_only.to_json()) == refresh_only


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"not json", "not valid JSON"),
        (b"[1]", "not a JSON object"),
        (b'{"format": 99}', "format 99"),
        (b'{"format": %d, "issuer": "x"}' % FORMAT_VERSION, "missing"),
    ],
)
def test_corrupt_records_raise_store_error(data: bytes, needle: str) -> None:
    with pytest.raises(StoreError, match=needle):
        TokenSet.from_json(data)


def test_bad_field_types_raise_store_error() -> None:
    record = (
        from_body(response()).to_json().replace(b'"expires_at":1800086400.0', b'"expires_at":"x"')
    )
    with pytest.raises(StoreError):
        TokenSet.from_json(record)


# -- redaction ---------------------------------------------------------------------------


def test_reprs_and_logs_never_show_tokens(caplog: pytest.LogCaptureFixture) -> None:
    tokens = from_body(response(id_token="id-token-value-1234567890"))
    secrets = ("opaque-access-value", "refresh-value-A", "id-token-value")
    logger = logging.getLogger("ctct.test")
    with caplog.at_level(logging.DEBUG, logger="ctct.test"):
        logger.debug("tokens: %s", tokens)
        logger.debug("tokens: %r", tokens)
        logger.debug("access: %s / %r", tokens.access_token, tokens.refresh_token)
        logger.debug(f"fstring {tokens.access_token} {tokens.refresh_token!s:>40}")
    shown = [repr(tokens), str(tokens), f"{tokens}", caplog.text, repr(vars(tokens))]
    for text in shown:
        for secret in secrets:
            assert secret not in text
    assert "**********" in repr(tokens)
    assert "account_read" in repr(tokens)


def test_secret_behaviour() -> None:
    secret = Secret("s3cret-value")
    assert secret == Secret("s3cret-value")
    assert secret != Secret("other")
    assert secret.reveal() == "s3cret-value"
    assert "s3cret" not in f"{secret} {secret!r} {secret:>20}"
    assert pickle.loads(pickle.dumps(secret)) == secret
    with pytest.raises(TypeError):
        Secret(b"bytes")  # type: ignore[arg-type]
