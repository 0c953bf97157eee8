"""Bulk activities: ``client.activities`` (``Activities``/``AsyncActivities``) runs the
flows of ``ctct.api.activity_flows``. Methods that start jobs wait for them to end
unless ``wait=False``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any, cast

from ctct.api.activity_flows import (
    DEFAULT_TIMEOUT,
    FINAL_STATES,
    WRITE,
    Progress,
    csv_import_flow,
    delete_contacts_flow,
    export_file_flow,
    export_flow,
    get_flow,
    json_import_flow,
    membership_flow,
    wait_flow,
)
from ctct.api.errors import ActivityFailed
from ctct.api.flow import Json, get
from ctct.api.runner import MAX_PAGE, AsyncRunner, SyncRunner, aiter_items, clean_params, iter_items
from ctct.api.shapes import Activity


class Activities:
    """``client.activities``: bulk jobs. Methods that start jobs wait for them to end
    (``wait=False`` returns the activities as created)."""

    def __init__(self, runner: SyncRunner) -> None:
        self._r = runner

    def iter(self, state: str | None = None) -> Iterator[Activity]:
        """Activities of the past 10 days (optionally in one ``state``)."""
        call = get(
            "/activities",
            clean_params({"state": state, "limit": MAX_PAGE["activities"]}),
            requirement=WRITE,
        )
        return cast(Iterator[Activity], iter_items(self._r, call, "activities"))

    def get(self, activity_id: str) -> Activity:
        return cast(Activity, self._r.run(get_flow(self._r.policy, activity_id)))

    def wait(
        self,
        activity: Mapping[str, Any] | str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        check: bool = True,
    ) -> Activity:
        """Poll until the activity ends; ``ActivityFailed`` unless it completed (``check``)."""
        act = {"activity_id": activity} if isinstance(activity, str) else dict(activity)
        (done,) = self._r.run(
            wait_flow(
                self._r.policy, [act], interval=self._r.poll_interval, timeout=timeout, check=check
            )
        )
        return cast(Activity, done)

    def json_import(
        self,
        contacts: Sequence[Json],
        list_ids: Sequence[str],
        *,
        wait: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
        on_progress: Progress | None = None,
        check: bool = True,
    ) -> list[Activity]:
        """Import contacts (``{"email", "first_name", ...}``) into lists; one request per
        40,000 contacts or 4 MB."""
        return cast(
            list[Activity],
            self._r.run(
                json_import_flow(
                    self._r.policy,
                    contacts,
                    list_ids,
                    interval=self._r.poll_interval,
                    wait=wait,
                    timeout=timeout,
                    on_progress=on_progress,
                    check=check,
                )
            ),
        )

    def csv_import(
        self,
        data: str,
        list_ids: Sequence[str],
        *,
        file_name: str = "contacts.csv",
        wait: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
        on_progress: Progress | None = None,
    ) -> list[Activity]:
        """Import CSV text (multipart upload), split at CC's limits."""
        return cast(
            list[Activity],
            self._r.run(
                csv_import_flow(
                    self._r.policy,
                    data,
                    list_ids,
                    interval=self._r.poll_interval,
                    file_name=file_name,
                    wait=wait,
                    timeout=timeout,
                    on_progress=on_progress,
                )
            ),
        )

    def add_list_memberships(
        self,
        list_ids: Sequence[str],
        *,
        contact_ids: Sequence[str] | None = None,
        source: Json | None = None,
        wait: bool = True,
    ) -> list[Activity]:
        """Add contacts (``contact_ids``, or any CC ``source``) to lists."""
        src = source if source is not None else {"contact_ids": list(contact_ids or [])}
        return cast(
            list[Activity],
            self._r.run(
                membership_flow(
                    self._r.policy,
                    "add_list_memberships",
                    list_ids,
                    src,
                    interval=self._r.poll_interval,
                    wait=wait,
                )
            ),
        )

    def remove_list_memberships(
        self,
        list_ids: Sequence[str],
        *,
        contact_ids: Sequence[str] | None = None,
        source: Json | None = None,
        wait: bool = True,
    ) -> list[Activity]:
        src = source if source is not None else {"contact_ids": list(contact_ids or [])}
        return cast(
            list[Activity],
            self._r.run(
                membership_flow(
                    self._r.policy,
                    "remove_list_memberships",
                    list_ids,
                    src,
                    interval=self._r.poll_interval,
                    wait=wait,
                )
            ),
        )

    def delete_contacts(
        self, *, contact_ids: Sequence[str] = (), list_ids: Sequence[str] = (), wait: bool = True
    ) -> list[Activity]:
        return cast(
            list[Activity],
            self._r.run(
                delete_contacts_flow(
                    self._r.policy,
                    contact_ids=contact_ids,
                    list_ids=list_ids,
                    interval=self._r.poll_interval,
                    wait=wait,
                )
            ),
        )

    def export_contacts(
        self,
        body: Json | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        on_progress: Progress | None = None,
    ) -> str:
        """Export contacts (filters per ``ContactsExport``) and return the CSV text."""
        return self._r.run(
            export_flow(
                self._r.policy,
                body or {},
                interval=self._r.poll_interval,
                timeout=timeout,
                on_progress=on_progress,
            )
        )

    def export_file(self, activity: Mapping[str, Any]) -> str:
        return self._r.run(export_file_flow(self._r.policy, dict(activity)))


