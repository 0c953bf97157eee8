"""A local Constant Contact: the authorization server and the V3 API on one origin.

Used by ctct's own tests and by users for offline development and CI
(``ctct emulator``). ``create_app`` builds the ASGI app; ``ctct.emulator.server``
runs it on a real socket.
"""

from __future__ import annotations

from ctct.emulator.app import Emulator, create_app
from ctct.emulator.config import AppConfig, EmulatorConfig, UserConfig

__all__ = ["AppConfig", "Emulator", "EmulatorConfig", "UserConfig", "create_app"]
