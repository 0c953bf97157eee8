"""``POST /v3/partner/accounts/{encoded_account_id}/account_operations/sync``: run a V3
request on behalf of a managed client account.

The request body (``PartnerAccountOperationsRequest``) describes the request: its
``account_operation_url`` (a V3 path such as ``/contacts/{contact_id}``, with or without
``/v3``), method, path and query parameters, headers and payload (a JSON string). The
emulator finds the V3 operation it names and calls its handler directly, as the
account's owner holding every scope (the partner acts for the account), and answers
whatever that operation answers. Partner endpoints themselves cannot be reached this way.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import compile_path

from ctct import _cc
from ctct.emulator.api import errors
from ctct.emulator.api.gateway import Caller, Resource, authorize, require_media_type
from ctct.emulator.api.partner_store import AREA
from ctct.emulator.config import PartnerConfig, UserConfig

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator

METHODS: Final = ("GET", "POST", "PUT", "PATCH", "DELETE")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _pairs(raw: object, key_name: str, value_name: str, where: str) -> list[tuple[str, str]]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        raise errors.validation(AREA, f"{where} must be an array of objects.")
    pairs = []
    for item in raw:
        key, value = item.get(key_name), item.get(value_name)
        if not isinstance(key, str) or not key or not isinstance(value, str):
            raise errors.validation(AREA, f"{where} items need string {key_name} and {value_name}.")
        pairs.append((key, value))
    return pairs


def _describe(body: object) -> tuple[str, str, list[tuple[str, str]], list[tuple[str, str]], bytes]:
    """(method, path, query, headers, payload) from a ``PartnerAccountOperationsRequest``."""
    if not isinstance(body, dict):
        raise errors.validation(
            AREA, "Send a PartnerAccountOperationsRequest: account_operation_url and _method."
        )
    method = str(body.get("account_operation_method", "")).upper()
    if method not in METHODS:
        raise errors.validation(
            AREA, f"account_operation_method must be one of {', '.join(METHODS)}."
        )
    url = body.get("account_operation_url")
    if not isinstance(url, str) or not url.startswith("/"):
        raise errors.validation(AREA, "account_operation_url must be a V3 path such as /contacts.")
    path_params = dict(
        _pairs(
            body.get("account_operation_path_parameters"),
            "path_param_key",
            "path_param_value",
            "account_operation_path_parameters",
        )
    )
    missing = [name for name in _PLACEHOLDER.findall(url) if name not in path_params]
    if missing:
        raise errors.validation(
            AREA, f"No value for {{{missing[0]}}}: add it to the path parameters."
        )
    path = _PLACEHOLDER.sub(lambda m: quote(path_params[m.group(1)], safe=""), url)
    if path.startswith(_cc.API_BASE_PATH + "/"):
        path = path[len(_cc.API_BASE_PATH) :]
    query = _pairs(
        body.get("account_operation_query_parameters"),
        "query_param_key",
        "query_param_value",
        "account_operation_query_parameters",
    )
    headers = _pairs(
        body.get("account_operation_headers"),
        "header_key",
        "header_value",
        "account_operation_headers",
    )
    if not all(f"{k}{v}".isascii() and f"{k}{v}".isprintable() for k, v in headers):
        raise errors.validation(AREA, "account_operation_headers must be printable ASCII.")
    payload = body.get("account_operation_payload") or ""
    if not isinstance(payload, str):
        raise errors.validation(AREA, "account_operation_payload must be a string (JSON text).")
    return method, path, query, headers, payload.encode("utf-8")


def _owner(partner: PartnerConfig, account_id: str) -> UserConfig:
    """The user a partner acts as: the account's owner (a synthetic login)."""
    return UserConfig(
        username=f"partner:{partner.partner_client_id}",
        password="",
        platform_user_id=str(
            uuid.uuid5(uuid.NAMESPACE_URL, f"partner:{partner.partner_client_id}")
        ),
        account_id=account_id,
        first_name=partner.name,
        last_name="",
        organization_name=partner.name,
        role="account_owner",
    )


async def run_on_behalf(
    emu: Emulator,
    resources: list[Resource],
    partner: PartnerConfig,
    account_id: str,
    body: object,
) -> Response:
    method, path, query, headers, payload = _describe(body)
    if path.startswith("/partner/"):
        raise errors.validation(
            AREA, "account_operations/sync runs account endpoints, not partner ones."
        )
    for resource in resources:
        regex, _, _ = compile_path(_cc.API_BASE_PATH + resource.path)
        match = regex.match(_cc.API_BASE_PATH + path)
        if match is None:
            continue
        operation = resource.operation(method)
        if operation is None:
            raise errors.method_not_allowed(method, _cc.API_BASE_PATH + path, resource.methods)
        sent = {k.lower(): v for k, v in headers if k.lower() != "authorization"}
        if payload:
            sent.setdefault("content-type", "application/json")
        scope: dict[str, Any] = {
            "type": "http",
            "method": method,
            "path": _cc.API_BASE_PATH + path,
            "raw_path": (_cc.API_BASE_PATH + path).encode(),
            "query_string": urlencode(query).encode(),
            "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in sent.items()],
            "path_params": match.groupdict(),
            "server": ("api.cc.email", 443),
            "scheme": "https",
        }

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": payload, "more_body": False}

        request = Request(scope, receive)
        caller = Caller(
            partner.api_key, _owner(partner, account_id), frozenset(_cc.SCOPES), "partner"
        )
        try:
            authorize(operation, caller)
            if method in ("POST", "PUT", "PATCH") and operation.content_type:
                require_media_type(request, operation.content_type)
            response = await operation.handler(request, caller)
        except errors.ApiError as exc:
            response = exc.response()
        emu.counters.api_request(method, _cc.API_BASE_PATH + resource.path, response.status_code)
        return response
    raise errors.not_found(AREA, f"No V3 operation at {path}.")
