"""The body of ``ctct broker run`` (imported only when it runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ctct.cli import _console
from ctct.cli.auth_common import load_settings


def _host_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise click.BadParameter(f"{value!r} is not HOST:PORT", param_hint="--listen")
    return host.strip("[]"), int(port)


def _log_answers() -> None:
    """Each answer on stderr with the caller and profile (never the token)."""
    import logging
    import sys

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s"))
    for name in ("ctct.broker", "ctct.sink"):
        logger = logging.getLogger(name)
        logger.setLevel(min(logger.getEffectiveLevel(), logging.INFO))
        logger.addHandler(handler)
        logger.propagate = False


def run_broker(settings_flags: dict[str, Any], **options: Any) -> None:
    from ctct._manager import TokenManager
    from ctct.broker.server import Listen
    from ctct.broker.service import Broker, BrokerOptions
    from ctct.broker.sink import SinkSpec
    from ctct.cli.broker_cmd import _mode
    from ctct.stores import open_store

    socket_path: Path | None = options["socket_path"]
    listen_text: str | None = options["listen"]
    if (socket_path is None) == (listen_text is None):
        raise click.UsageError("Give exactly one of --socket PATH or --listen HOST:PORT.")
    if socket_path is not None and options["key_file"] is not None:
        raise click.UsageError("--key-file is for --listen; socket callers are known by uid.")
    policy_file: Path | None = options["policy_file"]
    mode_text = options["socket_mode"] or ("0666" if policy_file is not None else "0600")
    if socket_path is not None:
        listen = Listen(socket_path=socket_path.resolve(), socket_mode=_mode(mode_text))
    else:
        assert listen_text is not None
        host, port = _host_port(listen_text)
        listen = Listen(
            host=host, port=port, tls_cert=options["tls_cert"], tls_key=options["tls_key"]
        )

    base = load_settings(settings_flags)
    store = open_store(base.store)

    def manager_for(profile: str) -> TokenManager:
        settings = load_settings({**settings_flags, "profile": profile})
        return TokenManager.from_settings(settings, store=store)

    sinks: dict[str, SinkSpec] = {}
    for item in options["sinks"]:
        profile, eq, path = item.rpartition("=")
        sinks[profile if eq else base.profile] = SinkSpec(
            Path(path).resolve(),
            mode=_mode(options["sink_mode"]),
            group=options["sink_group"],
            format=options["sink_format"],
        )
    broker = Broker(
        BrokerOptions(
            listen=listen,
            key_file=options["key_file"],
            policy_file=policy_file,
            default_profile=base.profile,
            sinks=sinks,
        ),
        manager_for,
        store=store,
    )
    _log_answers()
    _console.note(
        f"ctct broker serving on {broker.server.address} (policy: {broker.policy.source})"
    )
    broker.run()
