"""Schemathesis fuzzes the emulator with CC's own contract (``v3-swagger.yml``).

Every operation of the contract gets generated requests, valid ones (positive mode) and
invalid ones (negative mode), sent over a loopback socket with an access token holding
every scope (limits raised, so no 429 hides an answer). The emulator must answer:

- no 5xx, except the 501 of an operation it does not model (``routing``);
- a status the operation declares, or one of CC's gateway codes (401, 403, 406, 415,
  429: spec section 6.2) where the contract is silent;
- for a declared status, a body matching the contract's schema, the declared content
  type (errors are always JSON, also on the CSV export) and the declared headers.

The short run is part of ``make test`` (deterministic: derandomized); the long one
(``make test-long``) draws many more examples per operation with a fresh seed.
"""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from ctct import _cc
from ctct.emulator import EmulatorConfig
from ctct.emulator.api.gateway import _Endpoint
from ctct.emulator.server import EmulatorServer
from ctct.emulator.tokens import mint_access_token
from tests.contract import load_swagger

schemathesis = pytest.importorskip("schemathesis")

GATEWAY_CODES = frozenset({401, 403, 406, 415, 429})


class Target:
    def __init__(self, server: EmulatorServer) -> None:
        import requests

        self.server = server
        emu = server.emulator
        user = emu.config.user("alice@example.com")
        assert user is not None
        token = mint_access_token(
            emu,
            client_id=emu.config.default_app.client_id,
            user=user,
            scopes=tuple(sorted(_cc.SCOPES)),
            grant_id=None,
            ttl=10**7,
        ).token
        self.base_url = server.base_url + _cc.API_BASE_PATH
        self.session = requests.Session()
        self.session.headers["Authorization"] = "Bearer " + token
        self.placeholders = unmodelled(server)


def unmodelled(server: EmulatorServer) -> set[str]:
    """Labels (``GET /path``) of the operations the emulator answers with its 501."""
    found: set[str] = set()
    for route in server.app.routes:
        endpoint = getattr(route, "endpoint", None)
        if isinstance(endpoint, _Endpoint) and endpoint.resource is not None:
            for op in endpoint.resource.operations:
                if not op.modelled:
                    found.add(f"{op.method} {endpoint.resource.path}")
    return found


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    config = EmulatorConfig(api_rate_per_second=1e6, api_daily_quota=10**9)
    with EmulatorServer(config) as server:
        yield Target(server)


def fuzz(target: Target, examples: int, *, negative_examples: int, derandomize: bool) -> None:
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode
    from schemathesis.specs.openapi import checks

    schema = schemathesis.openapi.from_dict(load_swagger())
    conformance = (
        checks.response_schema_conformance,
        checks.content_type_conformance,
        checks.response_headers_conformance,
    )
    failures: dict[str, set[str]] = collections.defaultdict(set)
    counts: collections.Counter[int] = collections.Counter()

    def run(operation: Any, mode: Any, count: int) -> None:
        label = operation.label
        declared = {str(code) for code in operation.responses.status_codes}

        def check(case: Any) -> None:
            response = case.call(base_url=target.base_url, session=target.session)
            status = response.status_code
            counts[status] += 1
            if status == 501 and label in target.placeholders:
                return
            if status >= 500:
                failures[label].add(f"{status}: {response.text[:300]}")
                return
            if str(status) not in declared:
                if status not in GATEWAY_CODES:
                    failures[label].add(f"undeclared {status}: {response.text[:300]}")
                return
            content_type = str((response.headers.get("content-type") or [""])[0])
            for conformance_check in conformance:
                if (
                    conformance_check is checks.content_type_conformance
                    and status >= 400
                    and content_type.startswith("application/json")
                ):
                    continue  # CC's errors are JSON even where a success is CSV
                try:
                    case.validate_response(response, checks=[conformance_check])
                except BaseException as exc:  # schemathesis raises an exception group
                    failures[label].add(f"{status} {conformance_check.__name__}: {exc}"[:800])

        generated: Any = given(operation.as_strategy(generation_mode=mode))
        test: Any = settings(
            max_examples=count,
            deadline=None,
            database=None,
            derandomize=derandomize,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.generate],
        )(generated(check))
        # Unsatisfiable: nothing invalid to generate here (e.g. only a free-form string).
        with contextlib.suppress(Unsatisfiable):
            test()

    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        assert operation is not None, result
        operations += 1
        run(operation, GenerationMode.POSITIVE, examples)
        # Invalid requests need something to make invalid: a body or a query parameter
        # (a lone string path parameter has no invalid values; hypothesis would spend
        # hundreds of draws finding that out).
        if negative_examples and (len(operation.body) or len(operation.query)):
            run(operation, GenerationMode.NEGATIVE, negative_examples)
    assert operations == 128
    assert sum(counts.values()) >= 128 * examples
    report = "\n".join(f"{label}: {sorted(found)[:3]}" for label, found in sorted(failures.items()))
    assert not failures, f"{len(failures)} operations answered against the contract:\n{report}"


def test_fuzz_short(target: Target) -> None:
    fuzz(target, 3, negative_examples=1, derandomize=True)


@pytest.mark.long
@pytest.mark.timeout(3600)
def test_fuzz_long(target: Target) -> None:
    fuzz(target, 100, negative_examples=50, derandomize=False)
