"""Prove each safety test: remove the line it names and watch it fail.

Every safety test names the line whose removal must make it fail, with a comment inside
the test function::

    # safety: src/ctct/_refresh.py: latest = yield Load()

that is ``# safety: <repo-relative path>: <the exact stripped text of one line>``. For
each marker this script copies the repository to a temporary directory, replaces that
line with ``pass`` at the same indentation, runs only the test carrying the marker
against the copy (``PYTHONPATH`` points at the copy's ``src``, so the installed package
is not used) and checks that it fails. It prints a table (marker, test, result) and
exits 1 when a mutation survives or a marker is broken (its text matches no line or
several, it is outside a test function, or ``pass`` there would not compile).

    python -m tests.safety_mutations              # every marker
    python -m tests.safety_mutations -k refresh   # markers or tests containing "refresh"
    python -m tests.safety_mutations --check      # only parse and match the markers

A marker line too long for the line-length limit may end in ``# noqa: E501``; that
suffix is not part of the text matched.
"""

from __future__ import annotations

import argparse
import ast
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tokenize
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARKER = re.compile(r"^#\s*safety:\s*(?P<path>[^\s:][^:]*?)\s*:\s+(?P<text>\S.*?)\s*$")
_LOOKS_LIKE_MARKER = re.compile(r"^#\s*safety\s*:")
_NOQA = re.compile(r"\s+#\s*noqa\b[^#]*$")
# Never copied: virtual environments, VCS data and caches (the copy gets its own).
_SKIP = (".venv", ".git", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache")
DEFAULT_TIMEOUT = 300.0


@dataclass(frozen=True)
class Marker:
    """One ``# safety:`` comment: where it is, the test it is in, the line it names."""

    test_file: str  # repo-relative, e.g. "tests/refresh/test_safety.py"
    comment_line: int
    test: str | None  # pytest node id ("tests/x.py::test_y"), None outside a test
    target: str  # repo-relative path of the file whose line is removed
    text: str  # the stripped text of that line

    @property
    def label(self) -> str:
        return f"{self.target}: {self.text}"


@dataclass(frozen=True)
class Checked:
    """A marker and where its line is (``line`` is None when the marker is broken)."""

    marker: Marker
    line: int | None
    problem: str | None = None


@dataclass(frozen=True)
class Result:
    marker: Marker
    outcome: str  # "killed", "SURVIVED", "broken", "error"
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome == "killed"


# -- collecting and checking markers ------------------------------------------------------


def collect(root: Path = ROOT, tests_dir: str = "tests") -> list[Marker]:
    """Every ``# safety:`` marker in the test files under ``root/tests_dir``."""
    markers: list[Marker] = []
    for path in sorted((root / tests_dir).rglob("*.py")):
        if any(part in _SKIP for part in path.parts):
            continue
        source = path.read_text(encoding="utf-8")
        if "safety:" not in source:
            continue
        rel = path.relative_to(root).as_posix()
        functions = _test_functions(source)
        for line, comment in _comments(source):
            if not _LOOKS_LIKE_MARKER.match(comment):
                continue
            match = MARKER.match(comment)
            markers.append(
                Marker(
                    test_file=rel,
                    comment_line=line,
                    test=_enclosing_test(functions, rel, line),
                    target=match["path"] if match else "",
                    text=match["text"] if match else comment,
                )
            )
    return markers


def _comments(source: str) -> Iterable[tuple[int, str]]:
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    for token in tokens:
        if token.type == tokenize.COMMENT:
            yield token.start[0], token.string


def _test_functions(source: str) -> list[tuple[int, int, str]]:
    """(first line, last line, node-id suffix) of each test function, innermost last."""
    found: list[tuple[int, int, str]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef) and child.name.startswith("Test"):
                visit(child, f"{prefix}{child.name}::")
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) and (
                child.name.startswith("test")
            ):
                end = child.end_lineno or child.lineno
                found.append((child.lineno, end, prefix + child.name))

    visit(ast.parse(source), "")
    return found


def _enclosing_test(functions: Sequence[tuple[int, int, str]], rel: str, line: int) -> str | None:
    for first, last, name in functions:
        if first <= line <= last:
            return f"{rel}::{name}"
    return None


