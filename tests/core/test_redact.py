"""The masking rule itself (``ctct._redact``): what is masked, what stays readable.

The same rule is tested over real sockets, with a proxy that echoes every secret, in
tests/core/test_echo_oauth.py, tests/api/test_echoed_errors.py and
tests/cli/test_echoed_secrets.py."""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from dataclasses import dataclass
from urllib.parse import quote

import pytest

from ctct._redact import Held, printable, redact_url, scrub, server_text
from ctct._secret import MASK, Secret
from ctct.errors import ApiError, CtctError

TOKEN = secrets.token_urlsafe(32)
JWT = (
    "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0."
    "eyJzdWIiOiJhbGljZSIsImV4cCI6MTcwMDAwMDAwMH0."
    "c2lnbmF0dXJlLWJ5dGVzLWhlcmUtYW5kLW1vcmU"
)


def test_held_values_are_masked_whole_and_as_any_12_character_run() -> None:
    # safety: src/ctct/_redact.py: spans.extend(self._index.spans(text))
    held = Held(Secret(TOKEN), None, ["short"])
    assert TOKEN not in held.mask(f"token {TOKEN} refused")
    assert held.mask(f"token {TOKEN} refused") == f"token {MASK} refused"
    assert TOKEN[5:17] not in held.mask(f"part {TOKEN[5:17]} only")
    assert held.mask(f"eleven {TOKEN[5:16]} stays") == f"eleven {TOKEN[5:16]} stays"
    assert held.mask("the value: short.") == f"the value: {MASK}."


@pytest.mark.parametrize("shift", [0, 1, 2])
def test_standard_base64_at_any_alignment_is_masked(shift: int) -> None:
    # safety: src/ctct/_redact.py: forms.add(form)
    secret = "cs-" + "?>~" * 8  # its base64 is full of + and /
    held = Held(secret)
    encoded = base64.b64encode(b"id:"[:shift] + secret.encode() + b"!").decode()
    assert "+" in encoded or "/" in encoded
    masked = held.mask(f"Basic {encoded}")
    assert len(masked) < len(encoded), masked


def test_urlsafe_base64_is_masked() -> None:
    # safety: src/ctct/_redact.py: forms.add(form.translate(_URLSAFE))
    secret = "cs-" + "?>~" * 8
    encoded = base64.urlsafe_b64encode(secret.encode()).decode().rstrip("=")
    assert "-" in encoded or "_" in encoded
    assert MASK in Held(secret).mask(f"echo {encoded}")
    assert encoded[:12] not in Held(secret).mask(f"echo {encoded}")


def test_url_encoded_forms_are_masked() -> None:
    # safety: src/ctct/_redact.py: forms.add(quote(value, safe=""))
    secret = "a b/c d/e f/g h/i j/k l/m n/o p"  # every 12-char run of it encoded differs
    encoded = quote(secret, safe="")
    masked = Held(secret).mask(f"got {encoded} back")
    assert masked == f"got {MASK} back"


def test_json_escaped_forms_are_masked() -> None:
    # safety: src/ctct/_redact.py: forms.add(json.dumps(value)[1:-1])
    secret = 'é"/' * 10
    escaped = json.dumps(secret)[1:-1]
    assert Held(secret).mask(f"said {escaped}") == f"said {MASK}"


def test_jwt_shaped_runs_are_masked_even_unheld() -> None:
    # safety: src/ctct/_redact.py: spans.extend(m.span() for m in _JWT.finditer(text))
    nothing = Held()
    assert nothing.mask(f"bearer {JWT}.") == f"bearer {MASK}."
    assert JWT[:60] not in nothing.mask(f"cut: {JWT[:60]}")  # a truncated JWT too
    assert server_text(f"x {JWT}") == f"x {MASK}"


def test_what_matches_nothing_held_stays_readable() -> None:
    held = Held(TOKEN, "emulator-secret-not-for-production")
    ids = [str(uuid.uuid4()), "req-" + secrets.token_hex(12), "a07e1alice001"]
    message = (
        f"Contact {ids[0]} not found (request {ids[1]}, account {ids[2]}): "
        "the contact_id must be a UUID; see https://developer.constantcontact.com/errors."
    )
    assert held.mask(message) == message
    assert server_text(message, held) == message


def test_control_characters_are_escaped() -> None:
    # safety: src/ctct/_redact.py: text = printable(text)
    hostile = "a\x1b]0;title\x07b\x1b[2Jc\x9b31md\u202ee\x00f\rg"
    shown = server_text(hostile)
    for raw in ("\x1b", "\x07", "\x9b", "\u202e", "\x00", "\r"):
        assert raw not in shown
    assert shown == r"a\x1b]0;title\x07b\x1b[2Jc\x9b31md\u202ee\x00f g"
    assert printable("line one\nline\ttwo", lines=True) == "line one\nline\ttwo"
    assert printable("line one\nx") == r"line one\x0ax"


def test_server_text_is_one_short_line() -> None:
    text = server_text("many\n\nlines   " + "word " * 100, limit=50)
    assert "\n" not in text and len(text) == 50 and text.endswith("...")
    assert server_text(None) == "" and server_text(42) == ""


def test_store_url_passwords_are_masked() -> None:
    # safety: src/ctct/_redact.py: netloc = f"{user}:{MASK}@{host}"
    assert redact_url("postgresql://ctct:pw-1@db.example:5432/ctct") == (
        f"postgresql://ctct:{MASK}@db.example:5432/ctct"
    )
    assert redact_url("redis://:pw-2@127.0.0.1:6379/0") == f"redis://:{MASK}@127.0.0.1:6379/0"
    assert "pw-3" not in redact_url("postgresql://db/ctct?sslmode=require&password=pw-3")
    assert "sslmode=require" in redact_url("postgresql://db/ctct?sslmode=require&password=pw-3")
    assert "pw-4" not in redact_url("ctct:pw-4@db.example/ctct")  # not even a URL
    assert "pw-5" not in redact_url("postgresql://u:pw-5@[::1/db")  # does not parse
    for plain in ("sqlite:///var/lib/ctct/tokens.db", "memory://shared", "redis://127.0.0.1"):
        assert redact_url(plain) == plain


@dataclass(frozen=True)
class _Item:
    key: str
    message: str


class _Rich(ApiError):
    def __init__(self, message: str, items: tuple[_Item, ...], body: dict[str, object]) -> None:
        super().__init__(message, status=400, code=items[0].key)
        self.items = items
        self.body = body


def test_scrub_masks_every_attribute_and_the_chain() -> None:
    item = _Item(f"key.{TOKEN}", f"message {TOKEN}")
    error = _Rich(f"HTTP 400: {TOKEN}", (item,), {"errors": [f"nested {TOKEN}"], "n": 1})
    try:
        try:
            raise CtctError(f"cause {TOKEN}")
        except CtctError as cause:
            raise error from cause
    except _Rich as caught:
        scrub(caught, Held(TOKEN))
        shown = [str(caught), repr(caught), repr(vars(caught)), str(caught.__cause__)]
    assert all(TOKEN not in text for text in shown), shown
    assert error.items[0].key == f"key.{MASK}" and error.body["n"] == 1
    assert error.message == f"HTTP 400: {MASK}" and error.status == 400


def test_held_never_shows_itself() -> None:
    held = Held(TOKEN)
    assert TOKEN not in repr(held) and TOKEN not in str(held)
