"""``ctct -V`` / ``ctct --version``: the version, as ``gh --version`` and ``httpx`` print it."""

from __future__ import annotations

import subprocess

import pytest

from ctct import __version__
from tests.cli.conftest import CTCT


@pytest.mark.parametrize("flag", ["-V", "--version"])
def test_version_flag_prints_the_version(flag: str) -> None:
    result = subprocess.run([CTCT, flag], capture_output=True, text=True, timeout=60, check=False)
    assert (result.returncode, result.stdout, result.stderr) == (0, f"ctct {__version__}\n", "")
