"""Bodies of ``ctct keeper status | plan | pause | resume | disconnect`` and the secret
helpers. They read and write the store directly: no running keeper is needed."""

from __future__ import annotations

import base64
import os
import secrets
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from ctct.cli import _console
from ctct.errors import ConfigError


@contextmanager
def _opened(config_path: Path | None, store_url: str | None) -> Iterator[tuple[Any, Any]]:
    from ctct.keeper.config import load_config
    from ctct.stores import open_store

    config = load_config(config_path)
    url = store_url or config.store
    store = open_store(url)
    try:
        yield config, store
    finally:
        store.close()


def _iso(at: float | None) -> str | None:
    return _console.iso(at)


def _accounts(config: Any, store: Any) -> list[dict[str, Any]]:
    from ctct._refresh import decode

    states = store.states()
    records = list(store.records())
    due = dict(store.due(limit=len(records) + 16))
    rows = []
    for key, record in sorted(records, key=lambda item: item[0]):
        if key.issuer.startswith(("ctct:", "login:")):
            continue
        tokens = decode(record).tokens
        state = states.get(key)
        policy, weight = config.policy_for(key.profile)
        rows.append(
            {
                "profile": key.profile,
                "client_id": key.client_id,
                "state": state.code if state else "ok",
                "reason": state.reason if state else "",
                "since": _iso(state.since) if state and state.since else None,
                "policy": policy.value,
                "weight": weight,
                "access_token_expires_at": _iso(tokens.expires_at),
                "last_refresh_at": _iso(tokens.last_refresh_at),
                "next_refresh_at": _iso(due.get(key)),
                "refresh_token_last_used_at": _iso(tokens.refresh_token_used_at),
            }
        )
    return rows


def show_status(
    config_path: Path | None, store: str | None, states: tuple[str, ...], as_json: bool
) -> None:
    with _opened(config_path, store) as (config, opened):
        accounts = _accounts(config, opened)
        dead = opened.dead_events()
    if states:
        accounts = [a for a in accounts if a["state"] in states]
    if as_json:
        _console.print_json({"accounts": accounts, "dead_events": len(dead)})
        return
    _console.table(
        ("PROFILE", "STATE", "REASON", "POLICY", "EXPIRES", "NEXT REFRESH"),
        [
            (
                a["profile"],
                a["state"],
                a["reason"],
                a["policy"],
                a["access_token_expires_at"] or "-",
                a["next_refresh_at"] or "-",
            )
            for a in accounts
        ],
    )
    counts: dict[str, int] = {}
    for a in accounts:
        counts[a["state"]] = counts.get(a["state"], 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no accounts"
    # Piped, stdout carries only the rows; the summary goes to stderr.
    console = _console.out() if sys.stdout.isatty() else _console.err()
    console.print(f"{_console.plural(len(accounts), 'account')}: {summary}")
    if dead:
        _console.warn(
            f"{_console.plural(len(dead), 'event')} could not be delivered (dead-lettered)."
        )


def show_plan(config_path: Path | None, store: str | None, as_json: bool) -> None:
    import httpx2

    from ctct.keeper.apps import AppRegistry
    from ctct.keeper.metrics import KeeperMetrics
    from ctct.keeper.planner import Planner
    from ctct.keeper.refresher import Refresher

    with _opened(config_path, store) as (config, opened), httpx2.Client() as http:
        apps = AppRegistry.build(config, http)
        refresher = Refresher(
            store=opened, apps=apps, config=lambda: config, http=http, metrics=KeeperMetrics()
        )
        view = Planner(opened, apps, refresher, time.time).scan(apply=False)
    now = time.time()
    apps_out = [
        {
            "client_id": client_id,
            "planned_per_day": round(u.demand * 86_400),
            "capacity_per_day": int(u.capacity * 86_400),
            "utilization": round(u.ratio, 4),
            "fits": not u.overloaded,
        }
        for client_id, u in sorted(view.utilization.items())
    ]
    next_hour = sum(1 for t in view.upcoming if t < now + 3_600)
    if as_json:
        _console.print_json(
            {
                "apps": apps_out,
                "shed": sorted(k.profile for k in view.shed),
                "refreshes_next_hour": next_hour,
                "refreshes_next_day": len(view.upcoming),
            }
        )
        return
    for app in apps_out:
        verdict = "fits" if app["fits"] else "OVER CAPACITY"
        _console.out().print(
            f"client {app['client_id']}: {app['planned_per_day']:,} refreshes/day planned of "
            f"{app['capacity_per_day']:,} ({app['utilization']:.0%}): {verdict}"
        )
    if view.shed:
        shed = _console.plural(len(view.shed), "keep-fresh account")
        _console.out().print(f"{shed} would be shed to keep-alive.")
    _console.out().print(
        f"{next_hour:,} refreshes planned in the next hour, {len(view.upcoming):,} in the next day."
    )


def act(
    action: str,
    config_path: Path | None,
    store: str | None,
    profile: str,
    client_id: str | None,
    force: bool = False,
    yes: bool = False,
) -> None:
    import httpx2

    from ctct.keeper import actions
    from ctct.keeper.apps import AppRegistry

    with _opened(config_path, store) as (config, opened):
        key = actions.find_key(opened, profile, client_id)
        if action == "pause":
            actions.pause(opened, key)
            _console.out().print(f"Paused {profile}: the keeper will not refresh it until resumed.")
        elif action == "resume":
            actions.resume(opened, key)
            _console.out().print(f"Resumed {profile}: planned at once.")
        else:
            from ctct.cli._confirm import confirm

            confirm(
                f"Revoke and forget the grant of {profile}?",
                yes=yes,
                action="Disconnecting an account",
                declined="Not disconnected.",
            )
            with httpx2.Client() as http:
                apps = AppRegistry.build(config, http)
                failure = actions.disconnect(opened, key, apps, http, force=force)
            if failure is not None and not force:
                raise ConfigError(
                    f"The provider could not revoke the grant of {profile} ({failure.message}); "
                    "nothing was forgotten. Retry, or add --force to forget it anyway."
                )
            note = "" if failure is None else " (the provider could not be told)"
            _console.out().print(f"Disconnected {profile}{note}.")


def reconnect_link(
    config_path: Path | None,
    store: str | None,
    profile: str,
    client_id: str | None,
    ttl: float,
    public_url: str,
) -> None:
    from ctct.keeper.actions import find_key
    from ctct.keeper.ui_connect import make_reconnect_link

    with _opened(config_path, store) as (_, opened):
        key = find_key(opened, profile, client_id)
        link = make_reconnect_link(opened, key, ttl, public_url=public_url)
    sys.stdout.write(link + "\n")
    _console.note(f"The link works once, for {_console.duration(ttl)}.")


def hash_password() -> None:
    from ctct.keeper.ui_auth import hash_password as make

    if sys.stdin.isatty():
        password = click.prompt("Operator password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\n")
    sys.stdout.write(make(password) + "\n")


def new_secret_file(path: Path, kind: str) -> None:
    from ctct.broker.sink import SinkSpec, write_atomically

    if path.exists():
        raise ConfigError(f"{path} exists; remove it first or choose another path.")
    if kind == "webhook":
        from ctct.keeper.webhooks import new_secret

        text = new_secret()
    else:
        text = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    write_atomically(SinkSpec(path.resolve()), text + "\n")
    os.chmod(path, 0o600)
    _console.note(
        f"Wrote a new {kind} secret to {path} (mode 0600); give every replica the same file."
    )
