"""The bulk-import criterion: 100,000 contacts from a CSV of email,first_name,last_name
take at most 3 import requests plus polling, progress is shown, and the emulator then
holds exactly those contacts; malformed rows are reported with line and reason."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ctct.emulator import EmulatorConfig
from ctct.stores.crypto import generate_key
from ctct.testing import start_emulator
from tests.api.conftest import FAST_CLIENT, FAST_EMULATOR, ApiEnv

N = 100_000


def write_csv(path: Path, n: int, bad: bool) -> None:
    lines = ["email,first_name,last_name"]
    lines += [f"user{i:06d}@example.com,First{i},Last{i}" for i in range(n)]
    if bad:
        lines.insert(11, "not-an-email,Bad,Row")  # line 12
        lines.insert(21, "short@example.com,OnlyTwo")  # line 22
        lines.insert(31, f"long@example.com,{'y' * 60},Name")  # line 32
        lines.insert(41, "user000001@example.com,Dup,Row")  # line 42
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.slow  # about 15 s: the CSV, three imports and a 100,000-contact walk
def test_cli_imports_100k_contacts_in_three_requests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CTCT_STORE_KEY", generate_key())
    monkeypatch.setenv("CTCT_STORE_KEYRING", "0")
    config = EmulatorConfig(auto_approve=True).with_changes(**FAST_EMULATOR)
    with start_emulator(config) as handle:
        env = ApiEnv(handle, "socket", f"sqlite:///{tmp_path}/store.db", FAST_CLIENT)
        env.login()
        csv_file = tmp_path / "people.csv"
        write_csv(csv_file, N, bad=True)
        (tmp_path / "config.toml").write_text("")
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "ctct",
                "contacts",
                "import",
                str(csv_file),
                "--list",
                "Everyone",
                "--create-list",
                "--json",
            ],
            env={
                **os.environ,
                **handle.env(),
                "CTCT_STORE": env.store_url,
                "CTCT_CONFIG": str(tmp_path / "config.toml"),
                "CTCT_KEYRING": "0",
                "CTCT_API_RATE": "1000",
            },
            capture_output=True,
            text=True,
            timeout=600,
        )
        report = json.loads(result.stdout)
        counts = env.api_counts()
        client = env.client()
        emails = {c["email_address"]["address"] for c in client.contacts.iter()}
        env.close()
    assert result.returncode == 1, result.stderr  # some rows were rejected
    assert "Uploading: 100,000/100,000" in result.stderr
    assert "Processing: 100,000/100,000" in result.stderr
    assert report["rows"] == N + 4 and report["valid"] == N
    assert report["added"] == N and report["updated"] == 0
    assert [(r["line"], r["reason"][:30]) for r in report["rejected"]] == [
        (12, "invalid email address 'not-an-"),
        (22, "has 2 fields; the header has 3"),
        (32, "first_name is 60 characters lo"),
        (42, "repeats the email address of l"),
    ]
    posts = counts["POST /v3/activities/contacts_json_import"]
    assert posts.get("201") == report["requests"] <= 3
    assert emails == {f"user{i:06d}@example.com" for i in range(N)}
