"""Helpers for the status page's tests: an emulator, an encrypted SQLite store with
grants in every state, a keeper replica (not looping: states stay as the test sets
them), the UI app, and the emulator's consent answered through its control API."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2

from ctct._refresh import decode
from ctct.keeper.config import ConfigWatcher
from ctct.keeper.service import Keeper
from ctct.keeper.ui import ui_app
from ctct.keeper.ui_auth import OperatorCheck, hash_password
from ctct.stores import AccountState, GrantKey, open_store
from ctct.stores.base import Store
from ctct.stores.crypto import generate_key
from ctct.stores.keys import static_keys
from ctct.testing import EmulatorHandle
from tests.keeper.fleet import store_minted, write_config

PASSWORD = "operator password 123"
SECRET = b"k" * 40
# scrypt is slow by design: hash once per test session.
_HASH: list[str] = []

#: state -> (reason, detail) for the grants the tests make
STATES: dict[str, tuple[str, bytes]] = {
    "ok": ("", b""),
    "at_risk": ("network", b"connect timeout to the token endpoint"),
    "needs_login": ("rejected", b"invalid_grant"),
    "app_error": ("invalid_client", b""),
    "paused": ("operator", b""),
    "shed": ("shed: over capacity", b""),
}


def write_secret(path: Path) -> None:
    """A session secret file, as `ctct keeper new-ui-secret` writes one."""
    path.write_text(secrets.token_urlsafe(32) + "\n")
    path.chmod(0o600)


def operator_hash() -> str:
    if not _HASH:
        _HASH.append(hash_password(PASSWORD, salt=b"0123456789abcdef"))
    return _HASH[0]


def operator_check() -> OperatorCheck:
    return OperatorCheck(operator_hash())


@dataclass
class UiEnv:
    emu: EmulatorHandle
    store: Store
    keeper: Keeper
    keys: dict[str, GrantKey]
    """One grant per state, by state."""
    public_url: str
    db_path: Path
    store_key: str

    def tokens_of(self, key: GrantKey) -> list[str]:
        record = self.store.load(key)
        assert record is not None
        tokens = decode(record).tokens
        return [s.reveal() for s in (tokens.access_token, tokens.refresh_token) if s]

    def all_tokens(self) -> list[str]:
        return [t for key in self.keys.values() for t in self.tokens_of(key)]

    def app(self, *, auth: OperatorCheck | None = None, hosts: tuple[str, ...] = ()) -> Any:
        host = urlsplit(self.public_url).hostname or ""
        return ui_app(
            self.keeper,
            allowed_hosts=(host, *hosts),
            auth=auth,
            session_secret=SECRET,
            public_url=self.public_url,
        )

    def set_states(self) -> None:
        for code, key in self.keys.items():
            reason, detail = STATES[code]
            self.store.set_state(key, AccountState(code, reason, detail))

    def events(self, kind: str) -> list[dict[str, Any]]:
        import json

        found = []
        for event in self.store.claim_events("test", limit=1000, claim_for=600):
            if event.kind == kind:
                found.append(json.loads(event.payload))
        return found


@contextmanager
def ui_env(
    emu: EmulatorHandle, tmp_path: Path, public_url: str, *, token_rate: float = 10
) -> Iterator[UiEnv]:
    db_path = tmp_path / "tokens.db"
    store_key = generate_key()
    store = open_store(f"sqlite:///{db_path}", key_provider=static_keys(store_key))
    minted = store_minted(emu, store, len(STATES), prefix=f"acct{time.time_ns() % 10**6}")
    keys = dict(zip(STATES, minted, strict=True))
    config = write_config(tmp_path / "keeper.toml", emu.base_url, token_rate=token_rate)
    keeper = Keeper(ConfigWatcher(config), store)
    keeper.planner.scan()  # the plan picture; states are set after (a scan un-sheds)
    env = UiEnv(emu, store, keeper, keys, public_url, db_path, store_key)
    env.set_states()
    try:
        yield env
    finally:
        keeper.close()
        store.close()


_REQUEST_ID = re.compile(r"name='request_id' value='([^']+)'")


def consent(emu: EmulatorHandle, authorize_url: str, username: str) -> str:
    """Open the emulator's consent page (as a browser would) and approve it as
    ``username``; returns the redirect back to the page (with the code)."""
    with httpx2.Client() as http:
        page = http.get(authorize_url)
    assert page.status_code == 200, page.text
    match = _REQUEST_ID.search(page.text)
    assert match is not None, "no request_id on the consent page"
    return emu.approve_authorization(match.group(1), username)


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def csrf_of(html: str) -> str:
    match = re.search(r"name='csrf' value='([^']+)'", html)
    assert match is not None, "no CSRF field on the page"
    return match.group(1)
