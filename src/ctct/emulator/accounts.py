"""Accounts and their contacts and lists (placeholder: being built)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator


class AccountStore:
    def __init__(self, emu: Emulator) -> None:
        self.emu = emu

    def reset(self) -> None:
        pass
