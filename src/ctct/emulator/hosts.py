"""``--split-hosts``: CC's three hosts on three origins (ports) of one emulator.

Constant Contact serves its authorization server on ``authz.constantcontact.com``, the
signing keys (JWKS) and the token alias on ``identity.constantcontact.com`` and the V3 API
on ``api.cc.email``. One emulator origin serving everything hides a client that sends a
request to the wrong host; with split hosts such a client fails here as it would there:

- ``authz``: the OAuth endpoints, the login and device pages, and the control API
  (``/__emulator``; the emulator's ``base_url``). ``/v3`` and the JWKS are not here.
- ``identity``: only ``/oauth2/<server id>/...`` (the JWKS and the token alias).
- ``api``: only ``/v3``; any other path gets API Gateway's 403 ``{"message":"Forbidden"}``,
  as CC's gateway answers paths outside ``/v3``.

Which origin a request reached is told by the port it arrived on (the ASGI ``server``
of the scope: the listening socket over TCP, the URL's port in process). With one origin
(the default) nothing is filtered. ``HostRoles`` is filled in when the ports are known.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from ctct import _cc
from ctct.emulator.api.amzn import FORBIDDEN_ERROR_TYPE, gateway_headers, is_api_path

Role = Literal["authz", "identity", "api"]
ROLES: Final[tuple[Role, ...]] = ("authz", "identity", "api")
IDENTITY_PREFIX: Final = f"/oauth2/{_cc.AUTH_SERVER_ID}/"
FORBIDDEN_BODY: Final = b'{"message":"Forbidden"}'


@dataclass
class HostRoles:
    """The port of each role, once bound; empty: one origin serves everything."""

    ports: dict[Role, int] = field(default_factory=dict)

    @property
    def split(self) -> bool:
        return bool(self.ports)

    def role_of(self, port: int | None) -> Role | None:
        for role, bound in self.ports.items():
            if bound == port:
                return role
        return None

    def origins(self, request: Request) -> dict[Role, str]:
        """Each role's origin as the caller reaches it (the Host it used, our ports)."""
        here = str(request.base_url).rstrip("/")
        if not self.split:
            return {role: here for role in ROLES}
        scheme = request.url.scheme
        host = request.url.hostname or "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return {role: f"{scheme}://{host}:{port}" for role, port in self.ports.items()}


def allowed(role: Role, path: str) -> bool:
    if role == "api":
        return is_api_path(path)
    if role == "identity":
        return path.startswith(IDENTITY_PREFIX)
    return not is_api_path(path) and not path.startswith(IDENTITY_PREFIX)


class SplitHostsMiddleware:
    """Refuse a path on an origin whose CC host does not serve it."""

    def __init__(self, app: ASGIApp, roles: HostRoles) -> None:
        self.app = app
        self.roles = roles

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.roles.split:
            await self.app(scope, receive, send)
            return
        server: Any = scope.get("server")
        role = self.roles.role_of(int(server[1]) if server and server[1] is not None else None)
        path: str = scope.get("path", "")
        if role is None or allowed(role, path):
            await self.app(scope, receive, send)
            return
        if role == "api":
            await _answer(send, 403, FORBIDDEN_BODY, {b"x-amzn-errortype": FORBIDDEN_ERROR_TYPE})
            return
        await _answer(send, 404, _misdirected(role, path), {})


def _misdirected(role: Role, path: str) -> bytes:
    if role == "identity":
        where = (
            "This is the identity host (identity.constantcontact.com): it serves only the "
            f"signing keys ({_cc.JWKS_PATH}) and the token alias. The authorization server "
            "(authorize, token, device) is the authz host; the V3 API is the api host."
        )
    elif is_api_path(path):
        where = (
            "This is the authorization server (authz.constantcontact.com); the V3 API "
            "(/v3) is on the api host (api.cc.email): point your API base URL there."
        )
    else:
        where = (
            "This is the authorization server (authz.constantcontact.com); the signing keys "
            "(JWKS) are on the identity host (identity.constantcontact.com)."
        )
    return json.dumps({"error": "not_found", "error_description": where}).encode("utf-8")


async def _answer(send: Send, status: int, body: bytes, extra: Mapping[bytes, str]) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode("ascii")),
        *((name, value.encode("ascii")) for name, value in extra.items()),
    ]
    if status == 403:
        headers = gateway_headers(status, headers)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
