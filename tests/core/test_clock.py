"""Two clocks, one truth: JWT verification compares iat/nbf/exp with the provider's clock
as measured from its Date header (bounded), and says clearly when a clock is badly off."""

from __future__ import annotations

from email.utils import formatdate
from typing import Any

import pytest

from ctct import _cc
from ctct._clock import (
    MAX_CLOCK_OFFSET,
    describe_offset,
    duration,
    offset_in_range,
    offset_json,
    usable_offset,
)
from ctct._jwt import JwksCache, JwtVerifier
from ctct._provider import Provider
from ctct._tokens import TokenSet
from ctct.emulator import Emulator
from ctct.emulator.config import DEFAULT_CLIENT_ID
from ctct.errors import TokenValidationError
from tests.core.conftest import FakeClock

SERVER_NOW = 1_800_000_000.0


def token(emu: Emulator, **changes: Any) -> str:
    claims: dict[str, Any] = {
        "iss": _cc.ISSUER,
        "aud": _cc.AUDIENCE,
        "iat": int(SERVER_NOW),
        "exp": int(SERVER_NOW) + 3600,
        "cid": DEFAULT_CLIENT_ID,
        "sub": "alice@example.com",
    }
    claims.update(changes)
    return emu.keys.sign({k: v for k, v in claims.items() if v is not None})


def verifier(local_now: float, *, emulated: bool = False) -> JwtVerifier:
    base = "http://127.0.0.1:7717" if emulated else None
    made = JwtVerifier.for_provider(
        Provider.constant_contact(base),
        DEFAULT_CLIENT_ID,
        clock=FakeClock(local_now),
        jwks_cache=JwksCache(),
    )
    assert made.emulated is emulated
    return made


def test_the_offset_is_bounded_and_described() -> None:
    assert usable_offset(120.0) == 120.0 and usable_offset(-899.0) == -899.0
    assert usable_offset(3600.0) == MAX_CLOCK_OFFSET == 900.0
    assert usable_offset(-86_400.0) == -MAX_CLOCK_OFFSET
    assert usable_offset(float("nan")) == 0.0 and usable_offset(float("inf")) == 0.0
    assert offset_in_range(-900.0) and not offset_in_range(900.5)
    assert duration(125) == "2 min 5 s" and duration(90_061) == "1 d 1 h"
    assert duration(0.2) == "0.2 s"
    assert describe_offset(120.4) == "this machine's clock is 2 min behind the provider's"
    assert describe_offset(-61) == "this machine's clock is 1 min 1 s ahead of the provider's"
    assert "agrees" in describe_offset(0.9)
    assert offset_json(-300.04) == {
        "seconds": -300.0,
        "corrected": True,
        "max_corrected_seconds": 900.0,
    }
    assert offset_json(3600.0)["corrected"] is False


@pytest.mark.parametrize("local_offset", [-300.0, -120.0, 120.0, 300.0])
def test_a_fresh_token_verifies_on_a_skewed_machine(emu: Emulator, local_offset: float) -> None:
    # safety: src/ctct/_jwt.py: now += _clock.usable_offset(skew)
    # A token issued just now that lives 50 s: with the raw local clock, a machine
    # behind sees it "issued in the future", one ahead sees it expired.
    fresh = token(emu, exp=int(SERVER_NOW) + 50)
    local_now = SERVER_NOW + local_offset
    skew = SERVER_NOW - local_now  # what the Date header measured
    claims = verifier(local_now).verify(fresh, emu.keys.jwks, skew=skew)
    assert claims.subject == "alice@example.com"
    with pytest.raises(TokenValidationError) as raw:
        verifier(local_now).verify(fresh, emu.keys.jwks)  # no offset: the old behaviour
    assert raw.value.check == ("issued-at" if local_offset < 0 else "expiry")


