"""Lineage: what a refresh does when its compare-and-swap save loses (one test per case
of ``ctct._lineage.decide``), and "rotation lost in flight" after an in-doubt attempt."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from ctct._lineage import decide, fingerprint
from ctct._oauth_requests import ClientCredentials, refresh_request
from ctct._provider import Provider
from ctct._refresh import Grant, Load, Mark, Save, SetState, Snapshot, _Dropped, _save
from ctct._sansio import drive
from ctct._tokens import TokenSet
from ctct.errors import AuthorizationRequired
from ctct.stores import Attempt, GrantKey, MemoryStore
from tests.refresh.conftest import Env

DAY = 86_400
KEY = GrantKey("default", "https://issuer.example", "client-1")


def tokens(
    refresh: str | None,
    *,
    grant: str | None = "grant-1",
    parent: str | None = None,
    spent: str | None = None,
) -> TokenSet:
    base = TokenSet.imported(
        issuer=KEY.issuer,
        client_id=KEY.client_id,
        now=1_000.0,
        refresh_token=refresh,
        access_token=f"at-for-{refresh}",
        expires_at=2_000.0,
    )
    return replace(base, grant_id=grant, parent=parent, spent=spent)


def ours() -> TokenSet:
    """Tokens refreshed from the refresh token "rt-0"."""
    return tokens("rt-1", parent=fingerprint("rt-0"))


def save_over(stored: TokenSet | None) -> tuple[MemoryStore, Any]:
    """Save ``ours()`` expecting version 1 while the store holds ``stored`` (v2+)."""
    store = MemoryStore()
    first = store.save(KEY, tokens("rt-0").to_json(), expected_version=None)
    if stored is None:
        store.delete(KEY)
    else:
        store.save(KEY, stored.to_json(), expected_version=first)
    grant = Grant(
        KEY,
        Provider.constant_contact("http://127.0.0.1:1"),
        ClientCredentials("client-1", None),
        clock=lambda: 1_500.0,
    )

    def execute(operation: object) -> Any:
        if isinstance(operation, Load):
            return store.load(KEY)
        if isinstance(operation, Mark | SetState):  # counted / flagged: not this test's
            return None
        assert isinstance(operation, Save)
        return store.save(KEY, operation.data, expected_version=operation.expected_version)

    try:
        result: Any = drive(_save(grant, Snapshot(tokens("rt-0"), first), ours()), execute)
    except (_Dropped, AuthorizationRequired) as exc:
        result = exc
    return store, result


def stored_refresh(store: MemoryStore) -> str | None:
    record = store.load(KEY)
    assert record is not None
    token = TokenSet.from_json(record.data).refresh_token
    return None if token is None else token.reveal()


def test_ours_win_over_a_record_still_holding_our_parent() -> None:
    # e.g. a rekey or an access-token-only rewrite happened while we refreshed
    store, result = save_over(tokens("rt-0"))
    assert decide(ours(), tokens("rt-0")) == "write"
    assert stored_refresh(store) == "rt-1"
    assert not isinstance(result, Exception)


def test_ours_win_over_a_record_marking_our_parent_spent() -> None:
    # The next holder found our attempt in doubt, got invalid_grant and marked rt-0 spent;
    # we were only paused and hold the live tokens: the account recovers.
    # safety: src/ctct/_lineage.py: return "write"  # our parent spent: ours are the live tokens
    spent = tokens(None, spent=fingerprint("rt-0"))
    store, result = save_over(spent)
    assert stored_refresh(store) == "rt-1"
    assert not isinstance(result, Exception)


def test_our_own_write_found_by_a_retried_save_is_ours() -> None:
    # A save retried after its answer was lost (a store restarted or a link cut mid-save)
    # finds our own tokens: they are saved, and nobody sent twice.
    # safety: src/ctct/_lineage.py: return "ours"
    # safety: src/ctct/_refresh.py: return Snapshot(tokens, latest.version, offset)
    assert decide(ours(), ours()) == "ours"
    store, result = save_over(ours())
    record = store.load(KEY)
    assert record is not None and stored_refresh(store) == "rt-1"
    assert not isinstance(result, Exception) and result.version == record.version


def test_a_v1_record_without_lineage_holding_our_parent_is_ours() -> None:
    store, _ = save_over(tokens("rt-0", grant=None))
    assert stored_refresh(store) == "rt-1"


def test_a_newer_login_is_never_overwritten_by_an_old_chain() -> None:
    newer = tokens("rt-new-login", grant="grant-2")
    assert decide(ours(), newer) == "other_grant"
    store, result = save_over(newer)
    assert stored_refresh(store) == "rt-new-login"
    assert isinstance(result, _Dropped)
    assert result.stored.tokens.grant_id == "grant-2"


def test_a_sibling_that_committed_first_is_kept_as_a_double_send() -> None:
    # safety: src/ctct/_lineage.py: return "double_send"
    sibling = tokens("rt-1-other", parent=fingerprint("rt-0"))
    assert decide(ours(), sibling) == "double_send"
    store, result = save_over(sibling)
    assert stored_refresh(store) == "rt-1-other"
    assert isinstance(result, _Dropped)


def test_a_record_that_moved_further_on_is_kept() -> None:
    further = tokens("rt-2", parent=fingerprint("rt-1-other"))
    assert decide(ours(), further) == "newer"
    store, result = save_over(further)
    assert stored_refresh(store) == "rt-2"
    assert isinstance(result, _Dropped)


def test_a_deleted_grant_is_not_brought_back() -> None:
    store, result = save_over(None)
    assert store.load(KEY) is None
    assert isinstance(result, AuthorizationRequired)


def test_invalid_grant_after_an_in_doubt_attempt_is_rotation_lost(env: Env) -> None:
    # A holder sent the stored refresh token, the server rotated it, and the holder
    # vanished before saving (its attempt stays). The next holder's refresh is rejected:
    # the account is flagged "rotation lost in flight", never silently dead.
    # safety: src/ctct/_refresh.py: yield SetState("needs_login", "rotation_lost", detail)
    with env.manager() as manager:
        stored = env.login(manager)
        assert stored.refresh_token is not None
        spent_by_vanished = stored.refresh_token.reveal()
        env.clock.advance(1.1)  # the token endpoint allows 1 request/second
        answer = env.http.send(refresh_request(env.provider, env.client, stored.refresh_token))
        assert answer.status_code == 200
        manager.store.record_attempt(
            manager.key, Attempt("host-b:4242:gone", fingerprint(spent_by_vanished) or "", 0)
        )
        env.clock.advance(DAY + 1)
        env.clock.advance(1.1)
        with pytest.raises(AuthorizationRequired, match="rotation lost in flight") as info:
            manager.token()
        assert info.value.code == "rotation_lost"
        state = manager.store.load_state(manager.key)
        assert state is not None
        assert (state.code, state.reason) == ("needs_login", "rotation_lost")
        assert b"host-b:4242:gone" in state.detail
