"""The Constant Contact V3 API client: ``Client`` (blocking) and ``AsyncClient``.

Modules: ``client`` (the two clients and their drivers), ``flow`` (sans-I/O request
logic), ``errors`` (the ``ApiError`` tree), ``limits`` (per-key rate limiting shared
through the store), ``retry`` (retry policy as data), ``urls`` (the API-origin guard),
``transport`` (the budget taken per request on the wire), ``runner`` (pagination
helpers), ``bulk`` (splitting at CC's limits), ``csv_rows``
(local validation of contact CSVs), and one module per resource: ``account``,
``contacts``, ``lists``, ``custom_fields``, ``tags``, ``activities`` (with
``activity_flows``), ``emails``; ``crud`` holds what lists, fields and tags share.
"""

from __future__ import annotations

from ctct.api.client import AsyncClient, Client
from ctct.api.errors import (
    ActivityFailed,
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    InputError,
    NotFound,
    QuotaExceeded,
    RefusedUrl,
    ServerError,
    Throttled,
    Unauthorized,
)
from ctct.api.limits import RateLimits
from ctct.api.retry import RetryPolicy, set_testing

__all__ = [
    "ActivityFailed",
    "ApiError",
    "AsyncClient",
    "BadRequest",
    "Client",
    "Conflict",
    "Forbidden",
    "InputError",
    "NotFound",
    "QuotaExceeded",
    "RateLimits",
    "RefusedUrl",
    "RetryPolicy",
    "ServerError",
    "Throttled",
    "Unauthorized",
    "set_testing",
]
