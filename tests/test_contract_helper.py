"""The contract helper must catch what it claims to catch, or the API tests prove nothing."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import contract


def _contact(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "contact_id": str(uuid.uuid4()),
        "email_address": {"address": "ann@example.com", "permission_to_send": "implicit"},
        "first_name": "Ann",
        "created_at": "2026-01-23T13:48:44.108Z",
        "updated_at": "2026-01-23T13:48:44.108Z",
        "phone_numbers": [{"phone_number": "555-0100", "kind": "home"}],
    }
    body.update(changes)
    return body


def test_a_valid_contact_passes() -> None:
    contract.validate(_contact(), "ContactResource")
    contract.validate({"contacts": [_contact()], "contacts_count": 1}, "Contacts")


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"contact_id": "04fe9a-a579-43c5-bb1a-58ed29bf0a6a"}, "contact_id"),  # not a UUID
        ({"created_at": "2026-01-23 13:48:44"}, "created_at"),  # not RFC 3339
        ({"created_at": "2026-02-30T13:48:44Z"}, "created_at"),  # no such day
        ({"deleted_at": "2026-07-08T00:00:00.000Z"}, "deleted_at"),  # the contract says date
        ({"first_name": None}, "first_name"),  # null without x-nullable
        ({"first_name": "x" * 51}, "first_name"),  # maxLength
        ({"contact_count": 3}, ""),  # undeclared property (closed objects)
        ({"phone_numbers": [{"phone_number": 5550100}]}, "phone_numbers/0/phone_number"),
        ({"email_address": {"permission_to_send": "implicit"}}, "email_address"),  # required
    ],
)
def test_contract_violations_are_reported(changes: dict[str, Any], where: str) -> None:
    with pytest.raises(AssertionError, match=f"at /{where}"):
        contract.validate(_contact(**changes), "ContactResource")


def test_refs_are_followed_into_nested_definitions() -> None:
    page = {"contacts": [_contact(email_address={"address": 7})]}
    with pytest.raises(AssertionError, match="contacts/0/email_address/address"):
        contract.validate(page, "Contacts")


def test_int32_range_is_checked() -> None:
    privileges = [{"privilege_id": 2**31, "privilege_name": "x"}]
    # UserPrivilegesResource's privilege_id has no format, so this passes ...
    contract.validate(privileges, "UserPrivilegesResource")
    # ... while a format: int32 field refuses it.
    contract.validate({"registration_count": 2**31 - 1}, "EventRegistrationSummaryMetricDto")
    with pytest.raises(AssertionError, match="int32"):
        contract.validate({"registration_count": 2**31}, "EventRegistrationSummaryMetricDto")


def test_error_shapes() -> None:
    items = contract.validate_error_array(
        [{"error_key": "contacts.api.not_found", "error_message": "gone"}]
    )
    assert items[0]["error_key"] == "contacts.api.not_found"
    with pytest.raises(AssertionError):
        contract.validate_error_array({"error_key": "x", "error_message": "y"})
    with pytest.raises(AssertionError):
        contract.validate_error_array([])
    contract.validate_single_error({"error_key": "unauthorized", "error_message": "Unauthorized"})
    with pytest.raises(AssertionError):
        contract.validate_single_error([{"error_key": "x", "error_message": "y"}])


def test_unknown_definition_is_an_error() -> None:
    with pytest.raises(KeyError, match="NoSuchThing"):
        contract.validate({}, "NoSuchThing")


def _mini_swagger(tmp_path: Path) -> Path:
    spec = {
        "swagger": "2.0",
        "definitions": {
            "Thing": {
                "type": "object",
                "required": ["id"],
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "note": {"type": "string", "x-nullable": True},
                    "child": {"$ref": "#/definitions/Child", "x-nullable": True},
                    "kind": {"type": "string", "enum": ["a", "b"], "x-nullable": True},
                },
            },
            "Child": {"type": "object", "properties": {"n": {"type": "integer"}}},
        },
    }
    path = tmp_path / "mini.yml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


def test_x_nullable_allows_null_only_where_declared(tmp_path: Path) -> None:
    path = _mini_swagger(tmp_path)
    thing_id = str(uuid.uuid4())
    contract.validate({"id": thing_id, "note": None, "child": None, "kind": None}, "Thing", path)
    contract.validate({"id": thing_id, "child": {"n": 1}, "kind": "a"}, "Thing", path)
    with pytest.raises(AssertionError, match="/id"):
        contract.validate({"id": None}, "Thing", path)
    with pytest.raises(AssertionError, match="/child"):
        contract.validate({"id": thing_id, "child": {"n": "one"}}, "Thing", path)
    with pytest.raises(AssertionError, match="/kind"):
        contract.validate({"id": thing_id, "kind": "c"}, "Thing", path)


def test_swagger_location_can_be_overridden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert contract.swagger_path() == contract.DEFAULT_SWAGGER
    assert contract.DEFAULT_SWAGGER.is_file(), "shared/ must sit beside the repo"
    path = _mini_swagger(tmp_path)
    monkeypatch.setenv("CTCT_SWAGGER", str(path))
    assert contract.swagger_path() == path
    with pytest.raises(FileNotFoundError, match="CTCT_SWAGGER"):
        contract.load_swagger(tmp_path / "missing.yml")


def test_the_swagger_is_loaded_once() -> None:
    assert contract.load_swagger() is contract.load_swagger()
    assert contract.load_swagger()["info"]["version"] == "3.0.178"
