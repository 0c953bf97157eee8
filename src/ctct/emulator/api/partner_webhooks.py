"""Technology Partners Webhooks: ``/v3/partner/webhooks/subscriptions`` (GET) and
``/v3/partner/webhooks/subscriptions/{topic_id}`` (GET, PUT, DELETE), ``/tests`` (POST).
Authentication: ``partner_gateway``.

Topics are CC's four (1 billing tier upgrade, 2 downgrade, 3 account cancelled,
4 account disabled); another ``topic_id`` is a 404, as is a topic the partner has not
subscribed to. A subscription's ``hook_uri`` gets a POST (``webhook_delivery``) when a
client account's plan tier changes or it is cancelled (``partners``), and when the
partner asks for a test: ``{"url", "api_key", "event_type"}`` as in CC's contract.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ctct.emulator.api import errors
from ctct.emulator.api.gateway import NO_BODY, read_json
from ctct.emulator.api.params import whole_number
from ctct.emulator.api.partner_gateway import PartnerOperation, PartnerResource
from ctct.emulator.api.partner_store import AREA, TOPICS, topic_body
from ctct.emulator.api.partners import notification
from ctct.emulator.config import PartnerConfig

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator

MAX_URI: Final = 2_048
EXAMPLE_ACCOUNT: Final = "a07e1my9tbw0"  # the account in CC's example notification


def resources(emu: Emulator) -> list[PartnerResource]:
    store = emu.accounts.partners

    def topic_of(request: Request) -> int:
        raw = str(request.path_params["topic_id"])
        topic_id = whole_number(raw, max(TOPICS))
        if topic_id not in TOPICS:
            raise errors.not_found(AREA, f"Topic {raw} does not exist: use 1, 2, 3 or 4.")
        return topic_id

    def subscribed(partner: PartnerConfig, topic_id: int) -> str:
        hook = store.subscriptions(partner).get(topic_id)
        if hook is None:
            raise errors.not_found(AREA, f"You are not subscribed to topic {topic_id}.")
        return hook

    async def collection(request: Request, partner: PartnerConfig) -> Response:
        bodies = [topic_body(t, hook) for t, hook in store.subscriptions(partner).items()]
        return errors.json_response(bodies)

    async def get_topic(request: Request, partner: PartnerConfig) -> Response:
        topic_id = topic_of(request)
        return errors.json_response(topic_body(topic_id, subscribed(partner, topic_id)))

    async def put_topic(request: Request, partner: PartnerConfig) -> Response:
        topic_id = topic_of(request)
        body = await read_json(request, AREA)
        hook = body.get("hook_uri") if isinstance(body, dict) else None
        parts = urlsplit(hook) if isinstance(hook, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise errors.validation(AREA, "hook_uri is required: your callback's http(s) URL.")
        if len(str(hook)) > MAX_URI or (isinstance(body, dict) and set(body) != {"hook_uri"}):
            raise errors.validation(AREA, f"Send only hook_uri, at most {MAX_URI} characters.")
        store.subscribe(partner, topic_id, str(hook))
        return errors.json_response({"topic_id": topic_id, "hook_uri": hook})

    async def delete_topic(request: Request, partner: PartnerConfig) -> Response:
        topic_id = topic_of(request)
        if not store.unsubscribe(partner, topic_id):
            raise errors.not_found(AREA, f"You are not subscribed to topic {topic_id}.")
        return Response(status_code=204)

    async def test_topic(request: Request, partner: PartnerConfig) -> Response:
        topic_id = topic_of(request)
        hook = subscribed(partner, topic_id)
        origin = str(request.base_url).rstrip("/")
        emu.accounts.webhooks.deliver(
            hook, topic_id, notification(origin, partner, topic_id, EXAMPLE_ACCOUNT)
        )
        return errors.json_response(topic_body(topic_id, hook), 201)

    subscriptions = "/partner/webhooks/subscriptions"
    return [
        PartnerResource(subscriptions, (PartnerOperation("GET", collection),)),
        PartnerResource(
            f"{subscriptions}/{{topic_id}}",
            (
                PartnerOperation("GET", get_topic),
                PartnerOperation("PUT", put_topic),
                PartnerOperation("DELETE", delete_topic),
            ),
        ),
        PartnerResource(
            f"{subscriptions}/{{topic_id}}/tests", (PartnerOperation("POST", test_topic, NO_BODY),)
        ),
    ]


def control_routes(emu: Emulator) -> list[BaseRoute]:
    """``GET /__emulator/webhooks``: the notifications sent (``?wait=true``: after those
    under way have been answered)."""

    async def deliveries(request: Request) -> Response:
        wait = request.query_params.get("wait", "false").lower() == "true"
        return JSONResponse({"deliveries": emu.accounts.webhooks.records(wait=wait)})

    return [Route("/__emulator/webhooks", deliveries, methods=["GET"])]
