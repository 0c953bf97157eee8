"""The walk behind ``ctct demo``: a device-flow login against the emulator, in plain
HTTP calls, each shown with the request made and the interesting fields of the answer.

Tokens, device codes and secrets are never printed: only fingerprints such as
``eyJ…(1043 chars, sha256 3f2a9c1e…)``. Instead of sleeping through the poll interval
and the token endpoint's 1 request/second limit, the walk advances the emulator's
clock through its control API, and says so.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx2
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from rich.console import Console
from rich.table import Table

from ctct import _cc
from ctct.errors import CtctError

SCOPE = "account_read contact_data offline_access"
APPROVER = "alice@example.com"
# Response fields whose values are credentials: shown only as fingerprints.
SECRET_FIELDS = frozenset(
    {
        "access_token",
        "refresh_token",
        "id_token",
        "device_code",
        "code",
        "token",
        "client_secret",
        "password",
    }
)


class DemoFailed(CtctError):
    """A step of the demo did not get the answer it expected."""


def fingerprint(value: str) -> str:
    """Identify a credential without revealing it: length and a short SHA-256 prefix."""
    digest = hashlib.sha256(value.encode("utf-8")).hexdigest()[:8]
    head = "eyJ" if value.startswith("eyJ") else ""  # every JWT starts so: reveals nothing
    return f"{head}…({len(value)} chars, sha256 {digest}…)"


def countdown(seconds: float) -> str:
    left = int(seconds)
    if left <= 0:
        return "expired"
    hours, rest = divmod(left, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} h"] if hours else []
    if hours or minutes:
        parts.append(f"{minutes} min")
    parts.append(f"{secs} s")
    return "in " + " ".join(parts)


class Walk:
    """Speaks HTTP to the emulator and prints each exchange."""

    def __init__(self, http: httpx2.Client, console: Console) -> None:
        self.http = http
        self.console = console
        self.steps = 0
        self.title = ""

    # -- output ------------------------------------------------------------------------

    def step(self, title: str, why: str) -> None:
        self.steps += 1
        self.title = title
        self.console.print()
        self.console.rule(f"[bold]Step {self.steps}. {title}", align="left")
        self.console.print(why, style="dim")

    def fields(self, arrow: str, headline: str, values: Mapping[str, Any]) -> None:
        self.console.print(f"{arrow} {headline}")
        table = Table.grid(padding=(0, 2))
        for name, value in values.items():
            shown = fingerprint(str(value)) if name in SECRET_FIELDS else _plain(value)
            table.add_row("   " + name, shown)
        if values:
            self.console.print(table)

    def note(self, text: str) -> None:
        self.console.print(f"   {text}")

    def fail(self, text: str) -> DemoFailed:
        return DemoFailed(f"step {self.steps} ({self.title}): {text}")

    # -- HTTP --------------------------------------------------------------------------

    def send(
        self,
        method: str,
        path: str,
        *,
        form: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        shown: Mapping[str, Any] | None = None,
    ) -> httpx2.Response:
        """Make a request, printing its method, path and ``shown`` (or its form)."""
        self.fields("→", f"{method} {path}", shown if shown is not None else (form or body or {}))
        try:
            return self.http.request(method, path, data=form, json=body, headers=headers)
        except httpx2.HTTPError as exc:
            raise self.fail(f"{method} {path} failed: {exc}") from None

    def answer(
        self, response: httpx2.Response, expect: int, keys: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        """Check the status, print the ``keys`` of the JSON answer, and return it."""
        try:
            data: Any = response.json() if response.content else {}
        except ValueError:
            data = {}
        body = data if isinstance(data, dict) else {"body": data}
        headline = f"← {response.status_code} {response.reason_phrase}"
        self.fields("←", headline[2:], {k: body[k] for k in keys if k in body})
        if response.status_code != expect:
            raise self.fail(
                f"expected {expect} from {response.request.method} {response.request.url.path}, "
                f"got {response.status_code}: {_error_text(data)}"
            )
        return body

    def advance_clock(self, seconds: float, why: str) -> None:
        response = self.http.post("/__emulator/clock/advance", json={"seconds": seconds})
        if response.status_code != 200:
            raise self.fail(f"could not advance the emulator's clock: {_error_text(response)}")
        self.console.print(
            f"⏩ advanced the emulator's clock {seconds:g} s ({why}) instead of waiting",
            style="cyan",
        )

    def emulator_now(self) -> float:
        return float(self.http.get("/__emulator/clock").json()["now"])


def _plain(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return str(value)


def _error_text(data: Any) -> str:
    if isinstance(data, httpx2.Response):
        try:
            data = data.json()
        except ValueError:
            return str(data.text[:200])
    if isinstance(data, dict):
        if "error" in data:
            return f"{data['error']}: {data.get('error_description', '')}"
        if "error_key" in data:
            return f"{data['error_key']}: {data.get('error_message', '')}"
    if isinstance(data, list) and data and isinstance(data[0], dict):
        return f"{data[0].get('error_key')}: {data[0].get('error_message')}"
    return str(data)[:200]


@contextmanager
def _emulator(url: str | None, console: Console) -> Iterator[str]:
    if url is not None:
        yield url.rstrip("/")
        return
    from ctct.emulator.server import EmulatorServer

    with EmulatorServer() as server:
        console.print(f"Started a Constant Contact emulator at [bold]{server.base_url}[/]")
        yield server.base_url


def run_demo(emulator_url: str | None = None, console: Console | None = None) -> None:
    """Walk the whole flow; raises ``DemoFailed`` (exit 1) at the first unexpected answer."""
    console = console or Console(highlight=False)
    if not console.is_terminal:
        console.width = max(console.width, 120)
    started = time.monotonic()
    with (
        _emulator(emulator_url, console) as base_url,
        httpx2.Client(base_url=base_url, timeout=10.0) as http,
    ):
        walk = Walk(http, console)
        try:
            config = http.get("/__emulator/config").json()
        except (httpx2.HTTPError, ValueError) as exc:
            raise DemoFailed(f"no emulator answers at {base_url}: {exc}") from None
        _walk(walk, config)
    console.print()
    console.rule("[bold green]Demo complete")
    console.print(
        f"{walk.steps} steps in {time.monotonic() - started:.1f} s. "
        "No token or secret was printed: only fingerprints."
    )


def _walk(walk: Walk, config: dict[str, Any]) -> None:
    client_id = str(config["default_client_id"])
    app = next(a for a in config["apps"] if a["client_id"] == client_id)
    users = [u["username"] for u in config["users"]]
    approver = APPROVER if APPROVER in users else str(config["default_username"])

    walk.step(
        "Device authorization",
        "The app asks for a device code. No secret is sent: CC's device flow has none.",
    )
    response = walk.send(
        "POST",
        _cc.DEVICE_AUTHORIZE_PATH,
        form={"client_id": client_id, "scope": SCOPE},
    )
    device = walk.answer(
        response,
        200,
        ("device_code", "user_code", "verification_uri", "expires_in", "interval"),
    )
    device_code = str(device["device_code"])
    user_code = str(device["user_code"])
    interval = int(device.get("interval", 5))

    walk.step("Show the person the code", "The app tells its user where to go and what to type.")
    walk.note(f"Open [bold]{device['verification_uri']}[/] and enter [bold]{user_code}[/]")
    walk.note(f"(or open {device.get('verification_uri_complete', '')})")

    poll_form = {
        "grant_type": _cc.DEVICE_CODE_GRANT,
        "client_id": client_id,
        "device_code": device_code,
    }
    walk.step(
        "Poll the token endpoint",
        "While nobody has approved, the answer is authorization_pending: keep polling.",
    )
    walk.advance_clock(interval, "the poll interval")
    pending = walk.answer(walk.send("POST", _cc.TOKEN_PATH, form=poll_form), 400, ("error",))
    if pending.get("error") != "authorization_pending":
        raise walk.fail(f"expected authorization_pending, got {pending.get('error')}")

    walk.step(
        f"Approve as {approver}",
        "A person would sign in at the verification URL; the control API stands in for them.",
    )
    approval = walk.send(
        "POST", "/__emulator/device/approve", body={"user_code": user_code, "username": approver}
    )
    walk.answer(approval, 200, ("user_code", "status", "username"))

    walk.step("Poll again: tokens", "Approved: the next poll returns the tokens.")
    walk.advance_clock(interval, "the poll interval")
    tokens = walk.answer(
        walk.send("POST", _cc.TOKEN_PATH, form=poll_form),
        200,
        ("token_type", "expires_in", "scope", "access_token", "refresh_token"),
    )
    access_token = str(tokens["access_token"])
    refresh_token = tokens.get("refresh_token")
    if not isinstance(refresh_token, str):
        raise walk.fail("no refresh_token in the answer (was offline_access granted?)")

    _verify(walk, access_token, client_id)
    walk.step("Call the V3 API", "Send the access token as a Bearer token.")
    _call_api(walk, access_token, expect=200)
    new_refresh, access_token = _refresh(walk, client_id, refresh_token, app, config)
    _revoke(walk, client_id, new_refresh, access_token)


def _verify(walk: Walk, access_token: str, client_id: str) -> None:
    walk.step(
        "Verify the access token",
        "Check its RS256 signature against the JWKS, then its issuer, audience and client.",
    )
    jwks = walk.answer(walk.send("GET", _cc.JWKS_PATH), 200)
    try:
        key_set = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
        token = jwt.decode(access_token, key_set, algorithms=["RS256"])
        now = walk.emulator_now()
        jwt.JWTClaimsRegistry(
            now=int(now),
            iss={"essential": True, "value": _cc.ISSUER},
            aud={"essential": True, "value": _cc.AUDIENCE},
            cid={"essential": True, "value": client_id},
            sub={"essential": True},
            exp={"essential": True},
        ).validate(token.claims)
    except (JoseError, ValueError) as exc:
        raise walk.fail(f"the access token did not verify: {exc}") from None
    claims = token.claims
    walk.note(
        f"signature ✓ {token.header.get('alg')} with key {token.header.get('kid')} "
        f"(one of {len(jwks.get('keys', []))} published)"
    )
    walk.fields(
        "✓",
        "claims",
        {
            "iss": claims["iss"],
            "aud": claims["aud"],
            "cid": claims["cid"],
            "sub": claims["sub"],
            "platform_user_id": claims.get("platform_user_id", ""),
            "scp": claims.get("scp", []),
            "exp": f"{claims['exp']} (expires {countdown(claims['exp'] - now)})",
        },
    )


def _call_api(walk: Walk, access_token: str, *, expect: int) -> None:
    response = walk.send(
        "GET",
        _cc.API_BASE_PATH + "/account/summary",
        headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
        shown={"Authorization": "Bearer " + fingerprint(access_token)},
    )
    walk.answer(
        response,
        expect,
        (
            "organization_name",
            "encoded_account_id",
            "first_name",
            "last_name",
            "contact_email",
            "error_key",
            "error_message",
        ),
    )


def _refresh(
    walk: Walk, client_id: str, refresh_token: str, app: dict[str, Any], config: dict[str, Any]
) -> tuple[str, str]:
    """Refresh, then show what the old refresh token is worth now."""
    rotating = app.get("refresh_token_type") == "rotating"
    walk.step(
        "Refresh",
        "Trade the refresh token for a new access token"
        + (" and a new refresh token (rotating)." if rotating else " (long-lived refresh token)."),
    )
    walk.advance_clock(1, "the token endpoint allows 1 request/second")
    form = {"grant_type": "refresh_token", "client_id": client_id, "refresh_token": refresh_token}
    body = walk.answer(
        walk.send("POST", _cc.TOKEN_PATH, form=form),
        200,
        ("expires_in", "scope", "access_token", "refresh_token"),
    )
    new_refresh = str(body.get("refresh_token") or refresh_token)
    if new_refresh == refresh_token:
        walk.note(f"the same refresh token came back: {fingerprint(new_refresh)}")
        if rotating:
            raise walk.fail("a rotating refresh token did not change")
        return new_refresh, str(body["access_token"])
    walk.note(f"refresh token rotated: {fingerprint(refresh_token)} → {fingerprint(new_refresh)}")

    walk.step(
        "Reuse the old refresh token",
        "A rotated refresh token is single use: presenting it again is refused.",
    )
    walk.advance_clock(1, "the token endpoint allows 1 request/second")
    grace = int(config.get("switches", {}).get("refresh_token_grace_seconds", 0))
    reuse = walk.send("POST", _cc.TOKEN_PATH, form=form)
    if grace and reuse.status_code == 200:
        walk.answer(reuse, 200, ("expires_in",))
        walk.note(f"accepted: this emulator allows reuse for {grace} s after rotation")
        return new_refresh, str(body["access_token"])
    refused = walk.answer(reuse, 400, ("error", "error_description"))
    if refused.get("error") != "invalid_grant":
        raise walk.fail(f"expected invalid_grant, got {refused.get('error')}")
    return new_refresh, str(body["access_token"])


def _revoke(walk: Walk, client_id: str, refresh_token: str, access_token: str) -> None:
    walk.step(
        "Revoke",
        "Log out: revoking the refresh token ends the grant, its access tokens included.",
    )
    form = {"client_id": client_id, "token": refresh_token, "token_type_hint": "refresh_token"}
    walk.answer(walk.send("POST", _cc.REVOKE_PATH, form=form), 200)
    walk.advance_clock(1, "the token endpoint allows 1 request/second")
    refresh_form = {
        "grant_type": "refresh_token",
        "client_id": client_id,
        "refresh_token": refresh_token,
    }
    walk.answer(
        walk.send("POST", _cc.TOKEN_PATH, form=refresh_form), 400, ("error", "error_description")
    )
    _call_api(walk, access_token, expect=401)
