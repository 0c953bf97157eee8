"""The command line behaves as a ``gh`` user expects: suggestions for typos, shell
completion, help for a bare group, ``--profile`` before the command."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from ctct.testing import EmulatorHandle
from tests.cli.conftest import CTCT, Cli, isolated_env, login


@pytest.fixture
def offline(tmp_path: Path) -> Cli:
    return Cli(isolated_env(tmp_path), tmp_path)


@pytest.mark.parametrize(
    ("args", "suggestion"),
    [
        (("doctr",), "No such command 'doctr'. Did you mean 'doctor'?"),
        (("lsts", "list"), "No such command 'lsts'. Did you mean 'lists'?"),
        (("auth", "stauts"), "No such command 'stauts'. Did you mean 'status'?"),
        (("lists", "delet", "X"), "No such command 'delet'. Did you mean 'delete'?"),
    ],
)
def test_a_mistyped_command_gets_a_suggestion(
    offline: Cli, args: tuple[str, ...], suggestion: str
) -> None:
    result = offline.run(*args)
    assert result.returncode == 2
    assert result.stderr.rstrip().endswith(f"Error: {suggestion}"), result.stderr


def test_a_bare_group_prints_its_help_and_succeeds(offline: Cli) -> None:
    bare = offline.run()
    assert (bare.returncode, bare.stderr) == (0, "")
    assert bare.stdout.startswith("Usage: ctct [OPTIONS] COMMAND [ARGS]...")
    assert "completion" in bare.stdout and "--profile NAME" in bare.stdout
    group = offline.run("auth")
    assert (group.returncode, group.stderr) == (0, "")
    assert group.stdout.startswith("Usage: ctct auth [OPTIONS] COMMAND [ARGS]...")


def test_bash_completes_commands_subcommands_and_flags(offline: Cli) -> None:
    script = offline.run("completion", "bash")
    assert script.returncode == 0, script.stderr
    env = {**offline.env, "PATH": f"{Path(CTCT).parent}{os.pathsep}{os.environ['PATH']}"}
    completed = {}
    for words in ("ctct doc", "ctct lists del", "ctct api /x --jq"):
        # The real script in a real bash, as `eval "$(ctct completion bash)"` loads it.
        line = (
            f'eval "$(ctct completion bash)"; COMP_WORDS=({words}); '
            "COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); _ctct_completion ctct; "
            'printf "%s\\n" "${COMPREPLY[@]}"'
        )
        run = subprocess.run(
            ["bash", "-c", line], capture_output=True, text=True, env=env, timeout=60
        )
        assert run.returncode == 0, run.stderr
        completed[words] = run.stdout.split()
    assert completed["ctct doc"] == ["doctor"]
    assert completed["ctct lists del"] == ["delete"]
    assert completed["ctct api /x --jq"] == ["--jq"]
    for shell, marker in (("zsh", "#compdef ctct"), ("fish", "complete --no-files --command ctct")):
        other = offline.run("completion", shell)
        assert other.returncode == 0 and marker in other.stdout, other.stdout
    unknown = offline.run("completion", "powershell")
    assert unknown.returncode == 2 and "'bash', 'zsh', 'fish'" in unknown.stderr


def test_profile_before_the_command(cli: Cli, emu: EmulatorHandle) -> None:
    login(cli, emu, profile="bakery")
    for flag in ("--profile", "-p"):
        status = cli.run(flag, "bakery", "auth", "status", "--json")
        assert status.returncode == 0, status.stderr
        assert '"profile": "bakery"' in status.stdout
    summary = cli.run("--profile", "bakery", "api", "/account/summary", "-q", ".country_code")
    assert summary.returncode == 0, summary.stderr
    # The default profile has no grant: the flag really chose the profile.
    assert cli.run("auth", "status").returncode == 4
    agree = cli.run("--profile", "bakery", "auth", "status", "--profile", "bakery")
    assert agree.returncode == 0, agree.stderr
    clash = cli.run("--profile", "bakery", "auth", "status", "--profile", "default")
    assert clash.returncode == 2
    assert "Two profiles given: --profile bakery and --profile default." in clash.stderr
