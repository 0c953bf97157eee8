"""Whether a keeper looks after a store's grants, so workers can skip their own timers.

A running keeper fleet always has one replica holding the planner lease (renewed every
tick), so the lease itself is the flag: if it cannot be taken at once, a keeper is
there. Taking it when no keeper runs costs one lease round trip and is released at once.
"""

from __future__ import annotations

from ctct.stores import GrantKey, Store
from ctct.stores.base import StoreLockTimeout

PLANNER_KEY = GrantKey("keeper", "ctct:keeper", "planner")


def keeper_present(store: Store) -> bool:
    try:
        lease = store.lease(PLANNER_KEY, duration=1.0, timeout=0)
    except StoreLockTimeout:
        return True
    lease.release()
    return False
