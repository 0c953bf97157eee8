"""What the status page shows of each account, and who an account belongs to.

- ``AccountInfo``: the account's name (``organization_name`` from ``GET
  /account/summary``) and identity (CC's ``encoded_account_id``, the user's
  ``platform_user_id``), fetched when an account is connected or reconnected through
  the page. It is kept as a sealed record of its own under a bookkeeping key, never in
  the plaintext index, and not in the account state's ``detail`` (every state change
  rewrites that).
- ``Identity`` and ``same_account``: whether a reconnect came back for the same CC
  account, so one customer's profile never silently starts serving another's data.
- ``AccountRow`` / ``account_page``: one line of the table: state and reason, name,
  access-token expiry, refresh-token idle deadline, last and next refresh, last error.
  Never a token.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Final, Literal

from ctct._peek import peek_claims
from ctct._refresh import decode
from ctct.errors import StoreError
from ctct.flows._common import sanitize
from ctct.keeper.apps import AppRegistry
from ctct.keeper.config import KeeperConfig
from ctct.keeper.states import State
from ctct.stores import AccountState, GrantKey, Store
from ctct.stores.base import StoreConflict

INFO_ISSUER_PREFIX: Final = "ctct:account:"
_BOOKKEEPING: Final = ("ctct:", "login:")
PER_PAGE: Final = 100
_CAS_TRIES: Final = 5


def is_account(key: GrantKey) -> bool:
    """A connected account's grant (not one of our bookkeeping keys)."""
    return not key.issuer.startswith(_BOOKKEEPING)


def info_key(key: GrantKey) -> GrantKey:
    return GrantKey(key.profile, INFO_ISSUER_PREFIX + key.issuer, key.client_id)


