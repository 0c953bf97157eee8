"""(placeholder: being built)"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import BaseRoute

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator


def routes(emu: Emulator) -> list[BaseRoute]:
    return []


def control_routes(emu: Emulator) -> list[BaseRoute]:
    """Routes under /__emulator/ for approving logins and managing grants."""
    return []
