"""The Constant Contact V3 API client: ``Client`` (blocking) and ``AsyncClient``.

Modules: ``client`` (the two clients and their drivers), ``flow`` (sans-I/O request
logic), ``errors`` (the ``ApiError`` tree), ``limits`` (per-key rate limiting shared
through the store), ``retry`` (retry policy as data), ``urls`` (the API-origin guard),
``transport`` (the budget taken per request on the wire), ``runner`` (pagination
helpers), ``bulk`` (splitting at CC's limits), ``csv_rows``
(local validation of contact CSVs), and one module per resource: ``account``,
``contacts``, ``lists``, ``custom_fields``, ``tags``, ``activities`` (with
``activity_flows``), ``emails``; ``crud`` holds what lists, fields and tags share;
``shapes`` types their results (TypedDicts: plain dicts with known keys).
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
from ctct.api.shapes import (
    AccountSummary,
    Activity,
    ActivityStatus,
    Contact,
    ContactList,
    CustomField,
    EmailAddress,
    EmailCampaign,
    PhysicalAddress,
    SignUpResult,
    Tag,
)

__all__ = [
    "AccountSummary",
    "Activity",
    "ActivityFailed",
    "ActivityStatus",
    "ApiError",
    "AsyncClient",
    "BadRequest",
    "Client",
    "Conflict",
    "Contact",
    "ContactList",
    "CustomField",
    "EmailAddress",
    "EmailCampaign",
    "Forbidden",
    "InputError",
    "NotFound",
    "PhysicalAddress",
    "QuotaExceeded",
    "RateLimits",
    "RefusedUrl",
    "RetryPolicy",
    "ServerError",
    "SignUpResult",
    "Tag",
    "Throttled",
    "Unauthorized",
    "set_testing",
]
