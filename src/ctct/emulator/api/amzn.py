"""The AWS API Gateway headers in front of CC's V3 API (spec section 6.2: a 401 from CC
carries ``x-amzn-ErrorType: UnauthorizedException``).

``AmznHeadersMiddleware`` adds, to every response under ``/v3``, an
``x-amzn-RequestId`` (a fresh UUID per request, as the gateway sends on every answer)
and, on errors, an ``x-amzn-ErrorType`` named after the status the way API Gateway's
gateway responses are (``TooManyRequestsException`` for the per-second 429,
``LimitExceededException`` for the quota one, which sets it itself). A handler's own
``x-amzn-ErrorType`` is left alone. Injected faults pass through it too.
"""

from __future__ import annotations

import uuid
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ctct import _cc

REQUEST_ID: Final = b"x-amzn-requestid"
ERROR_TYPE: Final = b"x-amzn-errortype"

ERROR_TYPES: Final[dict[int, str]] = {
    400: "BadRequestException",
    401: "UnauthorizedException",
    403: "AccessDeniedException",
    404: "NotFoundException",
    405: "MethodNotAllowedException",
    406: "NotAcceptableException",
    409: "ConflictException",
    413: "RequestTooLargeException",
    415: "UnsupportedMediaTypeException",
    429: "TooManyRequestsException",
    500: "InternalServerErrorException",
    501: "NotImplementedException",
    502: "BadGatewayException",
    503: "ServiceUnavailableException",
    504: "IntegrationTimeoutException",
}
QUOTA_ERROR_TYPE: Final = "LimitExceededException"
FORBIDDEN_ERROR_TYPE: Final = "ForbiddenException"


def error_type(status: int) -> str:
    if status in ERROR_TYPES:
        return ERROR_TYPES[status]
    return "InternalServerErrorException" if status >= 500 else "BadRequestException"


def gateway_headers(status: int, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``headers`` plus the request id and, for an error without one, the error type."""
    names = {name.lower() for name, _ in headers}
    added = list(headers)
    if REQUEST_ID not in names:
        added.append((REQUEST_ID, str(uuid.uuid4()).encode("ascii")))
    if status >= 400 and ERROR_TYPE not in names:
        added.append((ERROR_TYPE, error_type(status).encode("ascii")))
    return added


def is_api_path(path: str) -> bool:
    return path == _cc.API_BASE_PATH or path.startswith(_cc.API_BASE_PATH + "/")


class AmznHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_api_path(scope.get("path", "")):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = gateway_headers(message["status"], list(message.get("headers", [])))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
