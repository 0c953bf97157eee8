"""A worker process for the storm and crash tests: ``python -m tests.refresh.worker``.

``storm``: N threads call ``TokenManager.token()`` back to back until a deadline, and the
worker prints one JSON line: calls, failures, distinct tokens, and how long after the
start its slowest thread got its first token (``settled``). Without ``--start-at`` it
prints ``ready`` first and reads ``START UNTIL`` (its own clock's epoch seconds) from stdin.
``crash``: force refreshes in a loop (the parent SIGKILLs it at a random moment); each
completed refresh appends the time from the response's last byte to the durable write.
``login``: a device-flow login at an auto-approving emulator, stored; prints the access
token's expiry (for a test whose store or emulator only a test host can reach).
``refresh``: one forced refresh (the fault tests stop it or cut its link meanwhile); prints
one JSON line: the outcome, or the error's type and code.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from dataclasses import replace

from ctct._manager import TokenManager
from ctct._oauth_requests import ClientCredentials
from ctct._provider import Provider
from ctct._refresh import RefreshPolicy
from ctct._secret import Secret
from ctct.stores import open_store


def app_args(base_url: str, store: str) -> list[str]:
    """The worker flags naming the emulator's default app and the store."""
    from ctct.emulator.config import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

    return [
        "--base-url",
        base_url,
        "--client-id",
        DEFAULT_CLIENT_ID,
        "--client-secret",
        DEFAULT_CLIENT_SECRET,
        "--store",
        store,
    ]


def command(mode: str, base_url: str, store: str, *flags: str) -> list[str]:
    """The command line of a worker against the default app of the emulator at ``base_url``."""
    return [
        sys.executable,
        "-m",
        "tests.refresh.worker",
        mode,
        *app_args(base_url, store),
        *flags,
    ]


def manager(args: argparse.Namespace, **kwargs: object) -> TokenManager:
    provider = Provider.constant_contact(args.base_url)
    if args.via:
        # Reach the emulator through another origin (a test proxy) while the grant keeps
        # the identity (storage issuer) of ``--base-url``, as every other host has it.
        endpoints = ("token_endpoint", "jwks_uri", "api_base_url", "revocation_endpoint")
        provider = replace(
            provider,
            **{
                name: getattr(provider, name).replace(args.base_url, args.via)
                for name in endpoints
                if getattr(provider, name) is not None
            },
        )
    if args.no_rate:
        provider = replace(provider, token_rate_per_second=None)
    return TokenManager(
        provider=provider,
        client=ClientCredentials(args.client_id, Secret(args.client_secret)),
        store=open_store(args.store),
        policy=RefreshPolicy(
            margin=0.0, lease_duration=args.lease_duration, save_margin=args.save_margin
        ),
        timeout=args.http_timeout,
        owns_store=True,
        **kwargs,  # type: ignore[arg-type]
    )


def storm(args: argparse.Namespace) -> None:
    calls = 0
    failures: list[str] = []
    tokens: set[str] = set()
    settled: list[float] = []  # per thread: from the start to its first token
    lock = threading.Lock()
    with manager(args) as m:
        if not args.start_at:
            # Ready (the store reached, the grant read): the parent answers with the
            # start and end times once every worker is, so a slow start-up cannot
            # make a worker miss an expiry.
            assert m.tokens() is not None
            print("ready", flush=True)
            args.start_at, args.until = map(float, sys.stdin.readline().split())
        while time.time() < args.start_at:
            time.sleep(0.005)

        def run() -> None:
            nonlocal calls
            mine = 0
            seen: set[str] = set()
            first: float | None = None
            while time.time() < args.until:
                try:
                    seen.add(m.token())
                    first = first or time.time()
                except Exception as exc:
                    with lock:
                        failures.append(f"{type(exc).__name__}: {exc}")
                mine += 1
                time.sleep(0.002)
            with lock:
                calls += mine
                tokens.update(seen)
                if first is not None:
                    settled.append(first - args.start_at)

        threads = [threading.Thread(target=run) for _ in range(args.threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    print(
        json.dumps(
            {
                "calls": calls,
                "failures": failures[:5],
                "failed": len(failures),
                "tokens": len(tokens),
                "settled": max(settled, default=None),
            }
        ),
        flush=True,
    )


def crash(args: argparse.Namespace) -> None:
    marks: dict[str, float] = {}

    log = open(args.window_log, "a", encoding="utf-8", buffering=1)  # noqa: SIM115

    def on_mark(name: str, _at: float) -> None:
        # One line per mark, written as it happens, so the parent can tell where a kill
        # landed: after "R" and before "S", the response was in hand but not yet saved.
        marks[name] = time.perf_counter()
        if name == "response":
            log.write("R\n")
        elif name == "saved":
            log.write(f"S {marks['saved'] - marks['response']:.9f}\n")

    with manager(args, on_mark=on_mark) as m:
        print("ready", flush=True)
        for _ in range(args.refreshes):
            m.refresh(force=True)
    print("done", flush=True)


def refresh(args: argparse.Namespace) -> None:
    with manager(args) as m:
        print("ready", flush=True)
        try:
            tokens = m.refresh(force=True)
        except Exception as exc:
            code = getattr(exc, "code", None)
            print(json.dumps({"ok": False, "type": type(exc).__name__, "code": code}), flush=True)
            return
    print(json.dumps({"ok": True, "refresh_token": tokens.refresh_token is not None}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["storm", "crash", "login", "refresh"])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--store", required=True)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--start-at", type=float, default=0.0)
    parser.add_argument("--until", type=float, default=0.0)
    parser.add_argument("--refreshes", type=int, default=1000)
    parser.add_argument("--window-log", default="")
    parser.add_argument("--no-rate", action="store_true")
    parser.add_argument("--lease-duration", type=float, default=60.0)
    parser.add_argument("--save-margin", type=float, default=5.0)
    parser.add_argument("--http-timeout", type=float, default=10.0)
    parser.add_argument("--via", default="", help="origin to reach the emulator through")
    parser.add_argument("--profile", default="default")
    args = parser.parse_args()
    if args.mode == "login":
        from tests.refresh.conftest import login_with_device_flow

        tokens = login_with_device_flow(args.base_url, args.store, args.profile)
        print(json.dumps({"expires_at": tokens.expires_at}))
    else:
        {"storm": storm, "crash": crash, "refresh": refresh}[args.mode](args)
    sys.exit(0)


if __name__ == "__main__":
    main()
