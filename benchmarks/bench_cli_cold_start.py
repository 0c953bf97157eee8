"""Cold start of the ``ctct`` commands, next to ``python -c pass``, each against its target.

Scripts call ``ctct auth token``, ``ctct api`` and ``ctct lists list`` in loops, so a
command's start-up is paid on every call. This measures, in one run and interleaved (so
machine load hits every variant alike), the median wall time of whole processes:

- ``python -c pass``: the bare interpreter, the floor;
- ``ctct --help``: target under 80 ms;
- ``ctct auth status``, ``ctct api GET /account/summary``, ``ctct lists list``, against an
  emulator on loopback: target under 150 ms plus the network time, measured here as the
  median time a fresh HTTP client in this process takes for the same requests (status:
  the JWKS and the account summary; api: the summary; lists: the first page of lists);
- ``ctct auth token`` with a fresh stored token (the console script's fast path,
  ``ctct._entry``): not encrypted, target at or under 2x the bare interpreter;
  encrypted (``CTCT_STORE_KEY``), target under 3x;
- ``ctct auth token`` through the full command line (``CTCT_NO_FAST_PATH=1``), for scale.

Each process starts from a clean environment in a temporary folder: the SQLite store,
default config and store locations (``XDG_*`` pointed there), no config file, no
keyring, bytecode cached under a private ``PYTHONPYCACHEPREFIX`` after one warm-up run
(as an installed package would have it). Every run's exit code (and the token's
output) is checked. ``CTCT_BENCH_RUNS`` sets the number of rounds (default 21).

Targets are judged on wall time. The CPU time (user + system) of each process is shown
beside it: on a busy machine wall time grows with the wait for a core, CPU time much
less. For a miss, ``python -X importtime -m ctct ARGS`` shows which imports dominate.
"""

from __future__ import annotations

import os
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ctct._tokens import TokenSet
    from ctct.stores import GrantKey

RUNS = int(os.environ.get("CTCT_BENCH_RUNS", "21"))
CLIENT_ID = "5f4c3b2a-1d0e-4f9a-8b7c-6d5e4f3a2b1c"


@dataclass
class Variant:
    argv: list[str]
    env: dict[str, str]
    expected: str | None = None
    """The exact stdout the run must print (None: any, with exit code 0)."""


@dataclass
class Target:
    """``variant`` must take under ``ms`` (+ network), or ``ratio`` x the floor."""

    variant: str
    ms: float | None = None
    ratio: float | None = None
    network: str | None = None
    inclusive: bool = False
    """The ratio is an "at or under" bound."""


TARGETS = (
    Target("ctct --help", ms=80),
    Target("ctct auth status", ms=150, network="status"),
    Target("ctct api GET /account/summary", ms=150, network="api"),
    Target("ctct lists list", ms=150, network="lists"),
    Target("ctct auth token (not encrypted)", ratio=2.0, inclusive=True),
    Target("ctct auth token (encrypted)", ratio=3.0),
)


def _ctct() -> str:
    script = Path(sys.executable).with_name("ctct")
    if not script.exists():
        raise SystemExit(f"no ctct console script next to {sys.executable}: pip install -e .")
    return str(script)


def _store(env: dict[str, str], key: str | None, tokens: object, grant: object) -> None:
    from ctct._tokens import TokenSet
    from ctct.stores import GrantKey

    assert isinstance(tokens, TokenSet) and isinstance(grant, GrantKey)
    _save(env, key, grant, tokens.to_json())


def _save(env: dict[str, str], key: str | None, grant: GrantKey, data: bytes) -> None:
    from ctct.stores import SqliteStore, no_keys, static_keys

    path = Path(env["XDG_STATE_HOME"]) / "ctct" / "tokens.db"
    keys = static_keys(key)() if key is not None else no_keys()
    with SqliteStore(path, keys) as store:
        store.save(grant, data, expected_version=None)


