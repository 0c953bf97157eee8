"""Output for people and for scripts, as gh does it: on a terminal, tables aligned under
a header and JSON coloured; piped, tables as tab-separated rows (no header, padding or
colour) and JSON plain. Terminal runs go through a pseudo-terminal."""

from __future__ import annotations

import json
import re

from ctct.testing import EmulatorHandle
from tests.cli.conftest import Cli, login
from tests.cli.terminal import in_terminal

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def colour_env(cli: Cli, **changes: str) -> dict[str, str]:
    env = {k: v for k, v in cli.env.items() if k != "NO_COLOR"}
    return {**env, "TERM": "xterm-256color", **changes}


def test_piped_tables_are_tab_separated_rows(cli: Cli, emu: EmulatorHandle) -> None:
    login(cli, emu)
    for name in ("Alpha list", "Beta"):
        assert cli.run("lists", "create", name, "--favorite").returncode == 0
    listed = cli.run("lists", "list", FORCE_COLOR="1")  # colour forced: still plain
    assert listed.returncode == 0, listed.stderr
    rows = [line.split("\t") for line in listed.stdout.splitlines()]
    by_name = {row[0]: row for row in rows}
    assert set(by_name) == {"General Interest", "Alpha list", "Beta"}  # no header row
    assert all(len(row) == 4 for row in rows)
    assert by_name["Beta"][1] == "0" and by_name["Beta"][3] == "yes"
    assert "  " not in listed.stdout and "\x1b" not in listed.stdout
    grants = cli.run("auth", "list")
    assert grants.returncode == 0, grants.stderr
    (row,) = [line.split("\t") for line in grants.stdout.splitlines()]
    assert row[:3] == ["*", "default", "fresh"] and len(row) == 7
    assert "Store: " in grants.stderr and "* = the profile" in grants.stderr


def test_a_terminal_gets_aligned_tables_and_coloured_json(cli: Cli, emu: EmulatorHandle) -> None:
    login(cli, emu)
    code, shown = in_terminal(["lists", "list"], colour_env(cli))
    assert code == 0, shown
    plain = ANSI.sub("", shown)
    assert re.search(r"^name +members +list_id +favorite", plain, re.M), shown
    assert re.search(r"^General Interest +0 +[0-9a-f-]{36}", plain, re.M), shown
    code, shown = in_terminal(["api", "/account/summary"], colour_env(cli))
    assert code == 0, shown
    assert ANSI.search(shown), shown  # coloured
    assert json.loads(ANSI.sub("", shown))["encoded_account_id"] == "a07e1alice001"
    code, shown = in_terminal(["auth", "status", "--json"], colour_env(cli))
    assert code == 0 and ANSI.search(shown), shown
    assert json.loads(ANSI.sub("", shown))["profile"] == "default"
    # NO_COLOR on a terminal, and any pipe: plain JSON.
    code, shown = in_terminal(["api", "/account/summary"], colour_env(cli, NO_COLOR="1"))
    assert code == 0 and "\x1b" not in shown, shown
    piped = cli.run("api", "/account/summary", FORCE_COLOR="1")
    assert "\x1b" not in piped.stdout
    assert json.loads(piped.stdout)["encoded_account_id"] == "a07e1alice001"


ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def times_in(document: object, path: str = "") -> list[tuple[str, object]]:
    """Every value that is a time: keys ending ``_at``/``_until``, and any number that
    looks like an epoch time."""
    found: list[tuple[str, object]] = []
    if isinstance(document, dict):
        for key, value in document.items():
            if str(key).endswith(("_at", "_until")) and not isinstance(value, dict | list):
                found.append((f"{path}.{key}", value))
            found += times_in(value, f"{path}.{key}")
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += times_in(value, f"{path}[{index}]")
    elif isinstance(document, int | float) and not isinstance(document, bool):
        found += [(path, document)] if 1e9 < document < 1e11 else []
    return found


def test_json_times_are_iso_8601_in_utc(cli: Cli, emu: EmulatorHandle) -> None:
    login(cli, emu)
    assert cli.run("lists", "create", "Dated").returncode == 0
    seen = 0
    for args in (
        ("auth", "status"),
        ("auth", "list"),
        ("auth", "refresh", "--force"),
        ("lists", "show", "Dated"),
        ("lists", "list"),
    ):
        times = times_in(cli.json(*args))
        assert times, args
        for where, value in times:
            assert value is None or (isinstance(value, str) and ISO.match(value)), (
                args,
                where,
                value,
            )
            seen += value is not None
    assert seen >= 10
