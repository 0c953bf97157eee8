"""What an operator can do to one account, from the CLI or the status page.

- ``pause``: the keeper stops refreshing it (state ``paused``); workers still can.
- ``resume``: back to normal, planned at once.
- ``disconnect``: revoke the grant at the provider, then forget it (record, account
  details, schedule; the state says ``disconnected``). If the provider cannot be told,
  nothing is forgotten unless ``force``.

Nothing is ever deleted automatically: only ``disconnect`` removes a grant.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx2

from ctct._refresh import decode
from ctct._revocation import revoke_grant
from ctct.errors import ConfigError, CtctError
from ctct.keeper import events
from ctct.keeper.apps import AppRegistry
from ctct.keeper.states import State
from ctct.stores import AccountState, GrantKey, Store


def find_key(store: Store, profile: str, client_id: str | None = None) -> GrantKey:
    """The grant of ``profile`` (one per client id; name it when there are several)."""
    matches = [
        k
        for k in store.keys()  # noqa: SIM118 - a store, not a dict
        if k.profile == profile
        and (client_id is None or k.client_id == client_id)
        and not k.issuer.startswith(("ctct:", "login:"))
    ]
    if not matches:
        raise ConfigError(f"No connected account named {profile!r} in the store.")
    if len(matches) > 1:
        ids = ", ".join(sorted(k.client_id for k in matches))
        raise ConfigError(
            f"Profile {profile!r} has grants for several apps ({ids}): give --client-id."
        )
    return matches[0]


def pause(store: Store, key: GrantKey, clock: Callable[[], float] = time.time) -> None:
    store.set_state(key, AccountState(State.PAUSED.value, "operator"))
    store.schedule(key, None)
    events.emit(store, "paused", key, clock())


def resume(store: Store, key: GrantKey, clock: Callable[[], float] = time.time) -> None:
    store.set_state(key, AccountState(State.OK.value, ""))
    store.schedule(key, store.now())
    events.emit(store, "resumed", key, clock())


def disconnect(
    store: Store,
    key: GrantKey,
    apps: AppRegistry,
    http: httpx2.Client,
    *,
    timeout: float = 10.0,
    force: bool = False,
    clock: Callable[[], float] = time.time,
) -> CtctError | None:
    """Revoke and forget; returns why revocation failed (then nothing was forgotten,
    unless ``force``)."""
    record = store.load(key)
    failure: CtctError | None = None
    if record is not None:
        app = apps.for_key(key)
        if app is None:
            failure = ConfigError(f"No [[apps]] entry for client {key.client_id}: cannot revoke.")
        else:
            failure = revoke_grant(app.provider, app.client, http, decode(record).tokens, timeout)
        if failure is not None and not force:
            return failure
        store.delete(key)
    from ctct.keeper.ui_accounts import forget_info

    forget_info(store, key)  # the account's name and identity (status page), if any
    store.schedule(key, None)
    store.set_state(key, AccountState(State.DISCONNECTED.value, "operator"))
    events.emit(store, "disconnected", key, clock(), {"revoked": failure is None})
    return failure
