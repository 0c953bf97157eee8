"""docs/broker.md stays true: every block runs against a live emulator and broker."""

from __future__ import annotations

from pathlib import Path

from tests.test_docs_emulator import ROOT, run_doc

DOC = ROOT / "docs" / "broker.md"


def test_every_block_in_the_broker_docs_runs(tmp_path: Path) -> None:
    output = run_doc(DOC, tmp_path, min_blocks=6)
    organization = output.count("Alice's Bakery")  # the emulator account's name
    for expected in ('"token_type": "Bearer"', "missing_header", "valid until 20"):
        assert expected in output, f"{expected!r} not in:\n{output[-3000:]}"
    # the Node.js worker and the curl -H @FILE call both printed it
    assert organization >= 2, output[-3000:]