def fresh_grant(profile: str) -> tuple[GrantKey, TokenSet, str]:
    """A fresh grant as a login stores it: its key, its tokens and the access token."""
    from ctct._provider import Provider
    from ctct._secret import Secret
    from ctct._tokens import TokenSet
    from ctct.stores import GrantKey

    now = time.time()
    # Shaped like CC's: a JWT of about 1 KB (its content does not matter here).
    token = "eyJ" + secrets.token_urlsafe(700) + "." + secrets.token_urlsafe(200) + ".sig"
    provider = Provider.constant_contact()
    tokens = TokenSet(
        issuer=provider.storage_issuer,
        client_id=CLIENT_ID,
        access_token=Secret(token),
        refresh_token=Secret(secrets.token_urlsafe(32)),
        expires_at=now + 86_400,
        received_at=now,
        obtained_at=now,
        scopes=frozenset({"account_read", "contact_data", "offline_access"}),
    )
    return GrantKey(profile, provider.storage_issuer, CLIENT_ID), tokens, token


def _store_token(env: dict[str, str], profile: str, key: str | None) -> str:
    """Write a fresh grant the way a login would, into the store ``env`` selects."""
    grant, tokens, token = fresh_grant(profile)
    _store(env, key, tokens, grant)
    return token


def _environment(root: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CTCT_") and k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")
    }
    env.update(
        {
            "HOME": str(root / "home"),
            "XDG_CONFIG_HOME": str(root / "config"),
            "XDG_STATE_HOME": str(root / "state"),
            "PYTHONPYCACHEPREFIX": str(root / "pycache"),
            "CTCT_CLIENT_ID": CLIENT_ID,
            "CTCT_KEYRING": "0",
            "CTCT_STORE_KEYRING": "0",
        }
    )
    return env


@contextmanager
def _emulator_env(root: Path) -> Iterator[tuple[dict[str, str], dict[str, Callable[[], None]]]]:
    """An emulator with one logged-in grant stored; the env pointing at it, and the
    same requests each command makes, sent by a fresh client (the network time)."""
    import httpx2

    from ctct._provider import Provider
    from ctct._tokens import TokenSet
    from ctct.stores import GrantKey
    from ctct.testing import start_emulator

    with start_emulator() as emu:
        # No waiting on rate limits here: this measures start-up, not the budget.
        emu.set_rates(api_rate_per_second=1000.0, token_rate_per_second=1000.0)
        env = _environment(root)
        env.update(emu.env())
        env["CTCT_API_RATE"] = "1000"
        provider = Provider.constant_contact(emu.base_url)
        (body,) = emu.mint_grants(1)
        tokens = TokenSet.from_token_response(
            body, issuer=provider.storage_issuer, client_id=emu.client_id, received_at=time.time()
        )
        _store(env, None, tokens, GrantKey("default", provider.storage_issuer, emu.client_id))
        headers = {"Authorization": f"Bearer {body['access_token']}"}
        api = str(provider.api_base_url)

        def fetch(*urls: str) -> Callable[[], None]:
            def run() -> None:
                with httpx2.Client(headers=headers) as http:
                    for url in urls:
                        http.get(url).raise_for_status()

            return run

        network = {
            "status": fetch(str(provider.jwks_uri), api + "/account/summary"),
            "api": fetch(api + "/account/summary"),
            "lists": fetch(api + "/contact_lists?limit=1000"),
        }
        yield env, network


