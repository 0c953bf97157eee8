"""Every operation of CC's contract, driven against the emulator and counted.

Runs every tour of ``tests/emulator/tours`` (one fresh emulator each), over loopback and
in-process. For every tag a tour claims (``TAGS``), each operation must have been driven
to a 2xx whose body matches the contract, and to a 4xx in CC's error shape other than
the 401 any operation gives without a token (a 400, 404, 409, or the 403 of a missing
scope or privilege); only an operation that needs no scope and declares no other 4xx
(``GET /account/user/privileges``) may count its 401. The test prints how many of the
contract's operations are driven in all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests import contract
from tests.conftest import StartEmulator
from tests.emulator.api_support import FAST
from tests.emulator.tours import Driven, Tour, discover

TOTAL_OPERATIONS = 128
DOC = Path(__file__).resolve().parents[2] / "docs" / "emulator.md"

# Every tag of the contract has a tour: every one of the 128 operations must be driven.
REQUIRE_ALL_OPERATIONS = True


def _tags(op: dict[str, Any]) -> set[str]:
    return set(op.get("tags", []))


def _can_fail_beyond_401(op: dict[str, Any]) -> bool:
    declared = {int(c) for c in op["responses"] if c.startswith("4")} - {401, 403}
    scoped = any(scopes for req in op.get("security", []) for scopes in req.values())
    return bool(declared) or scoped or bool(op.get("x-authorization-privileges"))


def test_the_contract_has_128_operations() -> None:
    assert len(contract.operations()) == TOTAL_OPERATIONS


def test_every_operation_of_the_toured_tags_is_driven(
    start_emulator: StartEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    driven: list[Driven] = []
    owned: set[str] = set()
    for module in discover():
        tour = Tour(start_emulator(**FAST))
        module.tour(tour)
        driven.extend(tour.driven)
        owned.update(module.TAGS)

    operations = contract.operations()
    unknown_tags = owned - {t for op in operations.values() for t in _tags(op)}
    assert not unknown_tags, f"tours claim tags the contract lacks: {unknown_tags}"
    succeeded = {(d.method, d.template) for d in driven if 200 <= d.status < 300}
    failed: dict[tuple[str, str], set[int]] = {}
    for d in driven:
        if 400 <= d.status < 500:
            failed.setdefault((d.method, d.template), set()).add(d.status)

    missing_2xx, missing_4xx = [], []
    for key, op in sorted(operations.items()):
        if not _tags(op) & owned:
            continue
        if key not in succeeded:
            missing_2xx.append(f"{key[0]} {key[1]}")
        got = failed.get(key, set())
        if not (got - {401} if _can_fail_beyond_401(op) else got):
            missing_4xx.append(f"{key[0]} {key[1]} (got {sorted(got)})")
    assert not missing_2xx, "operations of toured tags never driven to a 2xx:\n" + "\n".join(
        missing_2xx
    )
    assert not missing_4xx, "operations of toured tags never driven to a 4xx:\n" + "\n".join(
        missing_4xx
    )

    covered = succeeded & set(operations)
    with capsys.disabled():
        print(f"\ncontract coverage: {len(covered)} of {len(operations)} operations driven")
    if REQUIRE_ALL_OPERATIONS:
        assert len(covered) == TOTAL_OPERATIONS, sorted(set(operations) - covered)


def test_docs_list_every_operation_of_the_toured_tags() -> None:
    """docs/emulator.md names each operation of the toured tags (``METHOD /v3/path``)."""
    text = DOC.read_text(encoding="utf-8")
    owned = {tag for module in discover() for tag in module.TAGS}
    missing = [
        f"{method} /v3{template}"
        for (method, template), op in sorted(contract.operations().items())
        if _tags(op) & owned and f"`{method} /v3{template}`" not in text
    ]
    assert missing == [], missing


def test_scopes_and_privileges_are_the_contracts() -> None:
    """Every /v3 operation taking a user's token needs the scope and privilege CC's
    contract names for it (``security``, ``x-authorization-privileges``); the one liberty:
    account reads also take ``account_update`` (writing implies reading)."""
    from ctct.emulator import Emulator, api

    emu = Emulator()
    try:
        resources = api.resources(emu)
    finally:
        emu.close()
    operations = contract.operations()
    checked = 0
    for resource in resources:
        for op in resource.operations:
            declared = operations[(op.method, resource.path)]
            scopes = {s for req in declared.get("security", []) for v in req.values() for s in v}
            privilege = (declared.get("x-authorization-privileges") or [None])[0]
            assert op.privilege == privilege, (op.method, resource.path)
            extra = set(op.scopes) - scopes
            assert scopes <= set(op.scopes), (op.method, resource.path)
            assert extra <= ({"account_update"} if scopes == {"account_read"} else set())
            checked += 1
    assert checked >= 80  # every account-side operation served so far
