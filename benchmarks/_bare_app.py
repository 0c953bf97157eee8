"""The floor for the broker benchmark: a bare Starlette endpoint returning a constant
document of the broker's size, served by uvicorn exactly as the broker is."""

from __future__ import annotations

import json
import secrets

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

BODY = {
    "access_token": "eyJ" + secrets.token_urlsafe(700) + "." + secrets.token_urlsafe(200) + ".sig",
    "token_type": "Bearer",
    "expires_at": "2026-12-02T00:00:00Z",
    "expires_in": 86_000,
    "scopes": ["account_read", "contact_data", "offline_access"],
    "profile": "default",
}


async def token(request: Request) -> Response:
    return JSONResponse(BODY, headers={"cache-control": "no-store"})


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


app = Starlette(routes=[Route("/v1/token", token), Route("/v1/health", health)])

if __name__ == "__main__":
    print(len(json.dumps(BODY)))
