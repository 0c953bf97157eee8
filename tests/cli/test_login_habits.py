"""Small things a login must get right for a newcomer: ``ctct auth import`` waits out the
token endpoint's rate limit (and retries nothing else), an empty line at the paste
prompt asks again, and a login over an existing grant says what became of it."""

from __future__ import annotations

import json
import subprocess

from ctct.testing import EmulatorHandle
from tests.cli.conftest import Cli, Proxy, login
from tests.cli.test_login_paste import _approve, _authorization_url, _refresh_token

TOKEN_PATH = "/oauth2/default/v1/token"
THROTTLED = json.dumps(
    {"error": "too_many_requests", "error_description": "at most 1 per second"}
).encode()
FAILED = json.dumps({"error": "server_error", "error_description": "try later"}).encode()


def _import_through_proxy(
    cli: Cli, emu: EmulatorHandle, status: int, body: bytes
) -> tuple[str, int, subprocess.CompletedProcess[str]]:
    """``ctct auth import`` of a fresh refresh token, its first refresh answered with
    ``status``: ``(token, refresh requests that reached the proxy, result)``."""
    token = _refresh_token(emu)
    answered: list[int] = []

    def hook(method: str, path: str, request: bytes) -> tuple[int, bytes] | None:
        if path.startswith(TOKEN_PATH) and b"grant_type=refresh_token" in request and not answered:
            answered.append(status)
            return status, body
        return None

    proxy = Proxy(emu.base_url, hook)
    try:
        result = cli.run("auth", "import", input=token + "\n", CTCT_BASE_URL=proxy.base_url)
    finally:
        proxy.close()
    assert answered == [status]
    return token, proxy.seen.count(f"POST {TOKEN_PATH}"), result


def test_import_waits_for_the_token_endpoints_rate_limit(cli: Cli, emu: EmulatorHandle) -> None:
    # The token was just obtained elsewhere: ctct's shared bucket never saw that request,
    # so the provider throttles the verifying refresh once.
    _token, refreshes, result = _import_through_proxy(cli, emu, 429, THROTTLED)
    assert result.returncode == 0, result.stderr
    assert refreshes == 2
    assert "imported refresh token" in result.stdout


def test_import_does_not_retry_a_refresh_the_server_may_have_processed(
    cli: Cli, emu: EmulatorHandle
) -> None:
    """A 5xx may come after the provider rotated the token: sending the old refresh token
    again could look like reuse and revoke the grant. Only a 429 (refused unread) waits."""
    token, refreshes, result = _import_through_proxy(cli, emu, 503, FAILED)
    # safety: src/ctct/flows/_login.py: wait = wait if error.rate_limited else None
    assert result.returncode == 11, result.stderr
    assert refreshes == 1
    assert token not in result.stderr


def test_an_empty_line_at_the_paste_prompt_asks_again(cli: Cli, emu: EmulatorHandle) -> None:
    running = cli.start("auth", "login", "--no-browser")
    try:
        url = _authorization_url(running, emu)
        running.wait_for("Paste the address the browser landed on")
        running.send("")  # Enter pressed before pasting
        running.wait_for("Nothing was pasted. Paste the address (or the code), or Ctrl-C")
        running.send(_approve(emu, url))
        code, out, err = running.finish()
    finally:
        running.kill()
    assert code == 0, err
    assert "pasted redirect" in out


def test_a_login_over_an_existing_grant_says_it_was_replaced_not_revoked(
    cli: Cli, emu: EmulatorHandle
) -> None:
    first = login(cli, emu)
    assert "had a grant before" not in first
    running = cli.start("auth", "login", "--device", "--json")
    try:
        shown = running.wait_for("enter the code")
        (pending,) = [d for d in emu.pending()["device_codes"] if d["user_code"] in shown]
        emu.approve_device(pending["user_code"], username="bob@example.com")
        code, out, err = running.finish()
    finally:
        running.kill()
    assert code == 0, err
    assert "Profile 'default' had a grant before (alice@example.com): it was replaced" in err
    assert "not revoked" in err and "ctct auth logout" in err
    assert json.loads(out)["replaced_grant"] == {"subject": "alice@example.com", "revoked": False}
    # True to the provider: both grants are still active there.
    assert sorted(g["username"] for g in emu.grants()["grants"] if not g.get("revoked")) == [
        "alice@example.com",
        "bob@example.com",
    ]
    # An import over it says the same.
    imported = cli.run("auth", "import", input=_refresh_token(emu) + "\n")
    assert imported.returncode == 0, imported.stderr
    assert "had a grant before (bob@example.com)" in imported.stderr
