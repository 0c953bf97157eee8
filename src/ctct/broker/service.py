"""Assembling a broker from settings: one store, a manager per profile, the policy."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ctct._manager import TokenManager
from ctct.broker.app import broker_app
from ctct.broker.keys import load_keys
from ctct.broker.policy import Policy
from ctct.broker.server import BrokerServer, Listen
from ctct.broker.sink import Sink, SinkSpec
from ctct.broker.source import DEFAULT_FORCED_INTERVAL, TokenSource
from ctct.stores import Store

log = logging.getLogger("ctct.broker")


@dataclass
class BrokerOptions:
    listen: Listen
    key_file: Path | None = None
    policy_file: Path | None = None
    default_profile: str = "default"
    sinks: Mapping[str, SinkSpec] = field(default_factory=dict)
    """profile -> sink file."""
    forced_interval: float = DEFAULT_FORCED_INTERVAL
    """At most one refresh after a reported 401 per grant within this many seconds."""


class Broker:
    """A running broker: its server, its token source and its sinks."""

    def __init__(
        self,
        options: BrokerOptions,
        manager_for: Callable[[str], TokenManager],
        *,
        store: Store | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        keys = load_keys(options.key_file) if options.key_file is not None else None
        options.listen.check(has_keys=keys is not None)
        policy = (
            Policy.load(options.policy_file)
            if options.policy_file is not None
            else Policy.default(sorted(set(keys.names.values())) if keys else ())
        )
        self.policy = policy
        self.source = TokenSource(manager_for, clock=clock, forced_interval=options.forced_interval)
        self.sinks = [
            Sink(manager_for(profile), spec, clock=clock) for profile, spec in options.sinks.items()
        ]
        app = broker_app(
            self.source, policy, keys=keys, default_profile=options.default_profile, clock=clock
        )
        self.server = BrokerServer(app, options.listen)
        self._store = store
        log.info("broker on %s, policy %s", self.server.address, policy.source)

    def start(self) -> Broker:
        for sink in self.sinks:
            sink.start()
        self.server.start()
        return self

    def run(self) -> None:
        for sink in self.sinks:
            sink.start()
        try:
            self.server.run()
        finally:
            self.close()

    def stop(self) -> None:
        self.server.stop()
        self.close()

    def close(self) -> None:
        for sink in self.sinks:
            sink.stop()
        self.source.close()
        if self._store is not None:
            self._store.close()

    def __enter__(self) -> Broker:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
