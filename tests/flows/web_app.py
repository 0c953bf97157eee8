"""A small web app mounting ``WebLogin`` (ASGI), run by uvicorn with several workers in
the tests: ``uvicorn tests.flows.web_app:create_app --factory --workers 2``.

Configured by environment: ``FLOWS_EMULATOR`` (base URL), ``FLOWS_STORE`` (store URL),
``FLOWS_REDIRECT_URI``, ``CTCT_WEB_SIGNING_KEY`` and ``CTCT_STORE_KEY``. Every response
says which worker process answered (``x-worker-pid``).
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.types import Message, Receive, Scope, Send

from ctct._oauth_requests import ClientCredentials
from ctct._provider import Provider
from ctct._secret import Secret
from ctct.emulator.config import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from ctct.flows import WebLogin
from ctct.stores import open_store


class WorkerPid:
    def __init__(self, app: Starlette) -> None:
        self.app = app
        self.pid = str(os.getpid()).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-worker-pid", self.pid)]
            await send(message)

        await self.app(scope, receive, tagged)


def tenant(request: Request) -> str:
    # The app decides the profile at start (here: a header its own auth would set).
    return request.headers.get("x-tenant", "default")


def create_app() -> WorkerPid:
    web = WebLogin(
        provider=Provider.constant_contact(os.environ["FLOWS_EMULATOR"]),
        client=ClientCredentials(DEFAULT_CLIENT_ID, Secret(DEFAULT_CLIENT_SECRET)),
        store=open_store(os.environ["FLOWS_STORE"]),
        redirect_uri=os.environ["FLOWS_REDIRECT_URI"],
        signing_key=os.environ["CTCT_WEB_SIGNING_KEY"],
        allowed_next=["/done", "/settings"],
        default_next="/done",
        owns_store=True,
    )

    async def done(request: Request) -> Response:
        return PlainTextResponse("connected")

    app = Starlette(
        routes=[
            Route("/done", done),
            Route("/settings", done),
            Mount("/auth", app=web.asgi_app(profile=tenant)),
        ]
    )
    return WorkerPid(app)
