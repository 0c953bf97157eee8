"""The flows of bulk activities (pure; see ``ctct.api.flow``): imports (JSON and CSV),
list memberships, contact deletes and exports, each an asynchronous job polled at
``GET /activities/{id}`` until it ends. Work over CC's limits is split
(``ctct.api.bulk``) and all requests of a job are sent before any polling, so CC
processes them side by side. ``ctct.api.activities`` runs them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from urllib.parse import quote

from ctct._redact import server_text
from ctct._wording import duration
from ctct.api import bulk
from ctct.api.errors import ActivityFailed, InputError, Requirement
from ctct.api.flow import (
    Call,
    Flow,
    Json,
    Now,
    Require,
    Sleep,
    call_flow,
    get,
    object_flow,
    with_body,
)
from ctct.api.retry import RetryPolicy

WRITE = Requirement(("contact_data",), "contacts:write")
FINAL_STATES = frozenset({"completed", "failed", "cancelled", "timed_out"})
DEFAULT_TIMEOUT = 3_600.0

Progress = Callable[[str, int, int], None]
"""``on_progress(phase, done, total)``; phases: ``"upload"`` (contacts sent) and
``"processing"`` (contacts processed, from the activities' ``percent_done``)."""


_POLL = ("GET", "/activities/{activity_id}")


def _require(path: str) -> Require:
    """A bulk job's scopes, checked before its first row: the POST and the polling."""
    return Require((("POST", path), _POLL))


def _activity_path(activity_id: str) -> str:
    return f"/activities/{quote(activity_id, safe='')}"


def get_flow(policy: RetryPolicy, activity_id: str) -> Flow[Json]:
    return object_flow(get(_activity_path(activity_id), requirement=WRITE), policy)


def post_flow(policy: RetryPolicy, path: str, body: Json) -> Flow[Json]:
    return object_flow(with_body("POST", path, body, requirement=WRITE), policy)


def wait_flow(
    policy: RetryPolicy,
    activities: Sequence[Json],
    *,
    interval: float,
    timeout: float = DEFAULT_TIMEOUT,
    weights: Sequence[int] | None = None,
    on_progress: Progress | None = None,
    check: bool = True,
) -> Flow[list[Json]]:
    """Poll each activity until it reaches a final state; return their final states.

    ``weights`` (e.g. contacts per import request) turn ``percent_done`` into progress.
    With ``check``, an activity that ended other than ``completed`` raises
    ``ActivityFailed``."""
    current = list(activities)
    for i, activity in enumerate(current):
        if "state" not in activity:  # given by id only: read it before waiting
            current[i] = yield from get_flow(policy, str(activity["activity_id"]))
    sizes = list(weights) if weights is not None else [100] * len(current)
    total = sum(sizes)
    start: float = yield Now()
    while True:
        pending = [i for i, a in enumerate(current) if a.get("state") not in FINAL_STATES]
        if on_progress is not None:
            done = sum(
                size if a.get("state") in FINAL_STATES else size * _percent(a) // 100
                for a, size in zip(current, sizes, strict=True)
            )
            on_progress("processing", done, total)
        if not pending:
            break
        now: float = yield Now()
        if now - start > timeout:
            late = current[pending[0]]
            late_id = server_text(str(late.get("activity_id")), limit=100)
            raise ActivityFailed(
                f"Activity {late_id} is still {late.get('state')!r} after "
                f"{duration(timeout)}; check it later with `ctct api GET /activities/{late_id}`.",
                activity=late,
            )
        yield Sleep(interval)
        for i in pending:
            current[i] = yield from get_flow(policy, str(current[i]["activity_id"]))
    if check:
        for activity in current:
            if activity.get("state") != "completed":
                errors = server_text(
                    "; ".join(str(e) for e in activity.get("activity_errors") or []), limit=500
                )
                raise ActivityFailed(
                    f"Activity {server_text(str(activity.get('activity_id')), limit=100)} ended "
                    f"{activity.get('state')!r}" + (f": {errors}" if errors else "."),
                    activity=activity,
                )
    return current


def _percent(activity: Json) -> int:
    value = activity.get("percent_done")
    return max(0, min(100, value)) if isinstance(value, int) else 0


def json_import_flow(
    policy: RetryPolicy,
    contacts: Sequence[Json],
    list_ids: Sequence[str],
    *,
    interval: float,
    wait: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    on_progress: Progress | None = None,
    check: bool = True,
) -> Flow[list[Json]]:
    """Import ``contacts`` (``JsonImportContact`` dicts) into ``list_ids``, split at CC's
        limits; with ``wait``, poll until every request's activity has ended (``check``:
    raise ``ActivityFailed`` unless each completed)."""
    yield _require("/activities/contacts_json_import")
    activities: list[Json] = []
    weights: list[int] = []
    sent = 0
    for chunk in bulk.json_import_chunks(contacts, list_ids):
        call = Call(
            "POST",
            "/activities/contacts_json_import",
            content=chunk.body,
            content_type="application/json",
            requirement=WRITE,
        )
        activities.append((yield from object_flow(call, policy)))
        weights.append(chunk.count)
        sent += chunk.count
        if on_progress is not None:
            on_progress("upload", sent, len(contacts))
    if not wait:
        return activities
    return (
        yield from wait_flow(
            policy,
            activities,
            interval=interval,
            timeout=timeout,
            weights=weights,
            on_progress=on_progress,
            check=check,
        )
    )


def csv_import_flow(
    policy: RetryPolicy,
    data: str,
    list_ids: Sequence[str],
    *,
    interval: float,
    file_name: str = "contacts.csv",
    wait: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    on_progress: Progress | None = None,
) -> Flow[list[Json]]:
    """Import a CSV (header with ``email``) as multipart uploads split at CC's limits.
    The multipart Content-Type (with its boundary) is left to the HTTP client."""
    if not list_ids:
        raise InputError("A CSV import needs at least one list id.")
    yield _require("/activities/contacts_file_import")
    activities: list[Json] = []
    weights: list[int] = []
    for piece, rows in bulk.csv_chunks(data):
        call = Call(
            "POST",
            "/activities/contacts_file_import",
            files={"file": (file_name, piece, "text/csv")},
            data={"list_ids": ",".join(list_ids)},
            requirement=WRITE,
        )
        activities.append((yield from object_flow(call, policy)))
        weights.append(rows)
        if on_progress is not None:
            on_progress("upload", sum(weights), -1)
    if not wait:
        return activities
    return (
        yield from wait_flow(
            policy,
            activities,
            interval=interval,
            timeout=timeout,
            weights=weights,
            on_progress=on_progress,
        )
    )


def membership_flow(
    policy: RetryPolicy,
    action: str,
    list_ids: Sequence[str],
    source: Json,
    *,
    interval: float,
    wait: bool,
) -> Flow[list[Json]]:
    """``add_list_memberships``/``remove_list_memberships``; ``source.contact_ids`` is
    split into batches of 500."""
    path = f"/activities/{action}"
    yield _require(path)
    bodies: list[Json]
    ids = source.get("contact_ids")
    if isinstance(ids, list):
        bodies = [
            {"source": {**source, "contact_ids": batch}, "list_ids": list(list_ids)}
            for batch in bulk.id_batches(ids)
        ]
    else:
        bodies = [{"source": source, "list_ids": list(list_ids)}]
    activities = []
    for body in bodies:
        activities.append((yield from post_flow(policy, path, body)))
    if not wait:
        return activities
    return (yield from wait_flow(policy, activities, interval=interval))


def delete_contacts_flow(
    policy: RetryPolicy,
    *,
    contact_ids: Sequence[str] = (),
    list_ids: Sequence[str] = (),
    interval: float,
    wait: bool,
) -> Flow[list[Json]]:
    if bool(contact_ids) == bool(list_ids):
        raise InputError("Delete contacts by contact_ids or by list_ids (one of them).")
    yield _require("/activities/contact_delete")
    bodies = (
        [{"contact_ids": b} for b in bulk.id_batches(contact_ids)]
        if contact_ids
        else [{"list_ids": list(list_ids)}]
    )
    activities = []
    for body in bodies:
        activities.append((yield from post_flow(policy, "/activities/contact_delete", body)))
    if not wait:
        return activities
    return (yield from wait_flow(policy, activities, interval=interval))


def export_flow(
    policy: RetryPolicy,
    body: Json,
    *,
    interval: float,
    timeout: float = DEFAULT_TIMEOUT,
    on_progress: Progress | None = None,
) -> Flow[str]:
    """Export contacts (``ContactsExport`` filters), wait, and return the CSV text."""
    yield _require("/activities/contact_exports")
    activity = yield from post_flow(policy, "/activities/contact_exports", body)
    (done,) = yield from wait_flow(
        policy, [activity], interval=interval, timeout=timeout, on_progress=on_progress
    )
    return (yield from export_file_flow(policy, done))


def export_file_flow(policy: RetryPolicy, activity: Json) -> Flow[str]:
    """The CSV file of a completed export activity (its ``_links.results.href``)."""
    links = activity.get("_links") or {}
    results = links.get("results") if isinstance(links, dict) else None
    href = results.get("href") if isinstance(results, dict) else None
    if not isinstance(href, str) or not href:
        raise ActivityFailed(
            f"Export activity {server_text(str(activity.get('activity_id')), limit=100)} has no "
            "results link "
            f"(state {activity.get('state')!r}).",
            activity=activity,
        )
    response = yield from call_flow(get(href, accept="text/csv", requirement=WRITE), policy)
    return response.text
