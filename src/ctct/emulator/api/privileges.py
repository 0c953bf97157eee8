"""User privileges by role (spec section 5, CC's "User Privileges and Roles").

Privilege names are the ones CC's contract lists in ``x-authorization-privileges``.
The ids are the emulator's own (stable, but CC's real numbers are not published).

Roles:
- ``account_owner``: everything.
- ``account_manager``: the full API except ``account:update`` - CC's scope table says
  updating account data also needs the account-owner role.
- ``campaign_creator``: campaigns, viewing lists and reading the account; no contacts and
  no reports.
"""

from __future__ import annotations

from typing import Final

PRIVILEGES: Final[tuple[tuple[int, str], ...]] = (
    (1, "account:read"),
    (2, "account:update"),
    (3, "contacts:read"),
    (4, "contacts:write"),
    (5, "contacts:lists:read"),
    (6, "contacts:lists:write"),
    (7, "campaign:read"),
    (8, "campaign:write"),
    (9, "campaign:delete"),
    (10, "campaign:send"),
    (11, "ui:campaign:metrics"),
    (12, "customer-journey:read"),
    (13, "customer-journey:create"),
    (14, "customer-journey:update"),
)

_ALL: Final = frozenset(name for _, name in PRIVILEGES)

ROLE_PRIVILEGES: Final[dict[str, frozenset[str]]] = {
    "account_owner": _ALL,
    "account_manager": _ALL - {"account:update"},
    "campaign_creator": frozenset(
        {
            "account:read",
            "contacts:lists:read",
            "campaign:read",
            "campaign:write",
            "campaign:delete",
            "campaign:send",
        }
    ),
}


def privileges_of(role: str) -> frozenset[str]:
    """The privilege names a user with ``role`` holds (none for an unknown role)."""
    return ROLE_PRIVILEGES.get(role, frozenset())


def privilege_resources(role: str) -> list[dict[str, object]]:
    """The body of ``GET /v3/account/user/privileges`` (``UserPrivilegesResource``)."""
    held = privileges_of(role)
    return [
        {"privilege_id": pid, "privilege_name": name} for pid, name in PRIVILEGES if name in held
    ]
