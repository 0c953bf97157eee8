"""Complete the emulator's V3 routes from CC's contract, in a safe order.

``complete(resources)`` returns the served resources plus, for every operation of the
contract (``contract_ops``) that no resource serves, an operation answering 501 in CC's
error shape; a contract path with no resource at all gets a resource of such operations.
Served operations always take precedence: adding a route for an operation simply
replaces its 501. Paths outside the contract keep the gateway's 404, and methods the
contract does not list on a path its 405.

The result is ordered so that a fixed segment is tried before a template at the same
position (``/contacts/counts`` before ``/contacts/{contact_id}``), whatever order the
resources were listed in: a templated route can never swallow a fixed path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from starlette.requests import Request
from starlette.responses import Response

from ctct.emulator.api import errors
from ctct.emulator.api.contract_ops import CONTRACT_OPERATIONS
from ctct.emulator.api.gateway import NO_BODY, Caller, Handler, Operation, Resource

_PARAM = re.compile(r"\{[^}]*\}")


def shape(path: str) -> str:
    """The path with its parameter names erased: ``/contacts/{}``."""
    return _PARAM.sub("{}", path)


def _not_modelled(method: str, template: str) -> Handler:
    async def handler(request: Request, caller: Caller) -> Response:
        raise errors.not_modelled(method, template)

    return handler


def placeholder(method: str, template: str) -> Operation:
    """An operation of the contract the emulator does not serve: 501 after the token,
    limits and route checks, with no scope, privilege or media-type check of its own."""
    return Operation(
        method, _not_modelled(method, template), content_type=NO_BODY, produces=(), modelled=False
    )


def specificity(path: str) -> tuple[int, ...]:
    """Sort key: per segment 0 for a fixed one, 1 for a template."""
    return tuple(1 if _PARAM.fullmatch(seg) else 0 for seg in path.strip("/").split("/"))


def complete(
    resources: Iterable[Resource],
    contract: Iterable[tuple[str, tuple[str, ...]]] | None = None,
    *,
    elsewhere: Iterable[str] = (),
) -> list[Resource]:
    """``elsewhere``: paths routed apart (the partner endpoints, behind their own
    gateway): they get no placeholder here, which would shadow them."""
    served = list(resources)
    if contract is None:
        contract = CONTRACT_OPERATIONS
    by_shape = {shape(r.path): i for i, r in enumerate(served)}
    routed_apart = {shape(path) for path in elsewhere}
    for path, methods in contract:
        if shape(path) in routed_apart:
            continue
        index = by_shape.get(shape(path))
        if index is None:
            ops = tuple(placeholder(m, path) for m in methods)
            by_shape[shape(path)] = len(served)
            served.append(Resource(path, ops))
            continue
        resource = served[index]
        missing = [m for m in methods if resource.operation(m) is None]
        if missing:
            extra = tuple(placeholder(m, resource.path) for m in missing)
            served[index] = Resource(resource.path, (*resource.operations, *extra))
    return sorted(served, key=lambda r: specificity(r.path))


def unmodelled(resources: Iterable[Resource]) -> list[tuple[str, str]]:
    """``(method, path)`` of every placeholder among ``resources`` (for docs and tests)."""
    return [(op.method, r.path) for r in resources for op in r.operations if not op.modelled]
