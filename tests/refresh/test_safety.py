"""The refresh engine's grant-deciding paths, each driven to the moment it decides.

A second writer that does not take the grant's lock (a raw second store handle: a
process whose lock or lease expired, or a login/import that skipped it) changes the
stored record while a refresh is in flight. The refresh's request is held just before
it leaves (``HoldingTransport``), the other writer does its work against the same
emulator and store over real sockets, then the request goes on. Each test names the
lines whose removal must make it fail (``# safety:`` markers, checked by
``tests/safety_mutations.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx2
import pytest

from ctct._cc import TOKEN_PATH
from ctct._oauth_requests import ClientCredentials, parse_token_response, refresh_request
from ctct._provider import Provider
from ctct._refresh import Grant, Load, Save, Snapshot, _after_invalid_grant
from ctct._sansio import drive
from ctct._secret import Secret
from ctct._tokens import TokenSet
from ctct.errors import AuthorizationRequired, TokenValidationError
from ctct.stores import GrantKey, MemoryStore, open_store
from tests.refresh.conftest import Env

DAY = 86_400


class HoldingTransport(httpx2.HTTPTransport):
    """A real HTTP transport that, the first time a token request is about to leave,
    runs ``meanwhile`` and only then sends it: the request is in flight (built, with the
    refresh token it carries) while another writer acts."""

    def __init__(self, meanwhile: Callable[[], None]) -> None:
        super().__init__()
        self._meanwhile: Callable[[], None] | None = meanwhile

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.path == TOKEN_PATH and self._meanwhile is not None:
            meanwhile, self._meanwhile = self._meanwhile, None
            meanwhile()
        return super().handle_request(request)


class LocklessWriter:
    """A second writer of the grant that never takes its lock: a raw second store handle,
    standing in for a process whose lock (or lease) expired, or a login or import that
    skipped it. ``saved`` is what it wrote."""

    def __init__(self, env: Env, key: GrantKey) -> None:
        self.env = env
        self.key = key
        self.saved: TokenSet | None = None

    def refresh(self) -> None:
        """Read the grant, refresh it with the refresh token it holds, save the result."""
        env = self.env
        with open_store(env.store_url) as raw:
            record = raw.load(self.key)
            assert record is not None
            tokens = TokenSet.from_json(record.data)
            assert tokens.refresh_token is not None
            env.clock.advance(1.1)  # the token endpoint allows 1 request/second
            response = env.http.send(
                refresh_request(env.provider, env.client, tokens.refresh_token)
            )
            new = parse_token_response(
                response,
                provider=env.provider,
                client_id=env.client.client_id,
                received_at=env.clock(),
                previous=tokens,
            ).with_subject(tokens.subject)
            raw.save(self.key, new.to_json(), expected_version=record.version)
            self.saved = new
        env.clock.advance(1.1)  # the held request reaches the server a second later

    def rewrite(self) -> None:
        """Write the stored grant back unchanged: only its version moves."""
        with open_store(self.env.store_url) as raw:
            record = raw.load(self.key)
            assert record is not None
            raw.save(self.key, record.data, expected_version=record.version)
            self.saved = TokenSet.from_json(record.data)


def test_invalid_grant_after_a_lockless_writer_rotated_adopts_its_tokens(env: Env) -> None:
    """A refresh with the old refresh token is in flight; a writer that does not take
    the lock refreshes first (the emulator then rejects the old token as reused) and
    saves. The in-flight refresh must end with the other writer's tokens, not log the
    account out.

    Two layers guard this: the re-read after invalid_grant (``_after_invalid_grant``,
    proven alone by the next test) and the lineage check when the spent marker's save
    then loses its compare-and-swap (``_save``). Removing either keeps this test green;
    removing both fails it (checked by hand), so it carries no single-line marker."""
    with env.manager() as setup:
        first = env.login(setup)
        other = LocklessWriter(env, setup.key)
    http = httpx2.Client(transport=HoldingTransport(other.refresh))
    env.clock.advance(DAY + 1)  # expired: the refresh is due
    with env.manager(http=http) as manager:
        token = manager.token()
        theirs = other.saved
        assert (
            theirs is not None
            and theirs.access_token is not None
            and theirs.refresh_token is not None
        )
        assert theirs.refresh_token != first.refresh_token
        assert token == theirs.access_token.reveal()
        stored = manager.tokens()
        assert stored is not None and stored.refresh_token == theirs.refresh_token
    http.close()
    # Both refreshes reached the server: theirs won, ours was refused as a reuse.
    counts = env.emu.counters.snapshot()["token_requests"]["refresh_token"]
    assert counts == {"success": 1, "invalid_grant": 1}
    # The account is still connected: the next expiry refreshes normally.
    env.clock.advance(DAY + 1)
    with env.manager() as later:
        assert later.token() != token
    assert env.refreshes() == 2


def test_a_conflicting_write_during_a_refresh_keeps_the_new_refresh_token(env: Env) -> None:
    """The refresh succeeds, but a writer that skipped the lock wrote the grant while
    the request was out, so the compare-and-swap save conflicts. The rotated refresh
    token the server just issued is the only live one: it must still be saved."""
    # safety: src/ctct/_refresh.py: version = yield Save(data, latest.version)
    with env.manager() as setup:
        first = env.login(setup)
        other = LocklessWriter(env, setup.key)
    http = httpx2.Client(transport=HoldingTransport(other.rewrite))
    env.clock.advance(DAY + 1)
    with env.manager(http=http) as manager:
        token = manager.token()
        assert other.saved is not None  # it did write while our request was out
        assert token != first.access_token.reveal()  # type: ignore[union-attr]
        stored = manager.tokens()
        assert stored is not None and stored.access_token is not None
        assert stored.access_token.reveal() == token
        assert stored.refresh_token not in (None, first.refresh_token)
    http.close()
    # What was saved is the grant's live refresh token: the next expiry refreshes with it.
    env.clock.advance(DAY + 1)
    with env.manager() as later:
        assert later.token() != token
    counts = env.emu.counters.snapshot()["token_requests"]["refresh_token"]
    assert counts == {"success": 2}


def test_a_refreshed_access_token_that_fails_verification_is_dropped_not_the_grant(
    env: Env,
) -> None:
    """The refresh succeeds but the new access token fails verification (here: the
    profile expects another audience). The old refresh token is spent, so the new one
    must be kept; the unverified access token must not be, so nothing serves it."""
    # safety: src/ctct/_refresh.py: saved = yield from _save(grant, current, new_tokens)
    # safety: src/ctct/_refresh.py: yield from _save(grant, saved, replace(new_tokens, access_token=None))  # noqa: E501
    with env.manager() as setup:
        first = env.login(setup)
    right = env.provider
    env.provider = replace(right, audience="https://api.elsewhere.example/v3")
    env.clock.advance(DAY + 1)
    with env.manager() as manager:
        with pytest.raises(TokenValidationError) as caught:
            manager.token()
        assert caught.value.check == "audience"
        stored = manager.tokens()
        assert stored is not None and stored.access_token is None
        assert stored.refresh_token not in (None, first.refresh_token)
    # With the right profile, the kept refresh token is the grant's live one.
    env.provider = right
    env.clock.advance(1.1)
    with env.manager() as later:
        assert later.token()
    assert env.refreshes() == 2


def test_after_invalid_grant_a_record_that_moved_on_is_adopted_without_a_write() -> None:
    """The re-read on its own, driven without I/O: the server refused our refresh token
    (invalid_grant) but the store now holds another one (a writer that skipped the lock
    rotated it). Trust the store: adopt that record, and write nothing over it."""
    # safety: src/ctct/_refresh.py: reread = yield Load()
    # safety: src/ctct/_refresh.py: return Outcome(newer, refreshed=False)
    key = GrantKey("default", "https://issuer.example", "client-1")
    ours = TokenSet.imported(
        issuer=key.issuer,
        client_id=key.client_id,
        now=1_000.0,
        refresh_token="rt-0",
        access_token="at-0",
        expires_at=1_400.0,
    )
    theirs = replace(ours, refresh_token=Secret("rt-1"), access_token=Secret("at-1"))
    store = MemoryStore()
    first = store.save(key, ours.to_json(), expected_version=None)
    second = store.save(key, theirs.to_json(), expected_version=first)
    grant = Grant(
        key,
        Provider.constant_contact("http://127.0.0.1:1"),
        ClientCredentials(key.client_id, None),
        clock=lambda: 1_500.0,  # our access token has expired too
    )
    writes: list[Save] = []

    def execute(operation: object) -> Any:
        if isinstance(operation, Load):
            return store.load(key)
        if isinstance(operation, Save):
            writes.append(operation)
            return store.save(key, operation.data, expected_version=operation.expected_version)
        return None  # account states, marks: nothing to carry out here

    refused = AuthorizationRequired("refused", code="invalid_grant")
    flow = _after_invalid_grant(grant, Snapshot(ours, first), refused, None)
    outcome = drive(flow, execute)
    assert outcome.snapshot.version == second
    assert outcome.snapshot.tokens.refresh_token == theirs.refresh_token
    assert writes == []
