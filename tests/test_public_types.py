"""The public API type-checks from a user's side: ``tests/typing/user_program.py``
(every public name, plus misuses each checker must report) passes ``mypy --strict``
and pyright in strict mode, run from outside the project so its config does not apply.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import ctct

PROGRAM = Path(__file__).parent / "typing" / "user_program.py"

# Strict, and an ignore comment that silences nothing is an error: the program's misuse
# lines prove the names are typed, not Any.
PYRIGHT_CONFIG = {
    "typeCheckingMode": "strict",
    "reportUnnecessaryTypeIgnoreComment": "error",
    "enableTypeIgnoreComments": False,
    "pythonVersion": "3.11",
}


@pytest.fixture
def program(tmp_path: Path) -> Path:
    shutil.copy(PROGRAM, tmp_path / "user_program.py")
    (tmp_path / "pyrightconfig.json").write_text(json.dumps(PYRIGHT_CONFIG))
    return tmp_path / "user_program.py"


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    # The pyright package bundles pyright and runs it on the machine's node; without this
    # it asks PyPI whether a newer release exists on every run.
    env = {**os.environ, "PYRIGHT_PYTHON_IGNORE_WARNINGS": "1"}
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=240, env=env)


def test_user_program_passes_mypy_strict(program: Path) -> None:
    out = _run([sys.executable, "-m", "mypy", "--strict", program.name], program.parent)
    assert out.returncode == 0, out.stdout + out.stderr


def test_user_program_passes_pyright(program: Path) -> None:
    assert shutil.which("node"), "pyright needs Node.js (apt-get install nodejs)"
    args = [sys.executable, "-m", "pyright", "--pythonpath", sys.executable, program.name]
    out = _run(args, program.parent)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 errors" in out.stdout


def test_user_program_uses_every_public_name() -> None:
    tree = ast.parse(PROGRAM.read_text())
    used = {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "ctct"
    }
    used |= {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "ctct"
        for alias in node.names
    }
    assert sorted(set(ctct.__all__) - used) == []


def test_all_is_a_literal_list_matching_the_lazy_exports() -> None:
    """A computed ``__all__`` hides the whole API from mypy: it must be a literal."""
    source = Path(ctct.__file__).read_text()
    (assign,) = [
        node
        for node in ast.parse(source).body
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
    ]
    assert isinstance(assign.value, ast.List)
    assert all(isinstance(e, ast.Constant) for e in assign.value.elts)
    assert ctct.__all__ == sorted(["__version__", *ctct._EXPORTS])
