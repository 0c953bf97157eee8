"""``ctct lists`` and ``ctct contacts`` as a newcomer meets them: commands that take many
items check them all before changing anything, an export checks its file before the
work, an export imports as it is into another account, a spreadsheet's ``;``-separated
CSV is read, and an unknown list name gets the closest one suggested."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from ctct.testing import EmulatorHandle
from tests.cli.conftest import Cli, login

CONTACTS = [
    {"email": "ann@example.com", "first_name": "Ann", "last_name": "Lee", "job_title": "Chef"},
    {"email": "bob@example.com", "first_name": "Bob", "birthday_month": 4, "birthday_day": 12},
    {"email": "cat@example.com", "permission_to_send": "unsubscribed"},
]


@pytest.fixture
def alice(cli: Cli, emu: EmulatorHandle) -> Cli:
    login(cli, emu)
    emu.seed(username="alice@example.com", contacts=CONTACTS, lists=[{"name": "Regulars"}])
    return cli


def members(cli: Cli, name: str) -> int:
    count: int = cli.json("lists", "show", name)["membership_count"]
    return count


def test_lists_add_with_one_unknown_email_changes_nothing(alice: Cli, emu: EmulatorHandle) -> None:
    before = _activities(emu)
    result = alice.run(
        "lists", "add", "Regulars", "ann@example.com", "nobody@example.com", "bob@example.com"
    )
    assert result.returncode == 2, result.stderr
    assert "nobody@example.com" in result.stderr and "Nothing was changed" in result.stderr
    assert "ann@example.com" not in result.stderr  # only the unknown ones are named
    assert members(alice, "Regulars") == 0
    assert _activities(emu) == before
    # A contact id that names no contact is caught the same way (ids are looked up too).
    ghost = alice.run("lists", "add", "Regulars", "ann@example.com", _GHOST_ID)
    assert ghost.returncode == 2 and _GHOST_ID in ghost.stderr
    assert members(alice, "Regulars") == 0
    added = alice.run("lists", "add", "Regulars", "ann@example.com", "bob@example.com")
    assert added.returncode == 0, added.stderr
    assert members(alice, "Regulars") == 2
    removed = alice.run("lists", "remove", "Regulars", "bob@example.com", "nobody@example.com")
    assert removed.returncode == 2 and "nobody@example.com" in removed.stderr
    assert members(alice, "Regulars") == 2


_GHOST_ID = "00000000-0000-4000-8000-000000000000"


def _activities(emu: EmulatorHandle) -> int:
    """How many bulk activities (memberships, exports, imports) were asked of the emulator."""
    return sum(
        sum(statuses.values())
        for route, statuses in emu.counters()["api_requests"].items()
        if route.startswith("POST") and "/activities/" in route
    )


def test_an_unknown_list_gets_the_closest_name(alice: Cli, tmp_path: Path) -> None:
    shown = alice.run("lists", "show", "regulers")
    assert shown.returncode == 2
    assert "No contact list named 'regulers' (did you mean 'Regulars'?)" in shown.stderr
    people = tmp_path / "people.csv"
    people.write_text("email\ndan@example.com\n")
    imported = alice.run("contacts", "import", str(people), "--list", "Regular")
    assert imported.returncode == 2
    assert "(did you mean 'Regulars'?)" in imported.stderr and "--create-list" in imported.stderr
    far = alice.run("lists", "show", "Zebra crossing")
    assert far.returncode == 2 and "did you mean" not in far.stderr
    # --create-list creates the list asked for, and points out the near namesake.
    created = alice.run("contacts", "import", str(people), "--list", "Regular", "--create-list")
    assert created.returncode == 0, created.stderr
    assert "Created list 'Regular' (there is also a list named 'Regulars')" in created.stderr


def test_export_checks_the_output_path_before_exporting(
    alice: Cli, emu: EmulatorHandle, tmp_path: Path
) -> None:
    before = _activities(emu)
    existing = tmp_path / "kept.csv"
    existing.write_text("precious\n")
    cases = {
        str(tmp_path / "no-such-dir" / "out.csv"): "there is no directory",
        str(tmp_path): "is a directory",
        str(existing): "already exists: add --force",
        # Not even root may create files in /sys: a real attempt, not a permission guess.
        "/sys/contacts.csv": "Cannot write /sys/contacts.csv",
    }
    for path, message in cases.items():
        result = alice.run("contacts", "export", "-o", path)
        assert result.returncode == 2, (path, result.stderr)
        assert message in result.stderr, (path, result.stderr)
    assert _activities(emu) == before  # no export was started
    assert existing.read_text() == "precious\n"
    forced = alice.run("contacts", "export", "-o", str(existing), "--force")
    assert forced.returncode == 0, forced.stderr
    assert existing.read_text().startswith("email_address,")
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_an_export_imports_into_another_profile(
    cli: Cli, emu: EmulatorHandle, tmp_path: Path
) -> None:
    """Moving contacts between accounts: export from one profile, import the file as it is
    into another. The unsubscribed contact is not subscribed in the new account."""
    login(cli, emu, profile="shop")
    _login_as(cli, emu, "bob@example.com", profile="cafe")
    emu.seed(username="alice@example.com", contacts=CONTACTS)
    exported = tmp_path / "moving.csv"
    result = cli.run("contacts", "export", "--profile", "shop", "-o", str(exported))
    assert result.returncode == 0, result.stderr
    imported = cli.run(
        "contacts", "import", str(exported), "--profile", "cafe",
        "--list", "From the shop", "--create-list", "--json",
    )  # fmt: skip
    assert imported.returncode == 1, imported.stderr  # the unsubscribed row is rejected
    report = json.loads(imported.stdout)
    assert report["added"] == 2 and report["delimiter"] == ","
    assert (
        "contact_id" in report["ignored_columns"] and "Ignored the export-only" in imported.stderr
    )
    [rejected] = report["rejected"]
    assert rejected["line"] == 4 and "unsubscribed" in rejected["reason"]
    moved = cli.run("contacts", "export", "--profile", "cafe")
    assert moved.returncode == 0, moved.stderr
    rows = {row["email_address"]: row for row in csv.DictReader(io.StringIO(moved.stdout))}
    assert sorted(rows) == ["ann@example.com", "bob@example.com"]
    assert rows["ann@example.com"]["job_title"] == "Chef"
    assert (rows["bob@example.com"]["birthday_month"], rows["bob@example.com"]["birthday_day"]) == (
        "4",
        "12",
    )


def _login_as(cli: Cli, emu: EmulatorHandle, username: str, profile: str) -> None:
    running = cli.start("auth", "login", "--device", "--profile", profile)
    try:
        shown = running.wait_for("enter the code")
        [code] = [d["user_code"] for d in emu.pending()["device_codes"] if d["user_code"] in shown]
        emu.approve_device(code, username=username)
        status, _, err = running.finish()
    finally:
        running.kill()
    assert status == 0, err


def test_a_semicolon_separated_csv_is_read(alice: Cli, tmp_path: Path) -> None:
    people = tmp_path / "excel.csv"
    people.write_text('email;first_name;last_name\ndan@example.com;Dan;"Dough; Jr."\n')
    result = alice.run("contacts", "import", str(people), "--list", "Regulars", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["added"] == 1
    assert "Read " in result.stderr and "as semicolon-separated" in result.stderr
    shown = alice.run("api", "GET", "/contacts?email=dan@example.com")
    found = json.loads(shown.stdout)["contacts"]
    assert [c["last_name"] for c in found] == ["Dough; Jr."]
