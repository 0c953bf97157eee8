"""The emulated V3 API: every ``/v3/...`` route goes through the gateway
(``gateway.py``: token, limits, scope, privilege), and the control route that seeds
account data (``seed.py``).

Modules: ``gateway`` (checks), ``errors`` (CC's error bodies), ``pagination`` (cursors),
``account`` and ``contacts`` (endpoints), ``contact_input``/``contact_model`` (pure
validation and shaping), ``contact_store``/``list_store`` (database), ``privileges``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import BaseRoute

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator


def routes(emu: Emulator) -> list[BaseRoute]:
    """Routes under /v3, ending with a catch-all that answers CC's 404 for unknown paths
    (so add new /v3 resources to the list below, not after these routes)."""
    # Imported here: ``ctct.emulator.accounts`` imports this package's stores, and the
    # endpoint modules import ``accounts`` back.
    from ctct.emulator.api import account, contacts, gateway

    return gateway.build_routes(emu, [*account.resources(emu), *contacts.resources(emu)])


def control_routes(emu: Emulator) -> list[BaseRoute]:
    """Routes under /__emulator/ for seeding account data."""
    from ctct.emulator.api import seed

    return seed.routes(emu)
