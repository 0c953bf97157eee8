"""A small HTTP/1.1 load generator, run as its own process (so the client does not share
the server's interpreter): closed loop for peak throughput, open loop for latency.

Open loop means requests are *scheduled* at a fixed rate whatever the server does, and
each latency is measured from its scheduled time (not from when a free connection sent
it), so a slow server cannot hide its queueing ("coordinated omission").

Prints one JSON line: {"sent", "ok", "errors", "seconds", "p50_ms", "p90_ms", "p99_ms", "rate"}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from urllib.parse import urlsplit


async def _connect(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(host, port)


async def _one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return status


def _request(url: str, headers: list[str]) -> tuple[str, int, bytes]:
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"GET {path} HTTP/1.1", f"Host: {parts.netloc}", *headers, "", ""]
    return parts.hostname or "127.0.0.1", parts.port or 80, "\r\n".join(lines).encode()


async def closed(
    url: str, headers: list[str], connections: int, seconds: float
) -> dict[str, float]:
    host, port, request = _request(url, headers)
    stop = time.perf_counter() + seconds
    latencies: list[float] = []
    errors = 0

    async def worker() -> None:
        nonlocal errors
        reader, writer = await _connect(host, port)
        while time.perf_counter() < stop:
            started = time.perf_counter()
            if await _one(reader, writer, request) != 200:
                errors += 1
            latencies.append(time.perf_counter() - started)
        writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - began
    return _summary(latencies, errors, elapsed)


async def open_loop(
    url: str, headers: list[str], connections: int, seconds: float, rate: float
) -> dict[str, float]:
    host, port, request = _request(url, headers)
    pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await _connect(host, port))
    latencies: list[float] = []
    errors = 0
    tasks: list[asyncio.Task[None]] = []

    async def send(scheduled: float) -> None:
        nonlocal errors
        conn = await pool.get()
        try:
            if await _one(*conn, request) != 200:
                errors += 1
        finally:
            pool.put_nowait(conn)
        latencies.append(time.perf_counter() - scheduled)

    began = time.perf_counter()
    total = int(rate * seconds)
    for i in range(total):
        scheduled = began + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(scheduled)))
    await asyncio.gather(*tasks)
    return _summary(latencies, errors, time.perf_counter() - began)


def _summary(latencies: list[float], errors: int, elapsed: float) -> dict[str, float]:
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000 if ordered else 0.0

    return {
        "sent": len(latencies),
        "ok": len(latencies) - errors,
        "errors": errors,
        "seconds": elapsed,
        "rate": len(latencies) / elapsed if elapsed else 0.0,
        "p50_ms": pct(0.50),
        "p90_ms": pct(0.90),
        "p99_ms": pct(0.99),
        "mean_ms": statistics.fmean(ordered) * 1000 if ordered else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=0.0, help="open loop at this rate")
    args = parser.parse_args()
    if args.rate > 0:
        result = asyncio.run(
            open_loop(args.url, args.header, args.connections, args.seconds, args.rate)
        )
    else:
        result = asyncio.run(closed(args.url, args.header, args.connections, args.seconds))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