class AsyncActivities:
    """The same operations as ``Activities``, awaited."""

    def __init__(self, runner: AsyncRunner) -> None:
        self._r = runner

    def iter(self, state: str | None = None) -> AsyncIterator[Activity]:
        call = get(
            "/activities",
            clean_params({"state": state, "limit": MAX_PAGE["activities"]}),
            requirement=WRITE,
        )
        return cast(AsyncIterator[Activity], aiter_items(self._r, call, "activities"))

    async def get(self, activity_id: str) -> Activity:
        return cast(Activity, await self._r.run(get_flow(self._r.policy, activity_id)))

    async def wait(
        self,
        activity: Mapping[str, Any] | str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        check: bool = True,
    ) -> Activity:
        act = {"activity_id": activity} if isinstance(activity, str) else dict(activity)
        (done,) = await self._r.run(
            wait_flow(
                self._r.policy, [act], interval=self._r.poll_interval, timeout=timeout, check=check
            )
        )
        return cast(Activity, done)

    async def json_import(
        self,
        contacts: Sequence[Json],
        list_ids: Sequence[str],
        *,
        wait: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
        on_progress: Progress | None = None,
        check: bool = True,
    ) -> list[Activity]:
        return cast(
            list[Activity],
            await self._r.run(
                json_import_flow(
                    self._r.policy,
                    contacts,
                    list_ids,
                    interval=self._r.poll_interval,
                    wait=wait,
                    timeout=timeout,
                    on_progress=on_progress,
                    check=check,
                )
            ),
        )

    async def csv_import(
        self,
        data: str,
        list_ids: Sequence[str],
        *,
        file_name: str = "contacts.csv",
        wait: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
        on_progress: Progress | None = None,
    ) -> list[Activity]:
        return cast(
            list[Activity],
            await self._r.run(
                csv_import_flow(
                    self._r.policy,
                    data,
                    list_ids,
                    interval=self._r.poll_interval,
                    file_name=file_name,
                    wait=wait,
                    timeout=timeout,
                    on_progress=on_progress,
                )
            ),
        )

    async def add_list_memberships(
        self,
        list_ids: Sequence[str],
        *,
        contact_ids: Sequence[str] | None = None,
        source: Json | None = None,
        wait: bool = True,
    ) -> list[Activity]:
        src = source if source is not None else {"contact_ids": list(contact_ids or [])}
        return cast(
            list[Activity],
            await self._r.run(
                membership_flow(
                    self._r.policy,
                    "add_list_memberships",
                    list_ids,
                    src,
                    interval=self._r.poll_interval,
                    wait=wait,
                )
            ),
        )

    async def remove_list_memberships(
        self,
        list_ids: Sequence[str],
        *,
        contact_ids: Sequence[str] | None = None,
        source: Json | None = None,
        wait: bool = True,
    ) -> list[Activity]:
        src = source if source is not None else {"contact_ids": list(contact_ids or [])}
        return cast(
            list[Activity],
            await self._r.run(
                membership_flow(
                    self._r.policy,
                    "remove_list_memberships",
                    list_ids,
                    src,
                    interval=self._r.poll_interval,
                    wait=wait,
                )
            ),
        )

    async def delete_contacts(
        self, *, contact_ids: Sequence[str] = (), list_ids: Sequence[str] = (), wait: bool = True
    ) -> list[Activity]:
        return cast(
            list[Activity],
            await self._r.run(
                delete_contacts_flow(
                    self._r.policy,
                    contact_ids=contact_ids,
                    list_ids=list_ids,
                    interval=self._r.poll_interval,
                    wait=wait,
                )
            ),
        )

    async def export_contacts(
        self,
        body: Json | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        on_progress: Progress | None = None,
    ) -> str:
        return await self._r.run(
            export_flow(
                self._r.policy,
                body or {},
                interval=self._r.poll_interval,
                timeout=timeout,
                on_progress=on_progress,
            )
        )

    async def export_file(self, activity: Mapping[str, Any]) -> str:
        return await self._r.run(export_file_flow(self._r.policy, dict(activity)))


__all__ = ["FINAL_STATES", "Activities", "ActivityFailed", "AsyncActivities", "Progress"]