def check(marker: Marker, root: Path = ROOT) -> Checked:
    """Find the one line the marker names; say what is wrong if there is not exactly one."""
    if not marker.target:
        return Checked(marker, None, "not `# safety: <path>: <line text>`")
    if marker.test is None:
        return Checked(marker, None, "the marker is not inside a test function")
    target = root / marker.target
    if marker.target.startswith("/") or ".." in Path(marker.target).parts:
        return Checked(marker, None, f"{marker.target} is not a repo-relative path")
    if not target.is_file():
        return Checked(marker, None, f"no file {marker.target}")
    lines = target.read_text(encoding="utf-8").splitlines()
    candidates = [marker.text]
    bare = _NOQA.sub("", marker.text)
    if bare != marker.text:
        candidates.append(bare)
    for text in candidates:
        hits = [number for number, line in enumerate(lines, 1) if line.strip() == text]
        if len(hits) == 1:
            return _compiles(marker, lines, hits[0])
        if len(hits) > 1:
            where = ", ".join(str(h) for h in hits)
            return Checked(
                marker, None, f"the text matches {len(hits)} lines ({where}): make it unique"
            )
    return Checked(marker, None, f"the text matches no line of {marker.target}")


def _compiles(marker: Marker, lines: list[str], number: int) -> Checked:
    if not marker.target.endswith(".py"):
        return Checked(marker, number)
    try:
        compile(mutate("\n".join(lines) + "\n", number), marker.target, "exec")
    except SyntaxError as exc:
        return Checked(
            marker,
            None,
            f"replacing line {number} with `pass` does not compile ({exc.msg}): "
            "name a whole one-line statement, not a header or part of one",
        )
    return Checked(marker, number)


def mutate(source: str, number: int) -> str:
    """``source`` with line ``number`` (1-based) replaced by ``pass``, same indentation."""
    lines = source.splitlines(keepends=True)
    original = lines[number - 1]
    indent = original[: len(original) - len(original.lstrip())]
    ending = "\n" if original.endswith("\n") else ""
    lines[number - 1] = f"{indent}pass{ending}"
    return "".join(lines)


# -- running the mutants -------------------------------------------------------------------


def _copy_tree(root: Path, into: Path) -> Path:
    copy = into / "repo"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns(*_SKIP), symlinks=True)
    return copy


