"""Confirmations: no is an answer (exit 17, "Not deleted."), not an interrupt (Ctrl-C
stays 130); with no terminal to ask on, a destructive command needs --yes and says so.
Run on a pseudo-terminal against the emulator."""

from __future__ import annotations

import json
import os
import sqlite3
from contextlib import closing
from pathlib import Path

from ctct.stores import generate_key, open_store
from ctct.testing import EmulatorHandle, start_emulator
from tests.cli.conftest import Cli, login
from tests.cli.terminal import in_terminal
from tests.keeper.fleet import store_minted, write_config

PROMPT = "Delete list 'Doomed'? [y/N]: "


def sealed_records(cli: Cli) -> list[tuple[str, bytes]]:
    """The store's records as stored (sealed: no key needed to compare them)."""
    path = cli.env["CTCT_STORE"].removeprefix("sqlite://")
    with closing(sqlite3.connect(path)) as db:
        return [(p, bytes(d)) for p, d in db.execute("SELECT profile, data FROM grants")]


def list_names(cli: Cli) -> list[str]:
    return [item["name"] for item in cli.json("lists", "list")]


def test_lists_delete_asks_and_takes_no_for_an_answer(cli: Cli, emu: EmulatorHandle) -> None:
    login(cli, emu)
    assert cli.run("lists", "create", "Doomed").returncode == 0
    for keys in (b"n\n", b"\n", b"\x04", b"maybe\n"):
        typed = [(PROMPT, keys)] + ([("Answer y or n.", b"no\n")] if keys == b"maybe\n" else [])
        code, shown = in_terminal(["lists", "delete", "Doomed"], cli.env, typed)
        assert code == 17, shown
        assert shown.rstrip().endswith("Not deleted."), shown
        assert "Error" not in shown and "Interrupted" not in shown
    assert "Doomed" in list_names(cli)
    code, shown = in_terminal(["lists", "delete", "Doomed"], cli.env, [(PROMPT, b"\x03")])
    assert code == 130 and "Interrupted." in shown, shown
    assert "Doomed" in list_names(cli)
    code, shown = in_terminal(["lists", "delete", "Doomed"], cli.env, [(PROMPT, b"y\n")])
    assert code == 0 and "Deleted list 'Doomed'." in shown, shown
    assert "Doomed" not in list_names(cli)


def test_without_a_terminal_deleting_needs_yes(cli: Cli, emu: EmulatorHandle) -> None:
    login(cli, emu)
    for name in ("Piped", "Short"):
        assert cli.run("lists", "create", name).returncode == 0
    piped = cli.run("lists", "delete", "Piped", input="y\n")
    assert piped.returncode == 2, piped.stderr
    assert "there is no terminal to ask on: add --yes (-y)" in piped.stderr
    assert "Piped" in list_names(cli)
    for name, flag in (("Piped", "--yes"), ("Short", "-y")):
        done = cli.run("lists", "delete", name, flag)
        assert done.returncode == 0 and f"Deleted list '{name}'." in done.stdout, done.stderr
    assert not {"Piped", "Short"} & set(list_names(cli))


def test_keeper_disconnect_asks_too(tmp_path: Path) -> None:
    with start_emulator(token_rate_per_second=50) as emu:
        url = f"sqlite:///{tmp_path}/tokens.db"
        with open_store(url) as store:
            store_minted(emu, store, 1)
        config = str(write_config(tmp_path / "keeper.toml", emu.base_url, store=url))
        env = {**os.environ, "CTCT_KEYRING": "0", "CTCT_STORE_KEYRING": "0", "NO_COLOR": "1"}
        args = ["keeper", "disconnect", "--config", config, "acct-0000"]
        code, shown = in_terminal(args, env, [("[y/N]: ", b"n\n")])
        assert code == 17 and shown.rstrip().endswith("Not disconnected."), shown
        piped = Cli(env, tmp_path).run(*args)
        assert piped.returncode == 2 and "add --yes (-y)" in piped.stderr
        listed = Cli(env, tmp_path).run("keeper", "status", "--config", config)
        assert listed.stdout.startswith("acct-0000\t") and "1 account: " in listed.stderr
        status = Cli(env, tmp_path).run("keeper", "status", "--config", config, "--json")
        assert [a["profile"] for a in json.loads(status.stdout)["accounts"]] == ["acct-0000"]
        code, shown = in_terminal(args, env, [("[y/N]: ", b"y\n")])
        assert code == 0 and "Disconnected acct-0000" in shown, shown


def test_declining_to_replace_an_unreadable_record_changes_nothing(
    cli: Cli, emu: EmulatorHandle
) -> None:
    cli.env["CTCT_STORE_KEY"] = generate_key()
    login(cli, emu)
    cli.env["CTCT_STORE_KEY"] = generate_key()  # the first key is lost
    before = sealed_records(cli)
    assert [profile for profile, _ in before] == ["default"]
    question = "Replace that record with the grant of this login? [y/N]: "
    code, shown = in_terminal(["auth", "login", "--device"], cli.env, [(question, b"n\n")])
    assert code == 17, shown
    assert shown.rstrip().endswith("replaces it without asking)."), shown
    assert "Not replaced: the record is as it was" in shown
    assert sealed_records(cli) == before
    assert not emu.pending()["device_codes"]  # no login was started
