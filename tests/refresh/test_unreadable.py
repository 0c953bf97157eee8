"""A record this process cannot read (sealed with a key it does not have) is replaced by
a new grant only when the person agreed (``TokenManager.replace_unreadable``)."""

from __future__ import annotations

import pytest

from ctct.stores import RecordUnreadable, generate_key, open_store, static_keys
from tests.refresh.conftest import Env


def test_a_login_replaces_an_unreadable_record_only_when_allowed(env: Env) -> None:
    lost = static_keys(generate_key())
    with env.manager() as manager:
        first = env.login(manager)
        record = manager.store.load(manager.key)
        assert record is not None
        with open_store(env.store_url, key_provider=lost) as keyed:  # the key then lost
            keyed.save(manager.key, first.to_json(), expected_version=record.version)
        with pytest.raises(RecordUnreadable, match="ctct auth login --force"):
            manager.tokens()
        # safety: src/ctct/_manager.py: raise unreadable from None  # never without the person's yes
        with pytest.raises(RecordUnreadable):
            manager.save(first)
        with open_store(env.store_url, key_provider=lost) as keyed:
            assert keyed.load(manager.key) is not None  # still there, still sealed
        manager.replace_unreadable = True
        second = env.login(manager)
        stored = manager.tokens()
        assert stored is not None and stored.refresh_token == second.refresh_token
