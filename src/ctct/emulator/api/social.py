"""Social: ``GET /v3/social/profiles``, ``GET /v3/social/connections``,
``GET /v3/social/hashtags/groups`` and ``POST /v3/social/posts``. Scope
``campaign_data``; privileges ``campaign:read`` / ``campaign:write``.

Connections, profiles and hashtag groups come from the control API's seed (see
``social_store``); an account starts with none. A post targets seeded profiles; it is
kept (there is no operation to read posts back) and answered with each profile's
campaign activity: ``DRAFT`` or ``SCHEDULED``, or ``ERROR`` for a scheduled post to a
profile that is not accessible (CC: such a post "will fail").
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import Response

from ctct.emulator.api import errors
from ctct.emulator.api.gateway import Caller, Operation, Resource, read_json
from ctct.emulator.api.isotime import format_datetime, parse_datetime
from ctct.emulator.api.params import whole_number
from ctct.emulator.api.social_store import AREA

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator

HASHTAG_PAGE_MAX: Final = 5  # the contract's default and maximum
MAX_TEXT: Final = 5_000  # not in the contract; the longest any network takes is far less
MAX_NAME: Final = 255
POST_STATUSES: Final = ("DRAFT", "SCHEDULED")
_SCOPE: Final = ("campaign_data",)


def resources(emu: Emulator) -> list[Resource]:
    store = emu.accounts.social

    async def profiles(request: Request, caller: Caller) -> Response:
        include = request.query_params.getlist("include")
        wanted = {part.strip() for value in include for part in value.split(",") if part.strip()}
        if wanted - {"accessible"}:
            raise errors.validation(AREA, "include takes only accessible.")
        bodies = []
        for profile in store.profiles(caller.account_id):
            body = dict(profile)
            if "accessible" not in wanted:
                body.pop("accessible")
            bodies.append(body)
        return errors.json_response(bodies)

    async def connections(request: Request, caller: Caller) -> Response:
        return errors.json_response({"connections": store.connections(caller.account_id)})

    async def hashtag_groups(request: Request, caller: Caller) -> Response:
        query = request.query_params
        limit = _integer(query.get("limit"), "limit", HASHTAG_PAGE_MAX, 1, HASHTAG_PAGE_MAX)
        page = _integer(query.get("page"), "page", 0, 0, 2**31 - 1)
        groups = store.hashtag_groups(caller.account_id)
        total_pages = -(-len(groups) // limit)
        links: dict[str, Any] = {}
        if page + 1 < total_pages:
            links["next"] = {"href": f"{request.url.path}?limit={limit}&page={page + 1}"}
        body = {
            "_links": links,
            "hashtag_groups": groups[page * limit : (page + 1) * limit],
            "page": {
                "page": page,
                "size": limit,
                "total_elements": len(groups),
                "total_pages": total_pages,
            },
        }
        return errors.json_response(body)

    async def create_post(request: Request, caller: Caller) -> Response:
        known = {p["profile_id"]: p for p in store.profiles(caller.account_id)}
        post = _post(await read_json(request, AREA), known, emu.clock.now())
        store.add_post(caller.account_id, post)
        return errors.json_response(post, 201)

    read, write = "campaign:read", "campaign:write"
    return [
        Resource("/social/profiles", (Operation("GET", profiles, _SCOPE, read),)),
        Resource("/social/connections", (Operation("GET", connections, _SCOPE, read),)),
        Resource("/social/hashtags/groups", (Operation("GET", hashtag_groups, _SCOPE, read),)),
        Resource("/social/posts", (Operation("POST", create_post, _SCOPE, write),)),
    ]


def _integer(raw: str | None, name: str, default: int, low: int, high: int) -> int:
    if raw is None or raw == "":
        return default
    value = whole_number(raw, high)
    if value is None or value < low:
        raise errors.validation(AREA, f"{name} must be a whole number from {low} to {high}.")
    return value


def _post(body: object, known: dict[str, dict[str, Any]], now: float) -> dict[str, Any]:
    """Validate a ``PostCreateDto`` and build the ``PostDto`` answered."""
    if not isinstance(body, dict):
        raise errors.validation(AREA, "The request body must be a JSON object.")
    problems: list[str] = []
    for key in body:
        if key not in ("name", "profile_posts", "scheduled_time", "status"):
            problems.append(f"{key} is not a property of a social post.")
    status = body.get("status")
    if status not in POST_STATUSES:
        problems.append(f"status is required: {' or '.join(POST_STATUSES)}.")
    scheduled = body.get("scheduled_time")
    moment = parse_datetime(scheduled) if isinstance(scheduled, str) else None
    if status == "SCHEDULED":
        if moment is None:
            problems.append("scheduled_time is required for a SCHEDULED post: an ISO-8601 time.")
        elif moment < now - 60:
            problems.append("scheduled_time must not be in the past.")
    elif scheduled is not None and moment is None:
        problems.append("scheduled_time must be an ISO-8601 date-time.")
    name = body.get("name")
    if name is not None and (not isinstance(name, str) or len(name) > MAX_NAME):
        problems.append(f"name must be a string of at most {MAX_NAME} characters.")
    entries = body.get("profile_posts")
    if not isinstance(entries, list) or not entries:
        problems.append("profile_posts is required: a non-empty array.")
        entries = []
    built = [
        _profile_post(entry, index, known, str(status), now, problems)
        for index, entry in enumerate(entries)
    ]
    if problems:
        raise errors.validation(AREA, *problems)
    post: dict[str, Any] = {"campaign_id": str(uuid.uuid4())}
    if name is not None:
        post["name"] = name
    post["profile_posts"] = built
    if moment is not None:
        post["scheduled_time"] = format_datetime(moment)
    post["status"] = status
    return post


def _profile_post(
    entry: object,
    index: int,
    known: dict[str, dict[str, Any]],
    status: str,
    now: float,
    problems: list[str],
) -> dict[str, Any]:
    where = f"profile_posts[{index}]"
    if not isinstance(entry, dict):
        problems.append(f"{where} must be an object.")
        return {}
    for key in entry:
        if key not in ("images", "post_content_id", "profiles", "settings", "text"):
            problems.append(f"{where}.{key} is not a property here.")
    text = entry.get("text", "")
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        problems.append(f"{where}.text must be a string of at most {MAX_TEXT:,} characters.")
    images = entry.get("images", [])
    if not isinstance(images, list) or not all(
        isinstance(i, dict) and isinstance(i.get("url"), str) and i["url"].startswith("http")
        for i in images
    ):
        problems.append(f"{where}.images must be objects with an http(s) url.")
        images = []
    # Network-specific settings, keyed by network (the contract: a map of string maps),
    # e.g. {"tiktok": {"disable_comment": "true"}}.
    settings = entry.get("settings", {})
    if not isinstance(settings, dict) or not all(
        isinstance(v, dict) and all(isinstance(x, str) for x in v.values())
        for v in settings.values()
    ):
        problems.append(f"{where}.settings must map each network to a map of strings.")
        settings = {}
    profiles = entry.get("profiles")
    if not isinstance(profiles, list) or not profiles:
        problems.append(f"{where}.profiles is required: a non-empty array of {{profile_id}}.")
        profiles = []
    targets = []
    stamp = format_datetime(now)
    for number, item in enumerate(profiles):
        profile_id = item.get("profile_id") if isinstance(item, dict) else None
        profile = known.get(str(profile_id))
        if profile is None:
            problems.append(
                f"{where}.profiles[{number}].profile_id {profile_id!r} is not a profile of "
                "this account (GET /v3/social/profiles)."
            )
            continue
        failing = status == "SCHEDULED" and not profile["accessible"]
        target: dict[str, Any] = {
            "account_username": profile["account_info"]["username"],
            "campaign_activity_id": str(uuid.uuid4()),
            "campaign_activity_status": "ERROR" if failing else status,
            "campaign_activity_status_date": stamp,
            "image_url": profile["image_url"],
            "network": profile["network"],
            "profile_id": profile["profile_id"],
            "profile_name": profile["name"],
        }
        if failing:
            target["campaign_activity_status_message"] = (
                "The profile is not accessible on the network: reconnect it, then post again."
            )
        targets.append(target)
    result: dict[str, Any] = {
        "images": [
            {"image_id": str(uuid.uuid5(uuid.NAMESPACE_URL, i["url"])), "url": i["url"]}
            for i in images
        ],
        "post_content_id": str(uuid.uuid4()),
        "profiles": targets,
        "settings": settings,
        "text": text,
    }
    return result
