"""The flat public API: every exported name resolves, lazily."""

from __future__ import annotations

import subprocess
import sys

import ctct


def test_every_exported_name_resolves() -> None:
    for name in ctct.__all__:
        assert getattr(ctct, name) is not None, name
    assert sorted(ctct.__all__) == ctct.__all__


def test_import_ctct_stays_cheap() -> None:
    heavy = "('httpx2', 'click', 'joserfc', 'rich')"
    code = f"import sys, ctct; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
