"""Reading simulated tracking for the reports: every report is a query over the same
``tracking_events`` as of one moment, which is why they all agree.

Counting rules (CC's, from its contract):

- ``unique`` counts are distinct contacts; ``*_all`` counts are every event;
- a campaign counts distinct contacts over all its email activities (primary email and
  resend), an activity only its own;
- not opened = sends - opens - bounces (never below 0), which is exactly the contacts
  sent the email that have neither opened nor bounced: the did-not-opens report.

Pages run newest first (by event time, then insertion); a cursor remembers the moment
the walk began (``as_of``), so activity arriving meanwhile does not shift it.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from ctct.emulator.db import Database

BOUNCE_KEYS: Final = {
    "Z": "em_bounces_blocked",
    "F": "em_bounces_mailbox_full",
    "B": "em_bounces_nonexistent_address",
    "X": "em_bounces_other",
    "S": "em_bounces_suspended",
    "D": "em_bounces_undeliverable",
    "V": "em_bounces_vacation",
}
DEVICES: Final = ("computer", "mobile", "tablet", "other")

# Contact columns a tracking row shows (names and deletion as they are now).
_CONTACT_COLUMNS: Final = (
    "json_extract(c.data, '$.first_name') AS first_name, "
    "json_extract(c.data, '$.last_name') AS last_name, "
    "json_extract(c.data, '$.email_address.address') AS current_email, "
    "c.deleted_at AS deleted_at"
)


@dataclass(frozen=True)
class Position:
    """Where a page walk is: the moment it began and the last row it showed."""

    as_of: float
    at: float | None = None
    seq: int = 0


@dataclass
class Counts:
    """Counts of one activity or campaign as of a moment."""

    unique: Counter[str] = field(default_factory=Counter)
    total: Counter[str] = field(default_factory=Counter)
    devices: Counter[tuple[str, str]] = field(default_factory=Counter)
    bounce_codes: Counter[str] = field(default_factory=Counter)

    @property
    def not_opened(self) -> int:
        u = self.unique
        return max(0, u["em_sends"] - u["em_opens"] - u["em_bounces"])


def _marks(items: Sequence[object]) -> str:
    return ",".join("?" * len(items))


class ReportStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- counts ------------------------------------------------------------------------

    def counts(self, activity_ids: Sequence[str], as_of: float) -> Counts:
        """Counts over ``activity_ids`` (one activity, or all of a campaign's)."""
        result = Counts()
        if not activity_ids:
            return result
        where = f"activity_id IN ({_marks(activity_ids)}) AND at <= ?"
        params = [*activity_ids, as_of]
        for row in self.db.query(
            "SELECT kind, COUNT(*) AS total, COUNT(DISTINCT contact_id) AS uniq "  # noqa: S608
            f"FROM tracking_events WHERE {where} GROUP BY kind",
            params,
        ):
            result.total[row["kind"]] = row["total"]
            result.unique[row["kind"]] = row["uniq"]
        for row in self.db.query(
            "SELECT kind, device, COUNT(*) AS n FROM tracking_events "  # noqa: S608
            f"WHERE {where} AND device IS NOT NULL GROUP BY kind, device",
            params,
        ):
            result.devices[(row["kind"], row["device"])] = row["n"]
        for row in self.db.query(
            "SELECT code, COUNT(DISTINCT contact_id) AS n FROM tracking_events "  # noqa: S608
            f"WHERE {where} AND kind = 'em_bounces' GROUP BY code",
            params,
        ):
            result.bounce_codes[row["code"]] = row["n"]
        return result

    def email_activity_ids(self, campaign_id: str) -> list[str]:
        """The campaign's activities that are sent: primary email and resend."""
        rows = self.db.query(
            "SELECT campaign_activity_id FROM email_activities WHERE campaign_id = ? "
            "AND role IN ('primary_email', 'resend')",
            (campaign_id,),
        )
        return [r["campaign_activity_id"] for r in rows]

    def last_sent(self, activity_ids: Sequence[str], as_of: float) -> float | None:
        if not activity_ids:
            return None
        row = self.db.query_one(
            f"SELECT MAX(run_date) FROM tracking_sends WHERE activity_id IN "  # noqa: S608
            f"({_marks(activity_ids)}) AND run_date <= ?",
            [*activity_ids, as_of],
        )
        return None if row is None or row[0] is None else float(row[0])

    def sent_campaigns(
        self, account_id: str, position: Position, limit: int
    ) -> tuple[list[sqlite3.Row], bool]:
        """Email campaigns sent by ``as_of``, last sent first (``at``/``seq`` of the
        position: the last row's send date and campaign ``seq``)."""
        having = ""
        params: list[Any] = [account_id, position.as_of]
        if position.at is not None:
            having = "HAVING last_sent < ? OR (last_sent = ? AND c.seq < ?)"
            params += [position.at, position.at, position.seq]
        rows = self.db.query(
            "SELECT s.campaign_id, MAX(s.run_date) AS last_sent, c.seq, c.format_type "  # noqa: S608
            "FROM tracking_sends s JOIN email_campaigns c ON c.campaign_id = s.campaign_id "
            f"WHERE s.account_id = ? AND s.run_date <= ? GROUP BY s.campaign_id {having} "
            "ORDER BY last_sent DESC, c.seq DESC LIMIT ?",
            [*params, limit + 1],
        )
        return rows[:limit], len(rows) > limit

    def link_clicks(self, activity_id: str, as_of: float) -> dict[str, int]:
        rows = self.db.query(
            "SELECT url_id, COUNT(DISTINCT contact_id) AS n FROM tracking_events "
            "WHERE activity_id = ? AND kind = 'em_clicks' AND at <= ? GROUP BY url_id",
            (activity_id, as_of),
        )
        return {r["url_id"]: r["n"] for r in rows}

    # -- pages of events ---------------------------------------------------------------

    def events(
        self,
        position: Position,
        limit: int,
        where: str,
        params: Sequence[Any],
        unique_by: tuple[str, ...] = (),
    ) -> tuple[list[sqlite3.Row], bool]:
        """Events matching ``where`` (on ``e``, the event), newest first, as of the
        position; ``unique_by``: only the latest event per those columns (``contact_id``,
        ``url_id``), as the "unique" reports list them."""
        clauses = [f"({where})", "e.at <= ?"]
        values: list[Any] = [*params, position.as_of]
        if unique_by:
            same = " AND ".join(f"l.{column} IS e.{column}" for column in unique_by)
            clauses.append(
                "NOT EXISTS (SELECT 1 FROM tracking_events l WHERE "  # noqa: S608 - our columns
                f"l.activity_id = e.activity_id AND l.kind = e.kind AND {same} AND l.at <= ? "
                "AND (l.at > e.at OR (l.at = e.at AND l.seq > e.seq)))"
            )
            values.append(position.as_of)
        if position.at is not None:
            clauses.append("(e.at < ? OR (e.at = ? AND e.seq < ?))")
            values += [position.at, position.at, position.seq]
        rows = self.db.query(
            f"SELECT e.*, {_CONTACT_COLUMNS}, "  # noqa: S608
            "COALESCE(ec.name, lp.name) AS campaign_name "
            "FROM tracking_events e LEFT JOIN contacts c ON c.contact_id = e.contact_id "
            "LEFT JOIN email_campaigns ec ON ec.campaign_id = e.campaign_id "
            "LEFT JOIN landing_pages lp ON lp.campaign_id = e.campaign_id "
            f"WHERE {' AND '.join(clauses)} ORDER BY e.at DESC, e.seq DESC LIMIT ?",
            [*values, limit + 1],
        )
        return rows[:limit], len(rows) > limit

    @staticmethod
    def did_not_open(activity_id: str, as_of: float) -> tuple[str, list[Any]]:
        """The ``where`` of the did-not-opens report: sends to contacts that have
        neither opened nor bounced (as of ``as_of``)."""
        return (
            "e.activity_id = ? AND e.kind = 'em_sends' AND NOT EXISTS (SELECT 1 FROM "
            "tracking_events o WHERE o.activity_id = e.activity_id AND o.contact_id = "
            "e.contact_id AND o.kind IN ('em_opens', 'em_bounces') AND o.at <= ?)",
            [activity_id, as_of],
        )

    # -- per contact -------------------------------------------------------------------

    def contact_activities(
        self, contact_id: str, start: float, end: float, as_of: float, limit: int
    ) -> list[sqlite3.Row]:
        """Per email activity sent to the contact from ``start`` to ``end``: the last
        send time and how many of each event; last sent first."""
        return self.db.query(
            "SELECT activity_id, MAX(CASE WHEN kind = 'em_sends' THEN at END) AS start_on, "
            "SUM(kind = 'em_sends') AS em_sends, SUM(kind = 'em_opens') AS em_opens, "
            "SUM(kind = 'em_clicks') AS em_clicks, SUM(kind = 'em_bounces') AS em_bounces, "
            "SUM(kind = 'em_forwards') AS em_forwards, "
            "SUM(kind = 'em_optouts') AS em_unsubscribes "
            "FROM tracking_events WHERE contact_id = ? AND at <= ? AND kind LIKE 'em\\_%' "
            "ESCAPE '\\' GROUP BY activity_id "
            "HAVING start_on IS NOT NULL AND start_on >= ? AND start_on <= ? "
            "ORDER BY start_on DESC, activity_id LIMIT ?",
            (contact_id, as_of, start, end, limit),
        )
