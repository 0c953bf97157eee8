"""Start-up stays lean: *which* modules a command imports, not how long it takes (the
timings are benchmarks/bench_cli_cold_start.py's job). Heavy libraries are imported only
by the commands that use them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

from ctct.cli import main as cli_main
from ctct.testing import EmulatorHandle
from tests.cli.conftest import Cli, login

# Run the console script's entry point, then report every module it imported.
_PROBE = """
import json, sys
out = sys.argv.pop(1)
sys.argv[0] = "ctct"
try:
    from ctct._entry import main
    main()
except SystemExit:
    pass
finally:
    with open(out, "w") as handle:
        json.dump(sorted(sys.modules), handle)
"""

HEAVY = (
    "rich",
    "httpx2",
    "httpcore2",
    "joserfc",
    "cryptography",
    "psycopg",
    "psycopg_pool",
    "redis",
    "prometheus_client",
    "anyio",
    "asyncio",
    "keyring",
    "platformdirs",
    "starlette",
    "uvicorn",
)


def imported(cli: Cli, tmp_path: Path, *args: str, **env: str) -> set[str]:
    out = tmp_path / "modules.json"
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, str(out), *args],
        env={**cli.env, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.exists(), result.stderr
    return set(json.loads(out.read_text()))


def tops(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


@pytest.fixture
def bare_cli(tmp_path: Path) -> Cli:
    from tests.cli.conftest import isolated_env

    return Cli(isolated_env(tmp_path), tmp_path)


def test_help_imports_no_command_and_no_heavy_library(bare_cli: Cli, tmp_path: Path) -> None:
    for args in (["--help"], [], ["--version"]):
        modules = imported(bare_cli, tmp_path, *args)
        commands = sorted(m for m in modules if m.startswith("ctct.cli.") and m.endswith("_cmd"))
        assert commands == [], (args, commands)
        assert not tops(modules) & set(HEAVY), (args, sorted(tops(modules) & set(HEAVY)))
        assert "logging" not in modules, args


def test_the_help_list_matches_each_commands_own_help() -> None:
    group = cli_main.cli
    assert isinstance(group, click.Group)
    context = click.Context(group, info_name="ctct")
    for name in cli_main._COMMANDS:
        command = group.get_command(context, name)
        assert command is not None, name
        own = command.get_short_help_str(limit=10_000)
        assert cli_main._SHORT_HELP.get(name) == own, (
            f"_SHORT_HELP[{name!r}] must be {own!r} (ctct.cli.main says how to register)"
        )


def test_the_token_fast_path_imports_nothing_heavy(
    cli: Cli, emu: EmulatorHandle, tmp_path: Path
) -> None:
    login(cli, emu)
    modules = imported(cli, tmp_path, "auth", "token")
    assert "click" not in modules  # the fast path answered
    assert not tops(modules) & set(HEAVY), sorted(tops(modules) & set(HEAVY))


def test_api_and_lists_import_neither_the_jose_stack_nor_an_event_loop(
    cli: Cli, emu: EmulatorHandle, tmp_path: Path
) -> None:
    """A fresh token needs no verification (joserfc, cryptography), a sync command no
    anyio or asyncio, and a store without a key no cryptography."""
    login(cli, emu)
    unwanted = {"joserfc", "cryptography", "asyncio", "psycopg", "redis", "prometheus_client"}
    for args in (("api", "GET", "/account/summary"), ("lists", "list"), ("auth", "status")):
        modules = imported(cli, tmp_path, *args)
        assert "ctct.api" in modules or args[0] == "auth", args  # it did run
        found = tops(modules) & unwanted
        if args[0] == "auth":
            found -= {"joserfc", "cryptography"}  # status verifies the token's signature
        assert not found, (args, sorted(found))
    for args in (("api", "GET", "/account/summary"), ("lists", "list")):
        piped = imported(cli, tmp_path, *args)
        assert "rich" not in tops(piped), f"{args}: piped output needs no rich"