@dataclass(frozen=True)
class AccountInfo:
    name: str | None = None
    """CC's ``organization_name``."""
    account_id: str | None = None
    """CC's ``encoded_account_id``."""
    platform_user_id: str | None = None
    connected_at: float | None = None
    via: str = ""
    """How it was last connected: ``page`` (an operator) or ``link`` (a reconnect link)."""

    def to_bytes(self) -> bytes:
        return json.dumps({"format": 1, **asdict(self)}, sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> AccountInfo:
        try:
            record = json.loads(data)
            return cls(
                name=_opt_str(record.get("name")),
                account_id=_opt_str(record.get("account_id")),
                platform_user_id=_opt_str(record.get("platform_user_id")),
                connected_at=_opt_float(record.get("connected_at")),
                via=str(record.get("via") or ""),
            )
        except (ValueError, AttributeError):
            return cls()


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _opt_float(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def load_info(store: Store, key: GrantKey) -> AccountInfo | None:
    record = store.load(info_key(key))
    return None if record is None else AccountInfo.from_bytes(record.data)


def save_info(store: Store, key: GrantKey, info: AccountInfo) -> None:
    """Write (replace) the account's info record: compare-and-swap on its version."""
    target = info_key(key)
    for _ in range(_CAS_TRIES):
        current = store.load(target)
        try:
            store.save(
                target,
                info.to_bytes(),
                expected_version=None if current is None else current.version,
            )
            return
        except StoreConflict:
            continue
    raise StoreError(f"Could not save the account details of {key}: too many concurrent writes.")


def forget_info(store: Store, key: GrantKey) -> None:
    store.delete(info_key(key))


# -- identity ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Identity:
    """Who a grant speaks for. Either part may be unknown."""

    platform_user_id: str | None = None
    account_id: str | None = None

    def describe(self) -> str:
        parts = []
        if self.account_id:
            parts.append(f"account {self.account_id}")
        if self.platform_user_id:
            parts.append(f"user {self.platform_user_id}")
        return ", ".join(parts) or "unknown"


Match = Literal["same_user", "same_account", "different", "unknown"]


def same_account(old: Identity, new: Identity) -> Match:
    """Whether ``new`` (a reconnect's grant) is for the account ``old`` was for.

    The CC account holds the data, so equal account ids are the same account even when
    another user of it signed in (``same_account``). Without both account ids, the user
    must be the same (``same_user``). Nothing known about the old grant: ``unknown``
    (refused like ``different``: it cannot be shown to be the same).
    """
    if old.account_id and new.account_id:
        if old.account_id != new.account_id:
            return "different"
        if old.platform_user_id and old.platform_user_id == new.platform_user_id:
            return "same_user"
        return "same_account"
    if old.platform_user_id and new.platform_user_id:
        return "same_user" if old.platform_user_id == new.platform_user_id else "different"
    return "unknown"


def grant_identity(store: Store, key: GrantKey) -> Identity:
    """The identity of the stored grant: its info record, else the claims of its stored
    access token (verified when it was stored; read even if it has expired)."""
    info = load_info(store, key)
    platform_user_id = info.platform_user_id if info else None
    account_id = info.account_id if info else None
    if platform_user_id is None:
        record = store.load(key)
        if record is not None:
            tokens = decode(record).tokens
            if tokens.access_token is not None:
                claims = peek_claims(tokens.access_token.reveal()) or {}
                platform_user_id = _opt_str(claims.get("platform_user_id"))
    return Identity(platform_user_id, account_id)


# -- the table ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountRow:
    key: GrantKey
    ref: str
    """An opaque reference for forms (the key's digest)."""
    state: str
    reason: str
    since: float | None
    name: str | None
    policy: str
    access_expires_at: float | None
    idle_deadline: float | None
    last_refresh_at: float | None
    next_refresh_at: float | None
    """Store-server time."""
    last_error: str | None


@dataclass(frozen=True)
class AccountPage:
    rows: list[AccountRow]
    counts: dict[str, int]
    """Accounts per state, over all accounts."""
    total: int
    """Accounts matching the filter."""
    page: int
    pages: int


def state_code(code: str | None) -> str:
    return code or State.OK.value


def account_page(
    store: Store,
    apps: AppRegistry,
    config: KeeperConfig,
    *,
    state: str | None = None,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> AccountPage:
    """One page of accounts (sorted by profile), filtered by state; records are read for
    that page only, so a fleet of thousands renders as fast as a hundred."""
    states = store.states()
    keys = sorted(k for k in store.keys() if is_account(k))  # noqa: SIM118 - a store
    counts = Counter(state_code(s.code if (s := states.get(k)) else None) for k in keys)
    chosen = [
        k
        for k in keys
        if state is None or state_code(s.code if (s := states.get(k)) else None) == state
    ]
    pages = max(1, math.ceil(len(chosen) / per_page))
    page = min(max(1, page), pages)
    shown = chosen[(page - 1) * per_page : page * per_page]
    due = dict(store.due(limit=len(keys) + 16)) if shown else {}
    rows = [_row(store, apps, config, k, states.get(k), due.get(k)) for k in shown]
    return AccountPage(rows, dict(counts), len(chosen), page, pages)


def account_row(store: Store, apps: AppRegistry, config: KeeperConfig, key: GrantKey) -> AccountRow:
    """The row of one account."""
    due = dict(store.due(limit=len(store.keys()) + 16))
    return _row(store, apps, config, key, store.load_state(key), due.get(key))


def _row(
    store: Store,
    apps: AppRegistry,
    config: KeeperConfig,
    key: GrantKey,
    state: AccountState | None,
    next_due: float | None,
) -> AccountRow:
    code = state_code(state.code if state else None)
    try:
        record = store.load(key)
        tokens = decode(record).tokens if record is not None else None
        unreadable = None
    except StoreError as error:
        tokens, unreadable = None, error.message
    info = _safe_info(store, key)
    app = apps.for_key(key)
    idle_ttl = app.provider.refresh_token_idle_ttl if app is not None else None
    last_error = unreadable
    if last_error is None and state is not None and code != State.OK.value and state.detail:
        # Detail may hold server text: shown masked, one line, short.
        last_error = sanitize(state.detail.decode("utf-8", "replace")) or None
    policy, _ = config.policy_for(key.profile)
    return AccountRow(
        key=key,
        ref=key.digest(),
        state=code,
        reason=state.reason if state else "",
        since=state.since if state and state.since else None,
        name=info.name if info else None,
        policy=policy.value,
        access_expires_at=tokens.expires_at if tokens else None,
        idle_deadline=tokens.refresh_token_idle_deadline(idle_ttl) if tokens else None,
        last_refresh_at=tokens.last_refresh_at if tokens else None,
        next_refresh_at=next_due,
        last_error=last_error,
    )


def _safe_info(store: Store, key: GrantKey) -> AccountInfo | None:
    try:
        return load_info(store, key)
    except StoreError:
        return None


def find_ref(store: Store, ref: str, keys: Iterable[GrantKey] | None = None) -> GrantKey | None:
    """The account whose reference (digest) is ``ref``."""
    for key in keys if keys is not None else store.keys():
        if is_account(key) and key.digest() == ref:
            return key
    return None
