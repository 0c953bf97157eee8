"""No secret echoed, ever: the ``ctct`` command line against a token endpoint and an API
that echo every secret they receive (``tests.support.echo_proxy`` between ctct and the
emulator, over real sockets), with ``--debug`` on.

The only secret any command may print is the access token ``ctct auth token`` was
asked for, on its stdout. Every other output of every command is checked for every
secret the proxy ever saw (tokens, codes, device codes, the client secret), whole, in
each encoding, and as any 12-character run; the request ids and UUIDs the echoes carry
must stay readable.
"""

from __future__ import annotations

import secrets
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ctct import _cc
from ctct._tokens import TokenSet
from ctct.emulator import AppConfig
from ctct.emulator.config import DEFAULT_CLIENT_ID
from ctct.testing import EmulatorHandle, start_emulator
from tests.cli.conftest import Cli, approve_next_device, isolated_env
from tests.support.echo_proxy import MARKERS, EchoProxy, leaks

CLIENT_SECRET = "cs-" + secrets.token_urlsafe(24)


@dataclass
class Setup:
    cli: Cli
    emu: EmulatorHandle
    proxy: EchoProxy


@pytest.fixture
def echoing(tmp_path: Path) -> Iterator[Setup]:
    app = AppConfig(DEFAULT_CLIENT_ID, CLIENT_SECRET, name="Echo test app")
    with (
        start_emulator(apps=(app,), device_poll_interval=0, token_rate_per_second=50.0) as emu,
        EchoProxy(emu.base_url) as proxy,
    ):
        env = isolated_env(tmp_path)
        env.update(emu.env())
        env["CTCT_BASE_URL"] = proxy.base_url  # every call to ctct's "Constant Contact"
        proxy.remember(CLIENT_SECRET)
        yield Setup(Cli(env, tmp_path), emu, proxy)


def assert_clean(
    setup: Setup,
    result: subprocess.CompletedProcess[str] | tuple[int, str, str],
    *,
    echoed: bool = False,
    allowed_stdout: str | None = None,
) -> str:
    """No secret in the output; with ``echoed``, the echo's ids are readable in it."""
    stdout, stderr = (result.stdout, result.stderr) if not isinstance(result, tuple) else result[1:]
    if allowed_stdout is not None:
        assert stdout == allowed_stdout + "\n"
        stdout = ""
    text = stdout + stderr
    found = leaks(text, [*setup.proxy.seen, CLIENT_SECRET])
    assert not found, f"secrets shown: {found}\n{text}"
    assert "\x1b" not in text
    if echoed:
        for marker in MARKERS:
            assert marker in text, f"{marker} was mangled or dropped:\n{text}"
    return text