def test_the_offset_comes_from_the_token_responses_date(emu: Emulator) -> None:
    # safety: src/ctct/_tokens.py: skew = (server_now + 1.0) - received_at
    local_now = SERVER_NOW - 120  # this machine runs 2 minutes slow
    body = {"access_token": token(emu), "token_type": "Bearer", "expires_in": 3600}
    tokens = TokenSet.from_token_response(
        body,
        issuer=_cc.ISSUER,
        client_id=DEFAULT_CLIENT_ID,
        received_at=local_now,
        date_header=formatdate(SERVER_NOW, usegmt=True),
    )
    assert tokens.clock_skew == pytest.approx(121.0)
    assert tokens.access_token is not None
    verifier(local_now).verify(tokens.access_token, emu.keys.jwks, skew=tokens.clock_skew)
    # Kept with the grant: a fresh process (which reads the record) verifies it too.
    # safety: src/ctct/_tokens.py: skew = _required_time(record["clock_skew"])
    stored = TokenSet.from_json(tokens.to_json())
    assert stored.clock_skew == tokens.clock_skew
    assert stored.access_token is not None
    verifier(local_now).verify(stored.access_token, emu.keys.jwks, skew=stored.clock_skew)
    # A refresh answered without a Date keeps the offset measured before.
    refreshed = TokenSet.from_token_response(
        {**body, "refresh_token": "rt-2"},
        issuer=_cc.ISSUER,
        client_id=DEFAULT_CLIENT_ID,
        received_at=local_now + 10,
        previous=tokens,
    )
    assert refreshed.clock_skew == tokens.clock_skew


def test_a_date_hours_off_cannot_revive_an_expired_token(emu: Emulator) -> None:
    # safety: src/ctct/_clock.py: offset = math.copysign(MAX_CLOCK_OFFSET, offset)
    # The token expired 20 minutes ago; a Date header claiming the provider's clock is an
    # hour behind ours (a broken or forged header) must not make it valid again.
    expired = token(emu, iat=int(SERVER_NOW) - 4000, exp=int(SERVER_NOW) - 1200)
    with pytest.raises(TokenValidationError) as caught:
        verifier(SERVER_NOW).verify(expired, emu.keys.jwks, skew=-3600.0)
    error = caught.value
    assert error.check == "expiry"
    assert "this machine's clock is 1 h ahead of the provider's" in error.message
    assert "more than the 15 min ctct corrects for" in error.message
    assert "Fix the system clock" in error.message


def test_issued_in_the_future_says_which_clock_to_fix(emu: Emulator) -> None:
    # This machine is an hour behind the provider: beyond what ctct corrects for.
    future = token(emu)
    local_now = SERVER_NOW - 3600
    with pytest.raises(TokenValidationError) as real:
        verifier(local_now).verify(future, emu.keys.jwks, skew=3600.0)
    assert real.value.check == "issued-at"
    assert "issued 45 min in the future" in real.value.message  # 1 h minus the 15 min bound
    assert "this machine's clock is 1 h behind the provider's" in real.value.message
    assert "Fix the system clock (NTP" in real.value.message
    # Against an emulator the clock that moved is the emulator's (it can be advanced).
    with pytest.raises(TokenValidationError) as emulated:
        verifier(local_now, emulated=True).verify(future, emu.keys.jwks, skew=3600.0)
    message = emulated.value.message
    assert emulated.value.check == "issued-at"
    assert "The emulator's clock is ahead of this machine's" in message
    assert "/__emulator/clock/advance" in message and "system clock" not in message
    # The offset is in range but the token still claims the future: the provider's token
    # and its Date disagree; the message says the correction was applied.
    with pytest.raises(TokenValidationError) as odd:
        verifier(SERVER_NOW).verify(token(emu, iat=int(SERVER_NOW) + 600), emu.keys.jwks)
    assert "even after correcting for the measured clock offset" in odd.value.message
    with pytest.raises(TokenValidationError) as nbf:
        verifier(SERVER_NOW).verify(token(emu, nbf="soon"), emu.keys.jwks)
    assert nbf.value.check == "not-before" and "not a number" in nbf.value.message
