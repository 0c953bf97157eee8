"""docs/keeper.md stays true: its blocks run, in order, against a live emulator."""

from __future__ import annotations

from pathlib import Path

from tests.test_docs_emulator import ROOT, run_doc

DOC = ROOT / "docs" / "keeper.md"


def test_every_block_in_the_keeper_docs_runs(tmp_path: Path) -> None:
    output = run_doc(DOC, tmp_path, min_blocks=3)
    for expected in (
        "shop ok keep-fresh",
        "archive ok keep-alive",
        "fits",
        "ctct_accounts{",
        "Paused shop",
        "\nshop\n",
        "Resumed shop",
    ):
        assert expected in output, f"{expected!r} not in:\n{output[-3000:]}"
