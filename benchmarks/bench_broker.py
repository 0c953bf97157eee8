"""The token broker under load, next to a bare Starlette endpoint and to one
``ctct auth token`` process per call, in one run.

- peak tokens/s: closed loop, 16 keep-alive connections, 5 s, a fresh cached token;
- latency under an open-loop offered load of 1,000 requests/s for 10 s (p50/p99
  measured from each request's scheduled time).

The broker runs as ``ctct broker run --listen 127.0.0.1:PORT --key-file FILE`` (TCP with
a bearer key, the heavier of its two modes); the bare endpoint runs under uvicorn with
the same HTTP implementation (h11) and returns a constant document of the same size.
The load generator is its own process. Targets: p99 under 5 ms at 1,000 req/s; the
broker's peak within 70% of the bare endpoint's (at least 0.7x).
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2

from benchmarks.bench_cli_cold_start import _ctct, _environment, _store_token

PEAK_SECONDS = float(os.environ.get("CTCT_BENCH_PEAK_SECONDS", "5"))
OPEN_SECONDS = float(os.environ.get("CTCT_BENCH_OPEN_SECONDS", "10"))
OFFERED = 1_000.0
CLI_RUNS = int(os.environ.get("CTCT_BENCH_RUNS", "31"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait(url: str, headers: dict[str, str], proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        try:
            if httpx2.get(url, headers=headers, timeout=1).status_code == 200:
                return
        except httpx2.HTTPError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"{url} never answered")


def _load(
    url: str, headers: dict[str, str], *, rate: float = 0.0, seconds: float
) -> dict[str, float]:
    argv = [sys.executable, "-m", "benchmarks._http_load", url, "--seconds", str(seconds)]
    for name, value in headers.items():
        argv += ["--header", f"{name}: {value}"]
    if rate:
        argv += ["--rate", str(rate), "--connections", "64"]
    else:
        argv += ["--connections", "16"]
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        argv, capture_output=True, text=True, check=True, cwd=root, timeout=seconds + 60
    )
    result: dict[str, float] = json.loads(out.stdout)
    return result


def _cli_calls(env: dict[str, str], token: str) -> list[float]:
    ctct = _ctct()
    samples = []
    for _ in range(CLI_RUNS):
        started = time.perf_counter()
        result = subprocess.run([ctct, "auth", "token"], env=env, capture_output=True, text=True)
        samples.append(time.perf_counter() - started)
        assert result.stdout.strip() == token, result.stderr
    return samples


def main() -> None:
    from ctct.broker.keys import append_key

    with tempfile.TemporaryDirectory(prefix="ctct-bench-broker-") as tmp:
        root = Path(tmp)
        env = _environment(root)
        token = _store_token(env, "default", None)
        key = append_key(root / "keys", "bench")
        broker_port, bare_port = _free_port(), _free_port()
        broker_log = (root / "broker.log").open("w")
        broker = subprocess.Popen(
            [
                _ctct(),
                "broker",
                "run",
                "--listen",
                f"127.0.0.1:{broker_port}",
                "--key-file",
                str(root / "keys"),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=broker_log,  # it logs every answer, as into a journal
        )
        bare = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "benchmarks._bare_app:app",
                "--port",
                str(bare_port),
                "--no-access-log",
                "--http",
                "h11",
                "--log-level",
                "warning",
                "--no-server-header",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=Path(__file__).resolve().parents[1],
        )
        headers = {"Ctct-Broker": "1", "Authorization": f"Bearer {key}"}
        try:
            broker_url = f"http://127.0.0.1:{broker_port}/v1/token"
            bare_url = f"http://127.0.0.1:{bare_port}/v1/token"
            _wait(broker_url, headers, broker)
            _wait(bare_url, {}, bare)
            served = httpx2.get(broker_url, headers=headers).json()["access_token"]
            assert served == token, "the broker did not serve the stored token"
            rows = {}
            for name, url, hdrs in (
                ("bare Starlette", bare_url, {}),
                ("ctct broker", broker_url, headers),
            ):
                _load(url, hdrs, seconds=1)  # warm up
                peak = _load(url, hdrs, seconds=PEAK_SECONDS)
                offered = _load(url, hdrs, rate=OFFERED, seconds=OPEN_SECONDS)
                rows[name] = (peak, offered)
        finally:
            for proc in (broker, bare):
                proc.terminate()
                proc.wait(10)
        cli = _cli_calls(env, token)
    cli_median = statistics.median(cli)
    cli_p99 = sorted(cli)[min(len(cli) - 1, int(0.99 * len(cli)))]
    print(
        f"peak: closed loop, 16 connections, {PEAK_SECONDS:g} s; offered: open loop "
        f"{OFFERED:,.0f} req/s for {OPEN_SECONDS:g} s (latency from the scheduled time)"
    )
    print(f"  {'':28} {'peak req/s':>11} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'achieved':>9}")
    for name, (peak, offered) in rows.items():
        print(
            f"  {name:28} {peak['rate']:11,.0f} {offered['p50_ms']:8.2f} {offered['p99_ms']:8.2f} "
            f"{offered['errors'] + peak['errors']:7.0f} {offered['rate']:9,.0f}"
        )
    print(
        f"  {'ctct auth token per call':28} {1 / cli_median:11,.1f} {cli_median * 1000:8.1f} "
        f"{cli_p99 * 1000:8.1f} {'':>7} {'(cannot sustain 1,000/s)':>9}"
    )
    broker_peak, broker_open = rows["ctct broker"]
    ratio = broker_peak["rate"] / rows["bare Starlette"][0]["rate"]
    p99 = broker_open["p99_ms"]
    print(
        f"broker peak = {ratio:.0%} of the bare endpoint's (target >= 70%): "
        f"{'meets' if ratio >= 0.7 else 'MISSES'}"
    )
    print(
        f"broker p99 at {OFFERED:,.0f} req/s offered = {p99:.2f} ms (target < 5 ms): "
        f"{'meets' if p99 < 5 else 'MISSES'}"
    )
