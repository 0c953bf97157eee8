"""The body of ``ctct keeper run`` (imported only when it runs)."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path
from typing import Any

import click

from ctct.cli import _console
from ctct.errors import ConfigError


def _host_port(value: str, flag: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise click.BadParameter(f"{value!r} is not HOST:PORT", param_hint=flag)
    return host.strip("[]"), int(port)


def _service_logging() -> None:
    """The keeper's log on stderr, one line per event, as a journal wants it."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("ctct")
    logger.handlers = [h for h in logger.handlers if not isinstance(h, logging.StreamHandler)]
    logger.addHandler(handler)
    logger.setLevel(min(logger.getEffectiveLevel(), logging.INFO))
    logger.propagate = False


def run_keeper(**options: Any) -> None:
    from ctct._serve import SocketServer
    from ctct.emulator.server import bind
    from ctct.keeper.config import ConfigWatcher
    from ctct.keeper.ops import ops_app
    from ctct.keeper.service import Keeper
    from ctct.stores import open_store

    watcher = ConfigWatcher(options["config_path"])
    url = options["store"] or watcher.config.store
    if url is None:
        raise ConfigError(
            'The keeper needs a shared store: set store = "postgresql://..." in the keeper '
            "config, CTCT_STORE, or --store."
        )
    if not watcher.config.apps:
        raise ConfigError(
            "The keeper config has no [[apps]] entry: add one per application (client_id and "
            "client_secret_file); see docs/keeper.md."
        )
    _service_logging()
    store = open_store(url)
    keeper = Keeper(watcher, store, worker=options["worker_name"])
    servers: list[SocketServer] = []
    if options["ops_listen"]:
        host, port = _host_port(options["ops_listen"], "--ops-listen")
        ops = SocketServer(
            ops_app(keeper.heartbeat, keeper.metrics, keeper.ready), bind(host, port)
        )
        servers.append(ops.start())
        _console.note(f"ops listener on http://{host}:{port} (/livez /readyz /metrics)")
    ui = None
    if options["ui_listen"] or options["ui_socket"] or options["public_url"]:
        from ctct.keeper.ui_serve import serve_ui

        ui = serve_ui(
            keeper,
            listen=options["ui_listen"],
            socket_path=options["ui_socket"],
            no_auth=options["no_auth"],
            operator_file=options["operator_secret_file"],
            session_secret_file=options["ui_secret_file"],
            public_url=options["public_url"],
            allowed_hosts=options["allowed_hosts"],
        )
        _console.note(f"status page on {ui.address}")
    broker = _broker(keeper, options)
    if broker is not None:
        broker.start()
        _console.note(f"broker on {broker.server.address}")
    sinks = _sinks(keeper, options)
    for sink in sinks:
        sink.start()
        _console.note(f"keeping {sink.spec.path} current for profile {sink.manager.profile!r}")

    def stop(signum: int, frame: object) -> None:
        keeper.stop_soon()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    where = store.describe().location
    apps = _console.plural(len(watcher.config.apps), "app")
    _console.note(f"ctct keeper {keeper.worker}: {apps}, store {where}")
    try:
        keeper.run()
    finally:
        for sink in sinks:
            sink.stop()
        if broker is not None:
            broker.stop()
        if ui is not None:
            ui.stop()
        for server in servers:
            server.stop()
        store.close()


def _manager_for(keeper: Any) -> Any:
    from ctct._manager import TokenManager
    from ctct.keeper.actions import find_key

    def manager_for(profile: str) -> TokenManager:
        key = find_key(keeper.store, profile)
        app = keeper.apps.for_key(key)
        if app is None:
            raise ConfigError(f"No [[apps]] entry for the client of profile {profile!r}.")
        return TokenManager(
            provider=app.provider,
            client=app.client,
            store=keeper.store,
            profile=profile,
            timeout=keeper.config.http_timeout,
        )

    return manager_for


def _sinks(keeper: Any, options: dict[str, Any]) -> list[Any]:
    from ctct.broker.sink import Sink, SinkSpec
    from ctct.cli.broker_cmd import _mode

    made = []
    for item in options["sinks"]:
        profile, eq, path = item.partition("=")
        if not eq or not profile or not path:
            raise click.BadParameter(f"{item!r} is not PROFILE=FILE", param_hint="--sink")
        spec = SinkSpec(
            Path(path).resolve(),
            mode=_mode(options["sink_mode"]),
            group=options["sink_group"],
            format=options["sink_format"],
        )
        made.append(Sink(_manager_for(keeper)(profile), spec))
    return made


def _broker(keeper: Any, options: dict[str, Any]) -> Any:
    socket_path: Path | None = options["broker_socket"]
    listen_text: str | None = options["broker_listen"]
    if socket_path is None and listen_text is None:
        return None
    if socket_path is not None and listen_text is not None:
        raise click.UsageError("Give --broker-socket or --broker-listen, not both.")
    from ctct.broker.server import Listen
    from ctct.broker.service import Broker, BrokerOptions

    if socket_path is not None:
        mode = 0o666 if options["broker_policy"] else 0o600
        listen = Listen(socket_path=socket_path.resolve(), socket_mode=mode)
    else:
        assert listen_text is not None
        host, port = _host_port(listen_text, "--broker-listen")
        listen = Listen(host=host, port=port)

    return Broker(
        BrokerOptions(
            listen=listen,
            key_file=options["broker_key_file"],
            policy_file=options["broker_policy"],
        ),
        _manager_for(keeper),
    )
