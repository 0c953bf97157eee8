"""The ``# safety:`` markers (see ``tests/safety_mutations.py``): every one parses and
names exactly one line of the current tree (fast, so markers do not rot as code moves);
the mutation engine tells a killed mutant from a survivor and a broken marker (on a
small repository built here); and, behind ``long``, every marker's mutant is killed."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests import safety_mutations
from tests.safety_mutations import check, collect, mutate, run

ROOT = Path(__file__).resolve().parents[1]


def test_every_safety_marker_names_exactly_one_line_of_the_tree() -> None:
    markers = collect(ROOT)
    assert len(markers) >= 7  # this issue's own; others add more
    problems = [
        f"{m.test_file}:{m.comment_line}: {checked.problem}"
        for m in markers
        if (checked := check(m, ROOT)).line is None
    ]
    assert problems == []
    # Each marker's test exists where the marker says.
    assert all(m.test is not None and m.test.startswith(m.test_file + "::") for m in markers)


def test_mutate_replaces_one_line_with_pass_at_its_indentation() -> None:
    source = "def f(x):\n    if x:\n        return 1\n    return 2\n"
    assert mutate(source, 3) == "def f(x):\n    if x:\n        pass\n    return 2\n"


GUARD = """
def withdraw(balance: int, amount: int) -> int:
    if amount > balance:
        raise ValueError("insufficient funds")
    balance -= amount
    log = []
    log.append(amount)
    return balance
"""

TESTS = """
import pytest

from demo.guard import withdraw


def test_refuses_an_overdraft():
    # safety: src/demo/guard.py: raise ValueError("insufficient funds")
    with pytest.raises(ValueError):
        withdraw(1, 2)


def test_too_weak_to_notice():
    # safety: src/demo/guard.py: balance -= amount
    assert withdraw(5, 1) >= 0


def test_names_a_missing_line():
    # safety: src/demo/guard.py: return balance + 1
    pass


def test_names_a_header():
    # safety: src/demo/guard.py: if amount > balance:
    pass


class TestInAClass:
    def test_balance(self):
        # safety: src/demo/guard.py: return balance  # noqa: E501
        assert withdraw(5, 1) == 4


def test_malformed():
    # safety: no path here
    pass


# safety: src/demo/guard.py: log.append(amount)
"""


def _demo_repo(root: Path) -> Path:
    (root / "src" / "demo").mkdir(parents=True)
    (root / "src" / "demo" / "__init__.py").write_text("")
    (root / "src" / "demo" / "guard.py").write_text(textwrap.dedent(GUARD))
    (root / "tests").mkdir()
    (root / "tests" / "test_guard.py").write_text(textwrap.dedent(TESTS))
    (root / "pyproject.toml").write_text('[tool.pytest.ini_options]\ntestpaths = ["tests"]\n')
    return root


def test_the_engine_tells_killed_from_survived_and_broken(tmp_path: Path) -> None:
    repo = _demo_repo(tmp_path / "demo")
    results = run(collect(repo), root=repo, timeout=60, progress=False)
    outcomes = {(r.marker.test or r.marker.text).split("::")[-1]: r for r in results}
    assert outcomes["test_refuses_an_overdraft"].outcome == "killed"
    assert outcomes["test_too_weak_to_notice"].outcome == "SURVIVED"
    assert outcomes["test_balance"].outcome == "killed"  # in a class; noqa suffix ignored
    missing = outcomes["test_names_a_missing_line"]
    assert missing.outcome == "broken" and "matches no line" in missing.detail
    header = outcomes["test_names_a_header"]
    assert header.outcome == "broken" and "does not compile" in header.detail
    malformed = outcomes["test_malformed"]
    assert malformed.outcome == "broken" and "not `# safety:" in malformed.detail
    (outside,) = [r for r in results if r.marker.test is None]
    assert outside.outcome == "broken" and "not inside a test function" in outside.detail
    table = safety_mutations.table(results)
    assert "SURVIVED" in table and "killed" in table and "broken" in table
    # The exit status fails on any survivor or broken marker.
    assert safety_mutations.main(["--root", str(repo), "-k", "weak", "--no-baseline"]) == 1
    assert safety_mutations.main(["--root", str(repo), "-k", "overdraft", "--no-baseline"]) == 0


@pytest.mark.long
def test_removing_any_safety_line_fails_its_test() -> None:
    """The mutation run itself: ``python -m tests.safety_mutations``."""
    assert safety_mutations.main([]) == 0
