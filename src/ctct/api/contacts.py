"""Contacts: list with filters, get, create, update, delete, and create-or-update by
email through ``POST /contacts/sign_up_form``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, cast
from urllib.parse import quote

from ctct.api.errors import Requirement
from ctct.api.flow import Call, Flow, Json, call_flow, get, object_flow, parse_json, with_body
from ctct.api.retry import RetryPolicy
from ctct.api.runner import MAX_PAGE, AsyncRunner, SyncRunner, aiter_items, clean_params, iter_items
from ctct.api.shapes import Contact, SignUpResult

READ = Requirement(("contact_data",), "contacts:read")
WRITE = Requirement(("contact_data",), "contacts:write")


def _path(contact_id: str) -> str:
    return f"/contacts/{quote(contact_id, safe='')}"


def list_call(
    *,
    status: str | Sequence[str] | None = None,
    email: str | None = None,
    lists: Sequence[str] = (),
    tags: Sequence[str] = (),
    include: Sequence[str] = (),
    include_count: bool | None = None,
    limit: int = MAX_PAGE["contacts"],
    **filters: str,
) -> Call:
    """``GET /contacts``; ``filters`` are further query parameters (``updated_after``...)."""
    params = clean_params(
        {
            "status": [status] if isinstance(status, str) else status,
            "email": email,
            "lists": list(lists),
            "tags": list(tags),
            "include": list(include),
            "include_count": include_count,
            "limit": limit,
            **filters,
        }
    )
    return get("/contacts", params, requirement=READ)


def get_flow(policy: RetryPolicy, contact_id: str, include: Sequence[str] = ()) -> Flow[Contact]:
    params = clean_params({"include": list(include)})
    call = get(_path(contact_id), params, requirement=READ)
    return cast(Flow[Contact], object_flow(call, policy))


def create_flow(policy: RetryPolicy, body: Json) -> Flow[Contact]:
    body = {"create_source": "Account", **body}
    call = with_body("POST", "/contacts", body, requirement=WRITE)
    return cast(Flow[Contact], object_flow(call, policy))


def update_flow(policy: RetryPolicy, contact_id: str, body: Json) -> Flow[Contact]:
    body = {"update_source": "Account", **body}
    call = with_body("PUT", _path(contact_id), body, requirement=WRITE)
    return cast(Flow[Contact], object_flow(call, policy))


def delete_flow(policy: RetryPolicy, contact_id: str) -> Flow[None]:
    yield from call_flow(Call("DELETE", _path(contact_id), requirement=WRITE), policy)


def sign_up_flow(
    policy: RetryPolicy, email: str, list_ids: Sequence[str], fields: Json
) -> Flow[SignUpResult]:
    body = {"email_address": email, "list_memberships": list(list_ids), **fields}
    call = with_body("POST", "/contacts/sign_up_form", body, requirement=WRITE)
    response = yield from call_flow(call, policy)
    result = parse_json(response)
    out: Json = dict(result) if isinstance(result, dict) else {}
    out.setdefault("created", response.status_code == 201)
    return cast(SignUpResult, out)


def count_flow(policy: RetryPolicy, status: str | None = None) -> Flow[int]:
    call = list_call(status=status, include_count=True, limit=1)
    body = yield from object_flow(call, policy)
    count = body.get("contacts_count")
    return int(count) if isinstance(count, int) else len(body.get("contacts") or [])


def find_flow(policy: RetryPolicy, email: str, status: str = "all") -> Flow[Contact | None]:
    body = yield from object_flow(list_call(email=email, status=status, limit=1), policy)
    found = body.get("contacts") or []
    return cast(Contact, found[0]) if found and isinstance(found[0], dict) else None


class Contacts:
    """``client.contacts``."""

    def __init__(self, runner: SyncRunner) -> None:
        self._r = runner

    def iter(self, **query: Any) -> Iterator[Contact]:
        """Every contact matching the filters, following ``_links.next.href``.

        Filters: ``status`` ("all", "active", "deleted", ...), ``email``, ``lists`` and
        ``tags`` (ids), ``include`` (sub-resources), ``updated_after``... ``limit`` is
        the page size (500 by default, CC's maximum)."""
        return cast(Iterator[Contact], iter_items(self._r, list_call(**query), "contacts"))

    def get(self, contact_id: str, include: Sequence[str] = ()) -> Contact:
        return self._r.run(get_flow(self._r.policy, contact_id, include))

    def create(self, body: Json) -> Contact:
        """``POST /contacts`` (``create_source`` defaults to "Account"); 409 if the email exists."""
        return self._r.run(create_flow(self._r.policy, body))

    def update(self, contact_id: str, body: Json) -> Contact:
        """``PUT /contacts/{id}``: replaces top-level fields (omitted ones become null)."""
        return self._r.run(update_flow(self._r.policy, contact_id, body))

    def delete(self, contact_id: str) -> None:
        self._r.run(delete_flow(self._r.policy, contact_id))

    def create_or_update(self, email: str, list_ids: Sequence[str], **fields: Any) -> SignUpResult:
        """``POST /contacts/sign_up_form``: ``{"contact_id", "action", "created"}``."""
        return self._r.run(sign_up_flow(self._r.policy, email, list_ids, fields))

    def count(self, status: str | None = None) -> int:
        """How many contacts (``include_count``), in one request."""
        return self._r.run(count_flow(self._r.policy, status))

    def find(self, email: str, status: str = "all") -> Contact | None:
        """The contact with this email address, or None."""
        return self._r.run(find_flow(self._r.policy, email, status))


class AsyncContacts:
    """``async_client.contacts``: the same operations as ``Contacts``, awaited."""

    def __init__(self, runner: AsyncRunner) -> None:
        self._r = runner

    def iter(self, **query: Any) -> AsyncIterator[Contact]:
        items = aiter_items(self._r, list_call(**query), "contacts")
        return cast(AsyncIterator[Contact], items)

    async def get(self, contact_id: str, include: Sequence[str] = ()) -> Contact:
        return await self._r.run(get_flow(self._r.policy, contact_id, include))

    async def create(self, body: Json) -> Contact:
        return await self._r.run(create_flow(self._r.policy, body))

    async def update(self, contact_id: str, body: Json) -> Contact:
        return await self._r.run(update_flow(self._r.policy, contact_id, body))

    async def delete(self, contact_id: str) -> None:
        await self._r.run(delete_flow(self._r.policy, contact_id))

    async def create_or_update(
        self, email: str, list_ids: Sequence[str], **fields: Any
    ) -> SignUpResult:
        return await self._r.run(sign_up_flow(self._r.policy, email, list_ids, fields))

    async def count(self, status: str | None = None) -> int:
        return await self._r.run(count_flow(self._r.policy, status))

    async def find(self, email: str, status: str = "all") -> Contact | None:
        return await self._r.run(find_flow(self._r.policy, email, status))
