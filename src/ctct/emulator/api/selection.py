"""Which contacts a bulk activity acts on (``source`` of list-membership activities, the
filters of ``contact_delete`` and ``contact_exports``), and walking them in chunks.

A ``Selection`` is kept in the activity's payload (JSON) and turned into SQL over the
``contacts`` table; jobs walk it by ``seq`` (``position`` is the last ``seq`` done), so a
chunk never sees a contact twice even while the job changes the contacts it walks.
Deleted contacts are left out unless the statuses ask for them.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from ctct.emulator.api import errors
from ctct.emulator.api.contact_input import is_uuid

AREA: Final = "activities"


@dataclass(frozen=True)
class Selection:
    contact_ids: tuple[str, ...] = ()
    list_ids: tuple[str, ...] = ()
    tag_ids: tuple[str, ...] = ()
    all_active: bool = False
    statuses: tuple[str, ...] = ()  # empty: every status but deleted; ("all",): all
    exclude: tuple[str, ...] = ()
    created_after: float | None = None
    # A segment's criteria, compiled (over ``contacts c``) when the activity was requested.
    segment_sql: str = ""
    segment_params: tuple[Any, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Selection:
        values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
        return cls(**values)

    def where(self, account_id: str) -> tuple[str, list[Any]]:
        """SQL over ``contacts c`` and its parameters."""
        clauses: list[str] = ["c.account_id = ?"]
        params: list[Any] = [account_id]

        def among(column: str, values: tuple[str, ...], negate: bool = False) -> None:
            marks = ",".join("?" * len(values))
            clauses.append(f"{column} {'NOT IN' if negate else 'IN'} ({marks})")
            params.extend(values)

        if self.contact_ids:
            among("c.contact_id", self.contact_ids)
        if self.list_ids:
            marks = ",".join("?" * len(self.list_ids))
            clauses.append(
                "c.contact_id IN (SELECT contact_id FROM list_memberships "  # noqa: S608
                f"WHERE list_id IN ({marks}))"
            )
            params.extend(self.list_ids)
        if self.tag_ids:
            marks = ",".join("?" * len(self.tag_ids))
            clauses.append(
                "EXISTS (SELECT 1 FROM json_each(c.data, '$.taggings') j "  # noqa: S608
                f"WHERE j.value IN ({marks}))"
            )
            params.extend(self.tag_ids)
        if self.all_active:
            clauses.append("c.status = 'active'")
        if not self.statuses:
            clauses.append("c.status != 'deleted'")
        elif "all" not in self.statuses:
            among("c.status", self.statuses)
        if self.exclude:
            among("c.contact_id", self.exclude, negate=True)
        if self.created_after is not None:
            clauses.append("c.created_at > ?")
            params.append(self.created_after)
        if self.segment_sql:
            clauses.append(f"({self.segment_sql})")
            params.extend(self.segment_params)
        return " AND ".join(clauses), params

    def count(self, conn: sqlite3.Connection, account_id: str) -> int:
        where, params = self.where(account_id)
        row = conn.execute(f"SELECT COUNT(*) AS n FROM contacts c WHERE {where}", params)  # noqa: S608
        return int(row.fetchone()["n"])

    def chunk(
        self, conn: sqlite3.Connection, account_id: str, after: int, limit: int
    ) -> list[sqlite3.Row]:
        """Up to ``limit`` selected contacts (all columns) after ``seq`` ``after``."""
        where, params = self.where(account_id)
        return conn.execute(
            f"SELECT c.* FROM contacts c WHERE {where} AND c.seq > ? "  # noqa: S608
            "ORDER BY c.seq LIMIT ?",
            [*params, after, limit],
        ).fetchall()

    def unknown_contacts(self, conn: sqlite3.Connection, account_id: str) -> list[str]:
        """``contact_ids`` that are not contacts of the account."""
        if not self.contact_ids:
            return []
        marks = ",".join("?" * len(self.contact_ids))
        found = {
            r["contact_id"]
            for r in conn.execute(
                f"SELECT contact_id FROM contacts WHERE account_id = ? "  # noqa: S608
                f"AND contact_id IN ({marks})",
                (account_id, *self.contact_ids),
            )
        }
        return [i for i in self.contact_ids if i not in found]


@dataclass
class IdProblems:
    """Collects problems of id arrays in a request body."""

    messages: list[str] = field(default_factory=list)

    def ids(self, raw: object, name: str, maximum: int, what: str) -> tuple[str, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list) or not 1 <= len(raw) <= maximum:
            self.messages.append(f"{name} must be an array of 1 to {maximum} {what} ids.")
            return ()
        bad = [i for i in raw if not is_uuid(i)]
        if bad:
            self.messages.append(f"{name} items must be {what} ids (UUIDs); got {bad[0]!r}.")
            return ()
        return tuple(dict.fromkeys(str(i).lower() for i in raw))

    def raise_any(self) -> None:
        if self.messages:
            raise errors.validation(AREA, *self.messages)
