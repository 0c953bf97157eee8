"""Text from servers never drives the terminal, and a store URL's password is never
shown: ``ctct api`` on a terminal (a real pseudo-terminal), the error line, the
console's escaping, and every command that names the store."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

import pytest

from ctct.cli import _errors
from ctct.cli._console import escape
from ctct.errors import CtctError
from ctct.testing import EmulatorHandle
from tests.cli.conftest import Cli, isolated_env, login
from tests.cli.terminal import in_terminal

HOSTILE = "Eve\u202eevil\u009b31m\u001b]0;pwned\u0007"


def test_ctct_api_escapes_controls_on_a_terminal_and_keeps_bytes_in_a_pipe(
    cli: Cli, emu: EmulatorHandle
) -> None:
    # safety: src/ctct/cli/api_cmd.py: text = printable(text, lines=True)
    login(cli, emu)
    body = json.dumps(
        {
            "email_address": {"address": f"eve-{uuid.uuid4().hex[:8]}@example.com"},
            "create_source": "Account",
            "first_name": HOSTILE,
        }
    )
    created = cli.run("api", "POST", "/contacts", "--data", body)
    assert created.returncode == 0, created.stderr
    document = json.loads(created.stdout)
    contact_id = document["contact_id"]
    # Piped: the account's data as sent (JSON itself escapes C0 controls, not others).
    assert document["first_name"] == HOSTILE
    assert "\u202e" in created.stdout and "\u009b" in created.stdout

    code, text = in_terminal(["api", "GET", f"/contacts/{contact_id}"], cli.env)
    assert code == 0, text
    assert contact_id in text
    for raw in ("\u202e", "\u009b", "\u001b", "\u0007"):
        assert raw not in text
    assert "\\u202e" in text and "\\x9b" in text


def test_the_error_line_escapes_controls(capsys: pytest.CaptureFixture[str]) -> None:
    # safety: src/ctct/cli/_errors.py: text = printable(text, lines=True)
    code = _errors.report(CtctError("the server said \x1b]0;pwned\x07\x1b[2J here"))
    err = capsys.readouterr().err
    assert code == 1
    assert "\x1b" not in err and "\x07" not in err
    assert "the server said \\x1b]0;pwned\\x07\\x1b[2J here" in err


def test_console_text_escapes_controls() -> None:
    # safety: src/ctct/cli/_console.py: text = printable(text, lines=True)
    from rich.console import Console

    buffer = io.StringIO()
    console = Console(file=buffer, highlight=False, width=200)
    console.print(escape("Alice\x1b[2J [bold]\x9b\u202e"))
    console.print(escape("two\nlines"))
    assert buffer.getvalue() == "Alice\\x1b[2J [bold]\\x9b\\u202e\ntwo\nlines\n"


STORE_PASSWORD = "pw-" + uuid.uuid4().hex


def test_a_store_url_password_is_never_shown(tmp_path: Path) -> None:
    # safety: src/ctct/_redact.py: netloc = f"{user}:{MASK}@{host}"
    # (redis:// and the other URL forms: tests/core/test_redact.py)
    # Nothing listens on port 1: each command fails at once (no retrying for long).
    store = f"postgresql://ctct:{STORE_PASSWORD}@127.0.0.1:1/ctct?connect_timeout=1&retry_for=1"
    env = isolated_env(tmp_path)
    env.update({"CTCT_STORE": store, "CTCT_CLIENT_ID": "client-1"})
    cli = Cli(env, tmp_path)
    outputs = []
    for args in (
        ("config", "show"),
        ("auth", "status", "--debug"),
        ("auth", "list", "--json"),
        ("doctor",),
    ):
        result = cli.run(*args)
        outputs.append(result.stdout + result.stderr)
    text = "\n".join(outputs)
    assert STORE_PASSWORD not in text, text
    assert "127.0.0.1:1" in text  # the rest of the URL is still shown