def ctct(setup: Setup, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return setup.cli.run(*args, "--debug", input=input)


def device_login(setup: Setup) -> tuple[int, str, str]:
    running = setup.cli.start("auth", "login", "--device", "--debug")
    try:
        approve_next_device(setup.emu, running)
        return running.finish()
    finally:
        running.kill()


def stored_tokens(cli: Cli) -> TokenSet:
    record = cli.stored()
    assert record is not None
    return TokenSet.from_json(record["data"])


def test_a_full_journey_with_debug_shows_no_secret(echoing: Setup) -> None:
    # safety: src/ctct/_redact.py: spans.extend(self._index.spans(text))
    setup, proxy = echoing, echoing.proxy
    token_path, revoke_path = _cc.TOKEN_PATH, _cc.REVOKE_PATH

    login = device_login(setup)
    assert login[0] == 0, login[2]
    text = assert_clean(setup, login)
    assert "echo=" in text  # the device URLs were rewritten, and shown masked
    assert proxy.seen, "the proxy saw no secret: the journey checks nothing"

    assert_clean(setup, ctct(setup, "auth", "status"))
    token = setup.cli.run("auth", "token", "--debug")
    assert token.returncode == 0, token.stderr
    access = stored_tokens(setup.cli).access_token
    assert access is not None and token.stdout == access.reveal() + "\n"
    assert_clean(setup, token, allowed_stdout=access.reveal())

    assert_clean(setup, ctct(setup, "api", "GET", "/account/summary"))
    missing = ctct(setup, "api", "GET", f"/contacts/{uuid.uuid4()}")
    assert missing.returncode == 14, missing.stderr
    assert_clean(setup, missing, echoed=True)
    proxy.inject("/v3/account/summary", 403, "unauthorized", echo_code=True)
    forbidden = ctct(setup, "api", "GET", "/account/summary")
    assert forbidden.returncode == 14, forbidden.stderr
    assert_clean(setup, forbidden, echoed=True)

    refreshed = ctct(setup, "auth", "refresh", "--force")
    assert refreshed.returncode == 0, refreshed.stderr
    assert_clean(setup, refreshed)
    proxy.inject(token_path, 503, "temporarily_unavailable")
    transient = ctct(setup, "auth", "refresh", "--force")
    assert transient.returncode == 11, transient.stderr
    assert_clean(setup, transient, echoed=True)
    proxy.inject(token_path, 401, "invalid_client")
    rejected = ctct(setup, "auth", "refresh", "--force")
    assert rejected.returncode == 5, rejected.stderr
    assert_clean(setup, rejected, echoed=True)
    proxy.inject(token_path, 400, "odd_error", echo_code=True)
    odd = ctct(setup, "auth", "refresh", "--force", "--json")
    assert odd.returncode == 10, odd.stderr
    assert_clean(setup, odd, echoed=True)

    bogus = ctct(setup, "auth", "import", input="rt-" + secrets.token_urlsafe(30) + "\n")
    assert bogus.returncode == 4, bogus.stderr
    assert_clean(setup, bogus)
    current = stored_tokens(setup.cli).refresh_token
    assert current is not None
    imported = ctct(setup, "auth", "import", input=current.reveal() + "\n")
    assert imported.returncode == 0, imported.stderr
    assert_clean(setup, imported)

    proxy.inject(revoke_path, 503, "temporarily_unavailable")
    kept = ctct(setup, "auth", "logout")
    assert kept.returncode == 11, kept.stderr
    assert_clean(setup, kept, echoed=True)
    assert setup.cli.stored() is not None  # not revoked: nothing forgotten

    # The grant dies at the server: the API's 401 and the refresh's invalid_grant echo.
    (grant,) = [g for g in setup.emu.grants()["grants"] if g.get("status", "active") == "active"]
    setup.emu.revoke_grant(grant["grant_id"])
    refused = ctct(setup, "api", "GET", "/account/summary")
    assert refused.returncode == 4, refused.stderr
    assert_clean(setup, refused, echoed=True)

    again = device_login(setup)
    assert again[0] == 0, again[2]
    assert_clean(setup, again)
    assert_clean(setup, ctct(setup, "doctor"))
    out = ctct(setup, "auth", "logout")
    assert out.returncode == 0, out.stderr
    assert_clean(setup, out)

    echoed_paths = {entry.split(" -> ")[0].split(" ", 1)[1] for entry in proxy.rewritten}
    assert {token_path, revoke_path, _cc.DEVICE_AUTHORIZE_PATH} <= echoed_paths
    assert any(p.startswith("/v3/") for p in echoed_paths)


def test_doctor_and_status_refuse_a_discovery_document_that_echoes(echoing: Setup) -> None:
    # safety: src/ctct/_oauth_http.py: _refuse_echoes(metadata, url, _redact.Held(held))
    setup, proxy = echoing, echoing.proxy
    issuer = proxy.base_url
    proxy.serve_discovery(
        {
            "issuer": issuer,
            "token_endpoint": issuer + _cc.TOKEN_PATH,
            "device_authorization_endpoint": issuer + _cc.DEVICE_AUTHORIZE_PATH,
            "jwks_uri": issuer + _cc.JWKS_PATH,
        }
    )
    env = {k: v for k, v in setup.cli.env.items() if k != "CTCT_BASE_URL"}
    discovering = Cli({**env, "CTCT_ISSUER": issuer}, setup.cli.home)
    for args in (("doctor",), ("auth", "status"), ("auth", "login", "--device")):
        result = discovering.run(*args, "--debug")
        assert result.returncode != 0, result.stdout
        text = assert_clean(setup, result)
        assert "echoes a secret" in text, text
