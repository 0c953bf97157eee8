"""docs/emulator.md, docs/api.md and the README stay true: every ```sh and ```python
block in them runs, in order, against live `ctct emulator` processes, in one bash
session per document (so variables carry from block to block).

Markers on the line just before a block:
- ``<!-- emulator -->``: the block is a ``ctct emulator [FLAGS] [--port N]`` command.
  The test starts it (on a free port) and points the doc's ``127.0.0.1:N`` (default
  7717) at it in every block;
- ``<!-- not run: why -->``: skipped (e.g. a command a person runs in the background).

A person pasting commands takes more than the token endpoint's 1 request/second
between blocks, so between blocks the test moves each emulator's clock 5 seconds
forward rather than sleeping (each emulator from the first block that names it on: an
emulator's clock far ahead of ctct's would fail ctct's checks of the tokens' times). An
emulator started with ``--split-hosts --port N`` answers for ``N``, ``N+1`` and ``N+2``
(its identity host and API).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "emulator.md"
API_DOC = ROOT / "docs" / "api.md"
README = ROOT / "README.md"
CTCT = Path(sys.executable).with_name("ctct")
FENCE = re.compile(
    r"(?:<!--\s*(?P<marker>not run|emulator)\b[^>]*-->[ \t]*\n)?"
    r"^```(?P<lang>sh|python)\n(?P<body>.*?)^```",
    re.S | re.M,
)


@dataclass(frozen=True)
class Block:
    line: int
    body: str


@dataclass(frozen=True)
class Emulator:
    doc_port: str
    flags: tuple[str, ...]


def read_doc(doc: Path = DOC) -> tuple[list[Emulator], list[Block], int]:
    """The emulators the doc starts, the blocks to run, and how many are not run."""
    text = doc.read_text(encoding="utf-8")
    emulators: list[Emulator] = []
    blocks: list[Block] = []
    skipped = 0
    for match in FENCE.finditer(text):
        if match["marker"] == "not run":
            skipped += 1
        elif match["marker"] == "emulator":
            words = shlex.split(match["body"])
            assert words[:2] == ["ctct", "emulator"], match["body"]
            flags, port = list(words[2:]), "7717"
            if "--port" in flags:
                at = flags.index("--port")
                port = flags[at + 1]
                del flags[at : at + 2]
            emulators.append(Emulator(port, tuple(flags)))
        else:
            body = match["body"]
            if match["lang"] == "python":
                body = f"python - <<'CTCT_PYTHON'\n{body}CTCT_PYTHON\n"
            blocks.append(Block(text.count("\n", 0, match.start("body")) + 1, body))
    return emulators, blocks, skipped


@contextmanager
def start(tmp_path: Path, emulator: Emulator) -> Iterator[dict[str, str]]:
    """Start ``emulator``; yield what to put in place of each doc port: its own, and with
    ``--split-hosts`` the next two (the identity host's and the API's, as ``ctct
    emulator`` places them by default)."""
    ready = tmp_path / f"ready-{emulator.doc_port}.json"
    proc = subprocess.Popen(
        [str(CTCT), "emulator", "--port", "0", "--ready-file", str(ready), *emulator.flags],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"ctct emulator {' '.join(emulator.flags)} did not start")
            time.sleep(0.02)
        info = json.loads(ready.read_text())
        origins = [str(info["base_url"])]
        if "--split-hosts" in emulator.flags:
            origins = [str(info["origins"][role]) for role in ("authz", "identity", "api")]
        first = int(emulator.doc_port)
        yield {str(first + i): o.removeprefix("http://") for i, o in enumerate(origins)}
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def test_every_shell_block_in_the_emulator_docs_runs(tmp_path: Path) -> None:
    output = run_doc(DOC, tmp_path, min_blocks=20)
    for expected in EXPECTED:
        assert expected in output, f"{expected!r} not in the output:\n{output[-4000:]}"


def test_every_block_in_the_readme_runs(tmp_path: Path) -> None:
    output = run_doc(README, tmp_path, min_blocks=8)
    for expected in README_EXPECTED:
        assert expected in output, f"{expected!r} not in the output:\n{output[-4000:]}"


def test_every_block_in_the_api_docs_runs(tmp_path: Path) -> None:
    output = run_doc(API_DOC, tmp_path, min_blocks=23)
    _, blocks, _ = read_doc(API_DOC)
    ran = "\n".join(block.body for block in blocks)
    for command, expected in API_EXPECTED:
        assert command in ran, f"no block that runs has {command!r}"
        assert expected in output, f"{expected!r} not in the output:\n{output[-4000:]}"


def run_doc(doc: Path, tmp_path: Path, *, min_blocks: int) -> str:
    """Run ``doc``'s blocks in one bash session; return stdout. ctct's own files (config,
    token store) go under ``tmp_path``, never the machine's real ones."""
    emulators, blocks, skipped = read_doc(doc)
    assert [e.doc_port for e in emulators][:1] == ["7717"]
    assert len(blocks) >= min_blocks
    assert skipped >= 1
    home = tmp_path / "home"
    env = {
        **os.environ,
        "LC_ALL": "C.UTF-8",
        "PATH": f"{CTCT.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_DATA_HOME": str(home / "data"),
        "CTCT_STORE_KEYRING": "0",
        "CTCT_KEYRING": "0",
    }
    for name in [k for k in env if k.startswith("CTCT_") and "KEYRING" not in k]:
        del env[name]
    with ExitStack() as stack:
        origins: dict[str, str] = {}
        control_of: dict[str, str] = {}  # doc port -> its emulator's control API origin
        for e in emulators:
            ports = stack.enter_context(start(tmp_path, e))
            # Two emulators of one page must not claim a port (a split emulator's +1
            # and +2 count): a block would then talk to the wrong one.
            clash = set(ports) & set(origins)
            assert not clash, f"{doc.name}: emulators share doc port(s) {sorted(clash)}"
            origins.update(ports)
            control_of.update(dict.fromkeys(ports, ports[e.doc_port]))
        # Background jobs a block starts (a broker, say) never outlive the run, even
        # when a block fails.
        script = ["set -euo pipefail", "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT"]
        in_use: list[str] = []  # emulators a block has named so far: only their clocks move
        for number, block in enumerate(blocks, 1):
            body = block.body
            for doc_port, origin in origins.items():
                control = control_of[doc_port]
                if f"127.0.0.1:{doc_port}" in body and control not in in_use:
                    in_use.append(control)
                body = body.replace(f"127.0.0.1:{doc_port}", origin)
            advance = " ".join(
                f"curl -sS -o /dev/null -X POST http://{origin}/__emulator/clock/advance "
                """-H 'Content-Type: application/json' -d '{"seconds": 5}';"""
                for origin in in_use
            )
            script += [f"echo '### block {number} ({doc.name} line {block.line})'"]
            script += [advance, body]
        script.append("echo '### all blocks ran'")
        result = subprocess.run(
            ["bash", "-c", "\n".join(script)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=180,
            env=env,
        )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "### all blocks ran" in result.stdout
    return result.stdout


def test_every_flag_of_ctct_emulator_is_documented() -> None:
    from ctct.cli.emulator_cmd import emulator

    text = DOC.read_text(encoding="utf-8")
    flags = [opt for param in emulator.params for opt in param.opts if opt.startswith("--")]
    assert len(flags) > 25
    missing = [flag for flag in flags if f"`{flag}" not in text]
    assert missing == []


def test_every_control_route_is_documented() -> None:
    from starlette.routing import Route

    from ctct.emulator import create_app

    text = DOC.read_text(encoding="utf-8")
    documented = set(re.findall(r"`(GET|POST|DELETE) (/__emulator/[^`? ]*)", text))
    served = set()
    for route in create_app().routes:
        if isinstance(route, Route) and route.path.startswith("/__emulator/"):
            path = route.path.replace("{decision:str}", "approve")
            for method in route.methods or ():
                if method != "HEAD":
                    served.add((method, path))
                    if "approve" in path and "authorizations" in path:
                        served.add((method, path.replace("approve", "deny")))
    assert served <= documented, sorted(served - documented)


# What the README's commands print, somewhere in the run.
README_EXPECTED = (
    "Alice's Bakery",
    "ann@example.com",
    '"token_type": "Bearer"',
    '"invalid_grant"',
    "revoke: 200",
    "200\n200\n200\n",  # httpx2, httpx and requests
)

# What the documented commands print, somewhere in the run (the doc shows these too).
EXPECTED = (
    # Simulated tracking: exact counts from the rates, the same in every report.
    '"em_opens": 48',
    '"em_not_opened": 47',
    "\n47\n",
    '{"em_sends":1,"em_bounces":0}',
    '"error": "authorization_pending"',
    '"status": "approved"',
    '"token_type": "Bearer"',
    '"organization_name": "Alice\'s Bakery"',
    '"iss": "https://identity.constantcontact.com/oauth2/aus1lm3ry9mF7x2Ja0h8"',
    '"error": "invalid_grant"',
    "revoke: 200",
    "after revoking: 401",
    '"error_key": "unauthorized"',
    '"kid":',
    '"token_requests":',
    '"pending": {',
    "injected: 503",
    '"offset":',
    '"reset": true',
    '"contacts": 2',
    # The generic provider mode, through ctct's discovery path.
    '/oauth2/device_authorization"',
    '"typ": "at+jwt"',
    '"aud": "http://127.0.0.1:',
    "43 characters, JWS: 0",
    '[\n  "tia@example.com"\n]',
    '"site_owner_name": "bob@example.com"',
    '"error": "invalid_client"',
    "error=invalid_request&error_description=The+%27state%27+parameter+is+required",
    '"identity": "http://127.0.0.1:',
    "JWKS on the authorization server: 404",
    '{"message":"Forbidden"} 403',
    "403\nAlice's Bakery\n",
    "HTTP/1.1 406 Not Acceptable",
    "x-amzn-errortype: NotAcceptableException",
    "1 passed",
)

# What docs/api.md's commands print, somewhere in the run: (text of a block that runs,
# what the run must print). The doc shows these too.
API_EXPECTED = (
    ("def greeting(summary: ctct.AccountSummary)", "Hello, Alice of Alice's Bakery dict\n"),
    (
        "httpx.Client(auth=ctct.BearerAuth(manager))",
        "is not the auth for httpx clients: use auth=ctct.HttpxAuth(manager) instead.\n",
    ),
    ('Settings.load(profile="phone")', "logged in: alice@example.com with the device flow\n"),
    ("--jq '{organization_name, country_code}'", '"organization_name": "Alice\'s Bakery"'),
    ('"first_name": "Ann"', "\nAnn\n"),
    ("--input - --jq .name", "\nNewsletter\n"),
    ("-f name=Regulars -F favorite=true", "\nRegulars\ttrue\n"),
    ("-X GET -F limit=1", "\nRegulars\ttrue\n1\n"),
    ("--jq .email_address.address", "bea@example.com\ncal@example.com\n"),
    ("._links.next.href", "\n/v3/contacts\n"),
    ("--paginate", '[\n  "ann@example.com",\n  "bea@example.com",\n  "cal@example.com"'),
    ("ctct api GET /contacts/0000", "exit 14\n"),
    ("ctct api GET https://example.com", "exit 2\n"),
    ("ctct api GET /contacts --profile read-only", "exit 16\n"),
    ("ctct lists create VIP", "Created list 'VIP' ("),
    ("ctct lists rename", "Renamed 'VIP' to 'VIP customers'."),
    ("ctct lists show", "favorite:         True"),
    ("ctct lists list", "VIP customers"),
    ("ctct lists delete Newsletter", "Deleted list 'Newsletter'."),
    ("ctct lists add", "Added 2 contacts to 'VIP customers'."),
    ("ctct lists remove", "Removed 1 contact from 'VIP customers'."),
    ("--dry-run", "customers.csv: 6 rows, 2 valid, 4 rejected (dry run: nothing sent)."),
    ("--dry-run", "rejected line 4: invalid email address 'fay@example'"),
    ("--dry-run", "rejected line 5: birthday_month must be a number from 1 to 12, not '13'"),
    ("--dry-run", "rejected line 6: has 3 fields; the header has 5"),
    ("--dry-run", "rejected line 7: repeats the email address of line 2"),
    ("--create-list ||", "into list 'Customers': 2 added, 0 updated, 4 rejected"),
    ("--list Customers --json", '"updated": 2,'),
    (
        "-o customers-export.csv",
        "email_address,first_name,last_name\ndan@example.com,Dan,Dough\n"
        "eve@example.com,Eve,Eclair\n5\n",
    ),
    ("-o customers-export.csv 2>&1", "already exists: add --force to replace it"),
    ("--list Customer 2>&1", "No contact list named 'Customer' (did you mean 'Customers'?)"),
    (
        "import customers-export.csv --list Customers\n",
        "into list 'Customers': 0 added, 2 updated, 0 rejected (2 rows",
    ),
    ("updated:", "updated: Zoe Zest"),
    ("api.contacts.delete(zoe", "after delete:"),
    ("Master bakers", "deleted: completed"),
    ("/account/user/privileges", "200 True"),
    ("api.pages(", "['ann@example.com', 'bea@example.com']"),
    ("Guests", "members: 250"),
    ("export_contacts(", "['ann@example.com', 'bea@example.com']\nactive contacts: 254\n"),
    ("create_or_update(", "created updated True\nIvy Ice True\n"),
    ("api.custom_fields.create(", "Carrot True\n['Favorite cake'] ['Regular']\n"),
    ("Spring sale", "Draft\n2030-05-01T09:00:00.000Z\nScheduled\n"),
    ("not found:", "not found: 404 contacts.api.not_found"),
    ("conflict:", "conflict: 409"),
    ('api.request("GET", "https://example.com', "RefusedUrl exit 2"),
    ("daily_quota=1", "quota spent; resets at 00:00 UTC exit 15"),
    ("CTCT_API_DAILY_QUOTA=1", "exit 15\n"),
    ('"count": 2}', "Alice's Bakery\n"),
    ("RetryPolicy(attempts=1)", "not retried: 503"),
    ("asyncio.run(main())", "Alice's Bakery "),
)