def _time_once(name: str, variant: Variant, cpu: list[float] | None = None) -> float:
    """Wall seconds of one run; its CPU seconds (user + system) go into ``cpu``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(
        variant.argv, env=variant.env, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if cpu is not None:
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    wrong = variant.expected is not None and result.stdout != variant.expected + "\n"
    if result.returncode != 0 or wrong:
        raise SystemExit(f"{name} failed (exit {result.returncode}): {result.stderr[-500:]}")
    return elapsed


def _time_call(call: Callable[[], None]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def measure(runs: int = RUNS) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """Median wall seconds per variant and per network probe, and median CPU seconds per
    variant (see the module docstring)."""
    ctct = _ctct()
    with tempfile.TemporaryDirectory(prefix="ctct-bench-") as tmp:
        root = Path(tmp)
        plain_env = _environment(root / "plain")
        sealed_env = _environment(root / "sealed")
        from ctct.stores import generate_key

        store_key = generate_key()
        sealed_env["CTCT_STORE_KEY"] = store_key
        plain_token = _store_token(plain_env, "default", None)
        sealed_token = _store_token(sealed_env, "default", store_key)
        full_env = {**plain_env, "CTCT_NO_FAST_PATH": "1"}
        with _emulator_env(root / "emulator") as (emu_env, network):
            variants = {
                "python -c pass": Variant([sys.executable, "-c", "pass"], plain_env),
                "ctct --help": Variant([ctct, "--help"], plain_env),
                "ctct auth status": Variant([ctct, "auth", "status"], emu_env),
                "ctct api GET /account/summary": Variant(
                    [ctct, "api", "GET", "/account/summary"], emu_env
                ),
                "ctct lists list": Variant([ctct, "lists", "list"], emu_env),
                "ctct auth token (not encrypted)": Variant(
                    [ctct, "auth", "token"], plain_env, plain_token
                ),
                "ctct auth token (encrypted)": Variant(
                    [ctct, "auth", "token"], sealed_env, sealed_token
                ),
                "ctct auth token (full CLI)": Variant(
                    [ctct, "auth", "token"], full_env, plain_token
                ),
            }
            for name, variant in variants.items():  # warm-up: compile bytecode once
                _time_once(name, variant)
            for call in network.values():
                call()
            samples: dict[str, list[float]] = {name: [] for name in (*variants, *network)}
            cpu: dict[str, list[float]] = {name: [] for name in variants}
            for _ in range(runs):
                for name, variant in variants.items():
                    samples[name].append(_time_once(name, variant, cpu[name]))
                for name, call in network.items():
                    samples[name].append(_time_call(call))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    cpu_medians = {name: statistics.median(values) for name, values in cpu.items()}
    return {n: medians[n] for n in variants}, {n: medians[n] for n in network}, cpu_medians


def verdicts(medians: dict[str, float], network: dict[str, float]) -> dict[str, str]:
    """``variant -> "target ...: meets"`` (or ``MISSES``) for each variant with a target."""
    floor = medians["python -c pass"]
    shown: dict[str, str] = {}
    for target in TARGETS:
        seconds = medians[target.variant]
        if target.ratio is not None:
            ratio = seconds / floor
            ok = ratio <= target.ratio if target.inclusive else ratio < target.ratio
            bound = "at or under" if target.inclusive else "under"
            text = f"target {bound} {target.ratio:g}x"
        else:
            assert target.ms is not None
            net = network[target.network] * 1000 if target.network else 0.0
            ok = seconds * 1000 < target.ms + net
            text = f"target under {target.ms:g} ms" + (
                f" + {net:.1f} ms network" if target.network else ""
            )
        shown[target.variant] = f"{text}: {'meets' if ok else 'MISSES'}"
    return shown


def main() -> None:
    medians, network, cpu = measure()
    floor = medians["python -c pass"]
    judged = verdicts(medians, network)
    load = os.getloadavg()[0]
    print(f"median of {RUNS} cold starts each, interleaved (load average {load:.1f}):")
    print(f"  {'':34} {'wall':>7}     {'ratio':>5}  {'cpu':>7}")
    for name, seconds in medians.items():
        verdict = judged.get(name, "")
        print(
            f"  {name:34} {seconds * 1000:7.1f} ms  {seconds / floor:4.1f}x  "
            f"{cpu[name] * 1000:7.1f} ms  {verdict}"
        )
    print("network time (same requests, fresh client in-process):")
    for name, seconds in network.items():
        print(f"  {name:34} {seconds * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