def _env(copy: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(copy / "src"), str(copy)])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _pytest(copy: Path, test: str, timeout: float) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-x",
        "-q",
        "-p",
        "no:cacheprovider",
        # The marker names one test: run it whatever its marks (the default addopts
        # deselect `long` ones), with a timeout so a mutant that hangs counts as failed.
        "-o",
        "addopts=",
        f"--timeout={timeout:g}",
        test,
    ]
    try:
        return subprocess.run(
            command,
            cwd=copy,
            env=_env(copy),
            capture_output=True,
            text=True,
            timeout=timeout + 60,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout if isinstance(exc.stdout, str) else ""
        return subprocess.CompletedProcess(command, 1, out + "\n(timed out)", "")


def _check_imports(copy: Path) -> None:
    """The copy's packages must be imported from the copy, not from an installed one."""
    packages = sorted(p.parent.name for p in (copy / "src").glob("*/__init__.py"))
    code = (
        "import importlib, sys\n"
        f"for name in {packages!r}:\n"
        "    print(importlib.import_module(name).__file__)\n"
    )
    probe = subprocess.run(
        [sys.executable, "-c", code],
        cwd=copy,
        env=_env(copy),
        capture_output=True,
        text=True,
        check=False,
    )
    found = probe.stdout.split()
    inside = [Path(f).resolve().is_relative_to(copy.resolve()) for f in found]
    if probe.returncode != 0 or len(found) != len(packages) or not all(inside):
        raise RuntimeError(
            f"the copy's packages {packages} are not imported from the copy: {found} "
            f"{probe.stderr[-500:]}"
        )


def _tail(result: subprocess.CompletedProcess[str], lines: int = 12) -> str:
    text = (result.stdout + result.stderr).strip().splitlines()
    return "\n".join(text[-lines:])


def run(
    markers: Sequence[Marker],
    *,
    root: Path = ROOT,
    timeout: float = DEFAULT_TIMEOUT,
    baseline: bool = True,
    progress: bool = True,
) -> list[Result]:
    """Check every marker, then run each valid one's mutant. Results in marker order."""
    results: list[Result] = []
    checked = [check(m, root) for m in markers]
    with tempfile.TemporaryDirectory(prefix="ctct-mutants-") as tmp:
        pristine = _copy_tree(root, Path(tmp))
        _check_imports(pristine)
        passing: dict[str, str | None] = {}  # test -> None if it passes unmutated
        for number, item in enumerate(checked, 1):
            marker = item.marker
            if item.line is None:
                results.append(Result(marker, "broken", item.problem or ""))
                continue
            assert marker.test is not None
            if progress:
                print(f"[{number}/{len(checked)}] {marker.label}", file=sys.stderr, flush=True)
            if baseline and marker.test not in passing:
                base = _pytest(pristine, marker.test, timeout)
                passing[marker.test] = None if base.returncode == 0 else _tail(base)
            if baseline and passing[marker.test] is not None:
                detail = f"fails even without the mutation:\n{passing[marker.test]}"
                results.append(Result(marker, "error", detail))
                continue
            results.append(_run_mutant(marker, item.line, root, Path(tmp), timeout))
    return results


def _run_mutant(marker: Marker, line: int, root: Path, tmp: Path, timeout: float) -> Result:
    assert marker.test is not None
    workdir = Path(tempfile.mkdtemp(dir=tmp))
    try:
        copy = _copy_tree(root, workdir)
        target = copy / marker.target
        target.write_text(mutate(target.read_text(encoding="utf-8"), line), encoding="utf-8")
        started = time.monotonic()
        result = _pytest(copy, marker.test, timeout)
        took = f"{time.monotonic() - started:.1f} s"
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if result.returncode == 0:
        return Result(marker, "SURVIVED", f"the test passed without line {line} ({took})")
    if result.returncode == 1:
        return Result(marker, "killed", f"line {line} ({took})")
    if result.returncode == 2 and "error" in result.stdout.lower():
        # Collected with errors: the mutant broke an import. The test does fail, but
        # only because the module no longer loads: a weak marker, flagged as such.
        return Result(marker, "killed", f"line {line}: collection error only ({took})")
    return Result(marker, "error", f"pytest exit {result.returncode}:\n{_tail(result)}")


# -- reporting -------------------------------------------------------------------------------


def table(results: Sequence[Result]) -> str:
    rows = [("marker", "test", "result")]
    for r in results:
        test = r.marker.test or f"{r.marker.test_file}:{r.marker.comment_line}"
        first = r.detail.splitlines()[0] if r.detail else ""
        rows.append((_short(r.marker.label, 70), test, f"{r.outcome} {first}".strip()))
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    lines = [f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c}" for a, b, c in rows]
    lines.insert(1, "-" * min(160, max(len(line) for line in lines)))
    return "\n".join(lines)


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.safety_mutations", description=__doc__)
    parser.add_argument("-k", dest="keyword", help="only markers whose line or test has this")
    parser.add_argument("--check", action="store_true", help="only parse and match markers")
    parser.add_argument("--no-baseline", action="store_true", help="skip the unmutated runs")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="per test run")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    root: Path = args.root.resolve()
    markers = collect(root)
    if args.keyword:
        markers = [m for m in markers if args.keyword in f"{m.label} {m.test}"]
    if not markers:
        print("no safety markers found", file=sys.stderr)
        return 1
    if args.check:
        results = [
            Result(c.marker, "ok" if c.line else "broken", c.problem or f"line {c.line}")
            for c in (check(m, root) for m in markers)
        ]
        print(table(results))
        return 0 if all(r.outcome == "ok" for r in results) else 1
    results = run(markers, root=root, timeout=args.timeout, baseline=not args.no_baseline)
    print(table(results))
    for r in results:
        if not r.ok and "\n" in r.detail:
            print(f"\n{r.marker.label} ({r.marker.test}): {r.outcome}\n{r.detail}")
    bad = [r for r in results if not r.ok]
    print(
        f"\n{len(results) - len(bad)} of {len(results)} mutations killed"
        + (f"; {len(bad)} not: see above" if bad else "")
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
