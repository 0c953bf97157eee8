"""The test-only time shim (tests/timeshim): a subprocess's wall clock moves, its
monotonic clock does not, and ctct itself never reads the shim's variables."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from tests.timeshim import FILE_VAR, OFFSET_VAR, SHIM_DIR, MovableClock, clock_env

ROOT = Path(__file__).resolve().parents[1]
PROBE = """
import datetime, json, sys, time
for _ in sys.stdin:
    print(json.dumps({
        "time": time.time(),
        "time_ns": time.time_ns() / 1e9,
        "now": datetime.datetime.now().timestamp(),
        "utc": datetime.datetime.now(datetime.UTC).timestamp(),
        "realtime": time.clock_gettime(time.CLOCK_REALTIME),
        "gmtime": time.mktime(time.localtime()),
        "monotonic": time.monotonic(),
        "is_datetime": isinstance(datetime.datetime(2020, 1, 1), datetime.datetime),
    }), flush=True)
"""


def _probe(env: dict[str, str]) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], input="\n", env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    reading: dict[str, float] = json.loads(done.stdout)
    return reading


def test_a_subprocess_clock_runs_behind_or_ahead() -> None:
    for offset in (-300.0, 300.0):
        before, mono = time.time(), time.monotonic()
        reading = _probe(clock_env(offset))
        after = time.time()
        for name in ("time", "time_ns", "now", "utc", "realtime", "gmtime"):
            assert before + offset - 1.5 <= reading[name] <= after + offset + 1.5, name
        # The monotonic clock is the machine's: timeouts and sleeps stay real.
        assert mono - 1 <= reading["monotonic"] <= time.monotonic() + 1
        assert reading["is_datetime"]


def test_without_the_variables_nothing_moves() -> None:
    env = clock_env(0)
    env.pop(OFFSET_VAR)
    before = time.time()
    reading = _probe(env)
    assert before - 1 <= reading["time"] <= time.time() + 1


def test_a_running_process_follows_its_clock_file(tmp_path: Path) -> None:
    clock = MovableClock(tmp_path / "clock")
    process = subprocess.Popen(
        [sys.executable, "-c", PROBE],
        env=clock.env(fixed=-90),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        readings = []
        for advance in (0.0, 179 * 86_400.0, -179 * 86_400.0 + 30):
            clock.advance(advance)
            process.stdin.write("\n")
            process.stdin.flush()
            readings.append((time.time(), json.loads(process.stdout.readline())["time"]))
    finally:
        process.stdin.close()
        process.wait(10)
    expected = (-90.0, -90.0 + 179 * 86_400, -60.0)
    for (real, seen), offset in zip(readings, expected, strict=True):
        assert abs(seen - (real + offset)) < 1.5
    assert clock.offset == 30.0


def test_the_environment_helper() -> None:
    env = clock_env(-1.5, env={"PYTHONPATH": "/elsewhere", FILE_VAR: "stale"})
    assert env["PYTHONPATH"].split(":") == [str(SHIM_DIR), "/elsewhere"]
    assert env[OFFSET_VAR] == "-1.5" and FILE_VAR not in env
    assert clock_env(0, env=env)["PYTHONPATH"].count(str(SHIM_DIR)) == 1


def test_ctct_never_reads_the_shim() -> None:
    # A clock ctct could be told to move would be a switch to accept expired tokens.
    for path in (ROOT / "src" / "ctct").rglob("*"):
        if path.is_file() and path.suffix in (".py", ".md", ".toml", ".txt"):
            text = path.read_text(encoding="utf-8")
            for word in (OFFSET_VAR, FILE_VAR, "timeshim"):
                assert word not in text, f"{path} mentions {word}"
