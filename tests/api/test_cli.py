"""``ctct api``, ``ctct lists`` and ``ctct contacts`` as a user runs them: a real
process, settings from the environment, a grant logged in at a loopback emulator."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ctct.emulator import EmulatorConfig
from ctct.stores.crypto import generate_key
from ctct.testing import start_emulator
from tests.api.conftest import FAST_CLIENT, FAST_EMULATOR, ApiEnv

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ApiEnv, Run]]:
    monkeypatch.setenv("CTCT_STORE_KEY", generate_key())
    monkeypatch.setenv("CTCT_STORE_KEYRING", "0")
    config = EmulatorConfig(auto_approve=True).with_changes(**FAST_EMULATOR)
    with start_emulator(config) as handle:
        env = ApiEnv(handle, "socket", f"sqlite:///{tmp_path}/store.db", FAST_CLIENT)
        env.login()
        (tmp_path / "config.toml").write_text("")
        process_env = {
            **os.environ,
            **handle.env(),
            "CTCT_STORE": env.store_url,
            "CTCT_CONFIG": str(tmp_path / "config.toml"),
            "CTCT_KEYRING": "0",
            "CTCT_API_RATE": "1000",
            "COLUMNS": "200",
        }

        def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "ctct", *args],
                env=process_env,
                input=stdin,
                capture_output=True,
                text=True,
                timeout=120,
                cwd=tmp_path,
            )

        yield env, run
        env.close()


def test_api_get_post_paginate_jq(cli_env: tuple[ApiEnv, Run]) -> None:
    env, run = cli_env
    env.handle.seed(username="alice@example.com", contacts_count=620)
    summary = run("api", "GET", "/account/summary")
    assert summary.returncode == 0, summary.stderr
    assert json.loads(summary.stdout)["encoded_account_id"] == "a07e1alice001"
    created = run("api", "POST", "/contact_lists", "--data", '{"name": "From CLI"}')
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["name"] == "From CLI"
    joined = run("api", "GET", "/v3/contacts?limit=500", "--paginate")
    assert joined.returncode == 0, joined.stderr
    document = json.loads(joined.stdout)
    assert len(document["contacts"]) == 620 and "_links" not in document
    emails = run(
        "api", "GET", "/contacts", "--paginate", "--jq", ".contacts[].email_address.address"
    )
    assert emails.returncode == 0, emails.stderr
    lines = emails.stdout.splitlines()
    assert len(lines) == 620 and all("@" in line and '"' not in line for line in lines)
    body = run("api", "POST", "/contact_lists", "--input", "-", stdin='{"name": "From stdin"}')
    assert body.returncode == 0, body.stderr
    # 2 pages of 500, then 13 of CC's default 50: the path is sent as given.
    assert env.api_counts()["GET /v3/contacts"]["200"] == 15


def test_api_errors_are_one_line_and_an_exit_code(cli_env: tuple[ApiEnv, Run]) -> None:
    _, run = cli_env
    refused = run("api", "GET", "https://evil.example/v3/contacts")
    assert refused.returncode == 2
    assert refused.stderr.startswith("Error: ") and "evil.example" in refused.stderr
    missing = run("api", "GET", "/contacts/00000000-0000-4000-8000-000000000000")
    assert missing.returncode == 14
    assert "contacts.api.not_found" in missing.stderr and "Traceback" not in missing.stderr
    bad_json = run("api", "POST", "/contact_lists", "--data", "{nope")
    assert bad_json.returncode == 2 and "not valid JSON" in bad_json.stderr
    bad_jq = run("api", "GET", "/account/summary", "--jq", ".[[[")
    assert bad_jq.returncode == 2 and "--jq" in bad_jq.stderr
    assert run("api", "FETCH", "/contacts").returncode == 2


def test_lists_commands(cli_env: tuple[ApiEnv, Run]) -> None:
    _, run = cli_env
    assert run("lists", "create", "Regulars", "--description", "Weekly").returncode == 0
    listed = run("lists", "list", "--json")
    assert "Regulars" in [item["name"] for item in json.loads(listed.stdout)]
    renamed = run("lists", "rename", "Regulars", "Weekly Regulars")
    assert renamed.returncode == 0, renamed.stderr
    table = run("lists", "list")
    assert "Weekly Regulars" in table.stdout and "Weekly" in table.stdout
    assert run("lists", "delete", "Weekly Regulars", "--yes").returncode == 0
    gone = run("lists", "show", "Weekly Regulars")
    assert gone.returncode == 2 and "No contact list named" in gone.stderr


def test_lists_add_and_remove(cli_env: tuple[ApiEnv, Run]) -> None:
    env, run = cli_env
    env.handle.seed(
        username="alice@example.com",
        contacts=[{"email": "ann@example.com"}, {"email": "bob@example.com"}],
    )
    assert run("lists", "create", "Regulars").returncode == 0
    added = run("lists", "add", "Regulars", "ann@example.com", "bob@example.com")
    assert added.returncode == 0, added.stderr
    assert "Added 2 contacts" in added.stdout
    shown = json.loads(run("lists", "show", "Regulars", "--json").stdout)
    assert shown["membership_count"] == 2
    removed = run("lists", "remove", "Regulars", "bob@example.com")
    assert removed.returncode == 0, removed.stderr
    assert json.loads(run("lists", "show", "Regulars", "--json").stdout)["membership_count"] == 1
    unknown = run("lists", "add", "Regulars", "nobody@example.com")
    assert unknown.returncode == 2 and "nobody@example.com" in unknown.stderr


def test_import_dry_run_reports_every_bad_row(cli_env: tuple[ApiEnv, Run], tmp_path: Path) -> None:
    env, run = cli_env
    csv_file = tmp_path / "people.csv"
    csv_file.write_text(
        "email,first_name,last_name\n"
        "good@example.com,Good,Row\n"
        "bad-address,Bad,Email\n"
        ",No,Email\n"
        "short@example.com,Short\n"
    )
    result = run("contacts", "import", str(csv_file), "--list", "Anything", "--dry-run")
    assert result.returncode == 1, result.stderr
    assert "4 rows, 1 valid, 3 rejected (dry run" in result.stdout
    assert "rejected line 3: invalid email address 'bad-address'" in result.stdout
    assert "rejected line 4: missing email address" in result.stdout
    assert "rejected line 5: has 2 fields; the header has 3" in result.stdout
    assert env.statuses() == {}  # nothing was sent
    as_json = run("contacts", "import", str(csv_file), "--list", "Anything", "--dry-run", "--json")
    report = json.loads(as_json.stdout)
    assert [r["line"] for r in report["rejected"]] == [3, 4, 5]


def test_import_needs_an_existing_list(cli_env: tuple[ApiEnv, Run], tmp_path: Path) -> None:
    _, run = cli_env
    csv_file = tmp_path / "one.csv"
    csv_file.write_text("email\none@example.com\n")
    result = run("contacts", "import", str(csv_file), "--list", "Nope")
    assert result.returncode == 2
    assert "No contact list named 'Nope'" in result.stderr and "--create-list" in result.stderr
    no_header = tmp_path / "bad.csv"
    no_header.write_text("first_name\nAnn\n")
    bad = run("contacts", "import", str(no_header), "--list", "Nope")
    assert bad.returncode == 2 and "no email column" in bad.stderr


def test_export_to_a_file(cli_env: tuple[ApiEnv, Run], tmp_path: Path) -> None:
    env, run = cli_env
    env.handle.seed(username="alice@example.com", contacts_count=25)
    out = tmp_path / "out.csv"
    old_umask = os.umask(0o022)  # a usual shell's: new files would be 0644
    try:
        result = run("contacts", "export", "--output", str(out))
    finally:
        os.umask(old_umask)
    assert result.returncode == 0, result.stderr
    assert "Exported 25 contacts" in result.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 25 and all("@" in "".join(row.values()) for row in rows)
    # Contact data is personal data: only its owner may read the file, new or replaced.
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    out.write_text("old,data\n")
    out.chmod(0o644)
    with out.open() as earlier_reader:  # someone who could read the old file, still open
        again = run("contacts", "export", "-o", str(out), "--force")
        assert again.returncode == 0, again.stderr
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
        assert earlier_reader.read() == "old,data\n"
    assert list(csv.DictReader(io.StringIO(out.read_text()))) == rows
    assert not [p for p in tmp_path.iterdir() if p.name.endswith((".tmp", ".part"))]
    to_stdout = run("contacts", "export")
    assert to_stdout.returncode == 0 and to_stdout.stdout == out.read_text()


def test_import_reports_rows_constant_contact_refused(
    cli_env: tuple[ApiEnv, Run], tmp_path: Path
) -> None:
    _env, run = cli_env
    csv_file = tmp_path / "people.csv"
    # Line 3 passes the local checks, but its anniversary is no date: CC refuses it.
    csv_file.write_text(
        "email,first_name,anniversary\nann@example.com,Ann,\nbob@example.com,Bob,someday\n"
        "cat@example.com,Cat,2020-05-17\nbad,Bad,\n"
    )
    result = run("contacts", "import", str(csv_file), "--list", "Shoes", "--create-list", "--json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["added"] == 2 and report["updated"] == 0
    lines = {r["line"]: r["reason"] for r in report["rejected"]}
    assert sorted(lines) == [3, 5]
    assert lines[3].startswith("refused by Constant Contact:") and "someday" in lines[3]
    assert lines[5] == "invalid email address 'bad'"


def test_commands_refuse_a_call_the_grant_has_no_scope_for(
    cli_env: tuple[ApiEnv, Run], tmp_path: Path
) -> None:
    env, run = cli_env
    env.login(("account_read", "offline_access"))  # replaces the grant: no contact_data
    before = env.api_counts()
    csv_file = tmp_path / "people.csv"
    csv_file.write_text("email\nann@example.com\nbob@example.com\n")
    for args in (
        ("api", "GET", "/contacts"),
        ("lists", "list"),
        ("contacts", "import", str(csv_file), "--list", "Shoes", "--create-list"),
        ("contacts", "export", "--output", str(tmp_path / "out.csv")),
    ):
        result = run(*args)
        assert result.returncode == 16, (args, result.stderr)
        assert result.stderr.startswith("Error: ") and "Traceback" not in result.stderr
        assert "needs the contact_data scope" in result.stderr
        assert "ctct auth login --scopes 'account_read contact_data offline_access'" in (
            result.stderr
        )
    assert env.api_counts() == before  # nothing reached the server
    assert not (tmp_path / "out.csv").exists()


def test_api_takes_gh_api_habits(cli_env: tuple[ApiEnv, Run], tmp_path: Path) -> None:
    """``ctct api PATH`` without a method, ``-X``, ``-f``/``-F`` fields, ``-H``, ``-q``."""
    env, run = cli_env
    env.handle.seed(username="alice@example.com", contacts_count=5)
    summary = run("api", "/account/summary", "-q", ".encoded_account_id")
    assert (summary.returncode, summary.stdout) == (0, "a07e1alice001\n"), summary.stderr
    # Fields and no method: POST, the fields as a JSON body, typed by -F.
    (tmp_path / "about.txt").write_text("Read from a file")
    created = run(
        "api", "/contact_lists", "-f", "name=Typed", "-F", "favorite=true",
        "-F", "description=@about.txt", "--jq", "[.name, .favorite, .description]",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout) == ["Typed", True, "Read from a file"]
    assert env.api_counts()["POST /v3/contact_lists"]["201"] == 1
    # A GET sends the fields in the query string, after the path's own.
    one = run("api", "/contacts?status=all", "-X", "GET", "-F", "limit=1", "-q", ".contacts|length")
    assert (one.returncode, one.stdout) == (0, "1\n"), one.stderr
    positional = run("api", "get", "/contacts", "-F", "limit=2", "-q", ".contacts|length")
    assert (positional.returncode, positional.stdout) == (0, "2\n"), positional.stderr
    # -H is sent: the API refuses an Accept it cannot serve.
    refused = run("api", "/account/summary", "-H", "Accept: application/xml")
    assert refused.returncode == 14, refused.stderr
    own = run("api", "/account/summary", "-H", "Authorization: Bearer x")
    assert own.returncode == 2 and "sets this header itself" in own.stderr
    clash = run("api", "DELETE", "/contacts", "-X", "GET")
    assert clash.returncode == 2 and "Two methods" in clash.stderr
    unreadable = run("api", "/contact_lists", "-F", "name=@missing.txt")
    assert unreadable.returncode == 2 and "-F @missing.txt: cannot read it" in unreadable.stderr
    nested_get = run("api", "/contacts", "-X", "GET", "-f", "a[b]=1")
    assert nested_get.returncode == 2 and "nested fields need a request body" in nested_get.stderr
    assert "Traceback" not in own.stderr + clash.stderr + unreadable.stderr
