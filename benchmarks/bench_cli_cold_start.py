"""Cold start of ``ctct auth token`` with a fresh stored token, next to ``python -c pass``.

Scripts call ``ctct auth token`` in loops; with a fresh token the console script's fast
path (``ctct._entry``) answers without click, rich, httpx2 or joserfc. This measures,
in one run and interleaved (so machine load hits every variant alike), the median wall
time of:

- ``python -c pass``: the bare interpreter, the floor;
- ``ctct auth token``, store not encrypted (target: under 3x the bare interpreter);
- ``ctct auth token``, store encrypted (``CTCT_STORE_KEY``);
- ``ctct auth token`` through the full command line (``CTCT_NO_FAST_PATH=1``), for scale.

Each process starts from a clean environment in a temporary folder: default config
and store locations (``XDG_*`` pointed there), no config file, bytecode cached under a
private ``PYTHONPYCACHEPREFIX`` after one warm-up run (as an installed package would
have it). Every run's output is checked to be exactly the stored token.
"""

from __future__ import annotations

import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ctct.stores import GrantKey

RUNS = int(os.environ.get("CTCT_BENCH_RUNS", "31"))
TARGET_RATIO = 3.0
CLIENT_ID = "5f4c3b2a-1d0e-4f9a-8b7c-6d5e4f3a2b1c"


def _ctct() -> str:
    script = Path(sys.executable).with_name("ctct")
    if not script.exists():
        raise SystemExit(f"no ctct console script next to {sys.executable}: pip install -e .")
    return str(script)


def fresh_grant(profile: str) -> tuple[GrantKey, bytes, str]:
    """A fresh grant as a login stores it: its key, its record and the access token."""
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
    return GrantKey(profile, provider.storage_issuer, CLIENT_ID), tokens.to_json(), token


def _store_token(env: dict[str, str], profile: str, key: str | None) -> str:
    """Write a fresh grant the way a login would, into the store ``env`` selects."""
    from ctct.stores import SqliteStore, no_keys, static_keys

    grant, data, token = fresh_grant(profile)
    path = Path(env["XDG_STATE_HOME"]) / "ctct" / "tokens.db"
    keys = static_keys(key)() if key is not None else no_keys()
    with SqliteStore(path, keys) as store:
        store.save(grant, data, expected_version=None)
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
            "CTCT_STORE_KEYRING": "0",
        }
    )
    return env


def _time_once(argv: list[str], env: dict[str, str], expected: str | None) -> float:
    started = time.perf_counter()
    result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0 or (expected is not None and result.stdout != expected + "\n"):
        raise SystemExit(
            f"{' '.join(argv[-3:])} failed (exit {result.returncode}): {result.stderr[-500:]}"
        )
    return elapsed


def measure(runs: int = RUNS) -> dict[str, float]:
    """Median seconds per variant (see the module docstring)."""
    ctct = _ctct()
    with tempfile.TemporaryDirectory(prefix="ctct-bench-") as tmp:
        plain_root, sealed_root = Path(tmp) / "plain", Path(tmp) / "sealed"
        plain_env = _environment(plain_root)
        sealed_env = _environment(sealed_root)
        from ctct.stores import generate_key

        store_key = generate_key()
        sealed_env["CTCT_STORE_KEY"] = store_key
        plain_token = _store_token(plain_env, "default", None)
        sealed_token = _store_token(sealed_env, "default", store_key)
        full_env = {**plain_env, "CTCT_NO_FAST_PATH": "1"}
        variants: dict[str, tuple[list[str], dict[str, str], str | None]] = {
            "python -c pass": ([sys.executable, "-c", "pass"], plain_env, None),
            "ctct auth token (not encrypted)": ([ctct, "auth", "token"], plain_env, plain_token),
            "ctct auth token (encrypted)": ([ctct, "auth", "token"], sealed_env, sealed_token),
            "ctct auth token (full CLI)": ([ctct, "auth", "token"], full_env, plain_token),
        }
        for argv, env, expected in variants.values():  # warm-up: compile bytecode once
            _time_once(argv, env, expected)
        samples: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(runs):
            for name, (argv, env, expected) in variants.items():
                samples[name].append(_time_once(argv, env, expected))
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    medians = measure()
    floor = medians["python -c pass"]
    print(f"median of {RUNS} cold starts each, interleaved:")
    for name, seconds in medians.items():
        print(f"  {name:34} {seconds * 1000:7.1f} ms  {seconds / floor:4.1f}x")
    ratio = medians["ctct auth token (not encrypted)"] / floor
    verdict = "meets" if ratio < TARGET_RATIO else "MISSES"
    print(
        f"fast path, not encrypted: {ratio:.2f}x the bare interpreter; {verdict} the "
        f"target of {TARGET_RATIO:g}x"
    )
    print(
        f"fast path, encrypted: {medians['ctct auth token (encrypted)'] / floor:.2f}x the bare "
        "interpreter"
    )


if __name__ == "__main__":
    main()
