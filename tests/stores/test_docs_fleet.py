"""docs/fleet.md stays true: its runnable blocks (a migration between two SQLite stores,
the doctor's store lines) run, in order, against a live emulator; the PostgreSQL and
Redis examples need servers of the reader's and are marked not run."""

from __future__ import annotations

from pathlib import Path

from tests.test_docs_emulator import ROOT, run_doc

DOC = ROOT / "docs" / "fleet.md"


def test_every_runnable_block_in_the_fleet_docs_runs(tmp_path: Path) -> None:
    output = run_doc(DOC, tmp_path, min_blocks=3)
    for expected in (
        "moved 1 grant(s) to sqlite:///",
        "exit 19\n",
        "the new store serves the grant\n",
        "moved 0 grant(s) to sqlite:///",
        "1 moved before",
        "store server: SQLite 3.",
        "sqlite SQLite 3.",
    ):
        assert expected in output, f"{expected!r} not in:\n{output[-3000:]}"
