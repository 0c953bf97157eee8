"""The switches of simulated tracking: a seed and the rates at which recipients bounce,
open, click, forward, opt out... (``POST /__emulator/tracking``). Pure logic plus
loading and saving in the database's ``meta`` table, so ``--data`` keeps them.

Rates are fractions (0 to 1) of a base, as CC's reports compute their percentages:

- ``bounce``: of the recipients (sends);
- ``open``, ``optout``, ``abuse``: of the delivered (sends minus bounces); opt-outs and
  spam reports come from openers, so they are capped at the number of openers;
- ``click``, ``forward``: of the openers (a campaign without links gets no clicks);
- ``landing_page_open``: of a landing page's audience; ``landing_page_click``,
  ``landing_page_update``, ``landing_page_sms_optin``: of the page's openers;
- ``sms_bounce``: of an SMS campaign's recipients; ``sms_click``, ``sms_optout``: of
  those delivered.

Counts are exact: ``round(rate * base)`` (halves up), which recipients is drawn from
the seed. ``window_seconds`` is how long after a send its activity keeps arriving
(front-loaded: most opens come early), on the emulator's clock; 0 makes it all happen at
the send time.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Final

from ctct.emulator.db import Database

META_KEY: Final = "tracking_config"
MAX_WINDOW: Final = 30 * 86_400
MAX_SEED: Final = 2**63 - 1


@dataclass(frozen=True)
class TrackingConfig:
    seed: int = 0
    window_seconds: float = 86_400.0
    bounce: float = 0.02
    open: float = 0.40
    click: float = 0.25
    forward: float = 0.02
    optout: float = 0.01
    abuse: float = 0.001
    landing_page_open: float = 0.30
    landing_page_click: float = 0.40
    landing_page_update: float = 0.10
    landing_page_sms_optin: float = 0.05
    sms_bounce: float = 0.02
    sms_click: float = 0.15
    sms_optout: float = 0.01

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


FIELD_NAMES: Final = tuple(f.name for f in fields(TrackingConfig))


class ConfigError(ValueError):
    """A control-API body the tracking switches cannot take; says what to send."""


def changed(current: TrackingConfig, body: dict[str, Any]) -> TrackingConfig:
    """``current`` with the fields ``body`` names; every other field is kept."""
    unknown = sorted(set(body) - set(FIELD_NAMES))
    if unknown:
        raise ConfigError(
            f"unknown field {unknown[0]!r}; this route accepts {', '.join(FIELD_NAMES)}"
        )
    values: dict[str, Any] = {}
    for name, value in body.items():
        if name == "seed":
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED:
                raise ConfigError(f"'seed' must be a whole number from 0 to {MAX_SEED}")
            values[name] = value
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise ConfigError(f"{name!r} must be a number, e.g. {{{name!r}: 0.25}}")
        high = MAX_WINDOW if name == "window_seconds" else 1.0
        if not 0 <= value <= high:
            what = "seconds" if name == "window_seconds" else "a fraction"
            raise ConfigError(f"{name!r} must be {what} from 0 to {high:g}, got {value!r}")
        values[name] = float(value)
    return replace(current, **values)


def load(db: Database) -> TrackingConfig:
    raw = db.get_meta(META_KEY)
    if raw is None:
        return TrackingConfig()
    stored: dict[str, Any] = json.loads(raw)
    known = {k: v for k, v in stored.items() if k in FIELD_NAMES}
    return TrackingConfig(**known)


def save(db: Database, config: TrackingConfig) -> None:
    db.set_meta(META_KEY, json.dumps(config.to_json()))
