"""The foreground server behind ``ctct emulator``: bind, start uvicorn, announce the
emulator once its port accepts connections, and stop cleanly on Ctrl-C or SIGTERM."""

from __future__ import annotations

import json
import os
import shlex
import signal
import sqlite3
import sys
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from rich.console import Console
from rich.padding import Padding
from rich.table import Table

from ctct.cli.emulator_cmd import WILDCARD_HOSTS
from ctct.emulator import generic
from ctct.emulator.app import Emulator, create_app
from ctct.emulator.config import EmulatorConfig
from ctct.emulator.hosts import ROLES
from ctct.emulator.server import _uvicorn_config, bind
from ctct.errors import CtctError


class StartupError(CtctError):
    """The emulator could not start (port in use, unusable ``--data`` file)."""


class _AnnouncingServer(uvicorn.Server):
    """A uvicorn server that calls ``on_ready`` once it accepts connections."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_ready = on_ready

    async def startup(self, sockets: list[Any] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self._on_ready()


def serve(
    config: EmulatorConfig,
    *,
    host: str,
    port: int,
    as_json: bool = False,
    ready_file: Path | None = None,
    ports: tuple[int, ...] | None = None,
) -> None:
    """Serve until Ctrl-C or SIGTERM, then return (the command exits 0).

    ``ports``: one port, or with ``split_hosts`` the authorization server's, the identity
    host's and the API's (default: just ``port``)."""
    console = _console(stderr=as_json)
    sockets: list[Any] = []
    try:
        for wanted in ports or (port,):
            try:
                sockets.append(bind(host, wanted))
            except OSError as exc:
                raise StartupError(_describe_oserror(exc, host, wanted)) from None
        try:
            emulator = Emulator(config)
        except sqlite3.Error as exc:
            raise StartupError(
                f"cannot use --data {config.data_path}: {exc} (is it an emulator state file?)"
            ) from None
        try:
            _run(emulator, sockets, host, console, as_json, ready_file)
        finally:
            emulator.close()
    finally:
        for sock in sockets:
            sock.close()
    console.print("Emulator stopped.")


def _run(
    emulator: Emulator,
    sockets: list[Any],
    host: str,
    console: Console,
    as_json: bool,
    ready_file: Path | None,
) -> None:
    bound: list[int] = [sock.getsockname()[1] for sock in sockets]
    port = bound[0]
    if emulator.config.split_hosts:
        emulator.host_roles.ports = dict(zip(ROLES, bound, strict=True))
    app = create_app(emulator=emulator)
    uvicorn_config = _uvicorn_config(app, host, port)
    origins: dict[str, str] = {
        role: base_url(host, bound[i] if len(bound) > 1 else port) for i, role in enumerate(ROLES)
    }
    info = ready_info(emulator.config, base_url(host, port), port, origins)
    failures: list[str] = []

    def on_ready() -> None:
        if ready_file is not None:
            try:
                write_ready_file(ready_file, info)
            except OSError as exc:
                failures.append(f"cannot write --ready-file {ready_file}: {exc.strerror or exc}")
                server.should_exit = True
                return
        announce(console, emulator.config, info, as_json)

    server = _AnnouncingServer(uvicorn_config, on_ready)

    def stop() -> None:
        server.should_exit = True

    previous = _install_stop_handlers(stop)
    try:
        server.run(sockets=sockets)
    except OSError as exc:
        raise StartupError(_describe_oserror(exc, host, port)) from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if ready_file is not None:
            ready_file.unlink(missing_ok=True)
    if failures:
        raise StartupError(failures[0])


def _install_stop_handlers(stop: Callable[[], None]) -> dict[int, Any]:
    # uvicorn swaps in its own handlers while serving and, once it has shut down
    # gracefully, re-raises the signal it caught against the handlers it found: ours.
    # They only ask the server to stop, so SIGTERM and Ctrl-C end with exit 0 and no
    # KeyboardInterrupt traceback.
    def handler(signum: int, frame: FrameType | None) -> None:
        stop()

    return {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}


def base_url(host: str, port: int) -> str:
    bare = host.strip("[]")
    if bare in WILDCARD_HOSTS:  # listening everywhere; this machine reaches it on loopback
        bare = "::1" if ":" in bare else "127.0.0.1"
    return f"http://[{bare}]:{port}" if ":" in bare else f"http://{bare}:{port}"


def ready_info(
    config: EmulatorConfig, url: str, port: int, origins: dict[str, str] | None = None
) -> dict[str, Any]:
    """What ``--json``/``--ready-file`` report: where the emulator is and its test logins.

    ``origins``: each of CC's hosts (``authz``, ``identity``, ``api``); all ``url``
    unless the hosts are split, when ``env`` names each (``CTCT_AUTH_URL``...)."""
    app = config.default_app
    origins = origins or {role: url for role in ROLES}
    env = generic.client_env(config, url)
    if config.split_hosts:
        del env["CTCT_BASE_URL"]
        env = {
            "CTCT_AUTH_URL": origins["authz"],
            "CTCT_IDENTITY_URL": origins["identity"],
            "CTCT_API_URL": origins["api"],
            **env,
        }
    return {
        "event": "ready",
        "pid": os.getpid(),
        "base_url": url,
        "port": port,
        "origins": origins,
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "redirect_uris": list(app.redirect_uris),
        "users": [{"username": u.username, "password": u.password} for u in config.users],
        "env": env,
    }


def export_line(env: dict[str, str]) -> str:
    return "export " + " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())


def write_ready_file(path: Path, info: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(info) + "\n", encoding="utf-8")
    os.replace(tmp, path)  # readers never see a half-written file


def _console(*, stderr: bool) -> Console:
    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal:
        console.width = max(console.width, 160)  # piped output: don't wrap URLs
    return console


def announce(console: Console, config: EmulatorConfig, info: dict[str, Any], as_json: bool) -> None:
    """Print where the emulator is, its test credentials and how to point ctct at it."""
    if as_json:
        sys.stdout.write(json.dumps(info) + "\n")
        sys.stdout.flush()
    url = info["base_url"]
    app = config.default_app
    mode = " (a generic OAuth 2 / OpenID Connect provider)" if generic.enabled(config) else ""
    console.print(f"[bold green]Constant Contact emulator[/]{mode} listening on [bold]{url}[/]")
    if config.split_hosts:
        hosts = info["origins"]
        console.print(
            f"CC's hosts split: authz {hosts['authz']}, identity {hosts['identity']}, "
            f"api {hosts['api']}"
        )
    console.print("Press Ctrl-C to stop.\n")

    apps = Table.grid(padding=(0, 2))
    apps.add_row("client_id", app.client_id)
    apps.add_row("client_secret", app.client_secret or "(none: a public client, use PKCE)")
    apps.add_row("redirect URIs", "\n".join(app.redirect_uris))
    apps.add_row("refresh tokens", app.refresh_token_type)
    apps.add_row("flows", ", ".join(sorted(app.flows)))
    console.print("[bold]Default app[/] (test credentials)")
    console.print(Padding(apps, (0, 0, 0, 2), expand=False))
    if len(config.apps) > 1:
        others = ", ".join(a.client_id for a in config.apps[1:])
        console.print(f"  and {len(config.apps) - 1} more: {others}")

    users = Table("username", "password", "role", "organization", box=None, padding=(0, 2, 0, 0))
    for user in config.users:
        mark = " (default)" if user.username == config.default_username else ""
        users.add_row(user.username + mark, user.password, user.role, user.organization_name)
    console.print("\n[bold]Users[/]")
    console.print(Padding(users, (0, 0, 0, 2), expand=False))

    endpoints = Table.grid(padding=(0, 2))
    origins = info["origins"]
    host_of = {"JWKS": "identity", "V3 API": "api"}  # the rest: the authorization server
    for name, path in generic.endpoints(config):
        endpoints.add_row(name, origins[host_of.get(name, "authz")] + path)
    console.print("\n[bold]Endpoints[/]")
    console.print(Padding(endpoints, (0, 0, 0, 2), expand=False))

    changed = _non_defaults(config)
    if changed:
        console.print("\n[bold]Settings[/] " + ", ".join(f"{k}={v}" for k, v in changed.items()))
    where = f"in {config.data_path}" if config.data_path else "in memory (--data FILE keeps it)"
    console.print(f"State is kept {where}.")
    console.print("\n[bold]Point ctct at it[/]")
    console.print("  " + export_line(info["env"]), soft_wrap=True, markup=False)


def _non_defaults(config: EmulatorConfig) -> dict[str, Any]:
    defaults = EmulatorConfig()
    skip = {"apps", "users", "data_path"}
    return {
        f.name: getattr(config, f.name)
        for f in fields(config)
        if f.name not in skip and getattr(config, f.name) != getattr(defaults, f.name)
    }


def _describe_oserror(exc: OSError, host: str, port: int) -> str:
    if port and exc.errno in (98, 48, 10048):  # EADDRINUSE on Linux, macOS, Windows
        return (
            f"port {port} on {host} is already in use; pick another with --port, "
            "or --port 0 for any free port"
        )
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}"
