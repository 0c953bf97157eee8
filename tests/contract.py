"""Validate JSON bodies against Constant Contact's contract (``v3-swagger.yml``).

The swagger is Swagger 2.0; its ``definitions`` are JSON-Schema draft 4 plus a few
extensions. ``validate(body, "ContactResource")`` checks a body against
``#/definitions/ContactResource`` strictly:

- ``$ref: '#/definitions/...'`` is resolved inside the swagger;
- ``x-nullable: true`` lets a property be ``null``; without it ``null`` is refused;
- formats the contract names are checked (``date-time`` RFC 3339, ``date``, ``uuid``,
  ``email``, ``int32``/``int64`` ranges);
- objects are closed: a property the contract does not declare is an error (so an
  emulator typo such as ``contact_count`` cannot pass), unless the definition itself
  says ``additionalProperties``.

The swagger is found at ``../shared/constant-contact/v3-swagger.yml`` beside the repo
(``CTCT_SWAGGER`` overrides) and loaded once per test session.
"""

from __future__ import annotations

import copy
import functools
import os
import re
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import jsonschema
import yaml

DEFAULT_SWAGGER = Path(__file__).resolve().parents[2] / "shared/constant-contact/v3-swagger.yml"

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def swagger_path() -> Path:
    override = os.environ.get("CTCT_SWAGGER")
    return Path(override) if override else DEFAULT_SWAGGER


@functools.cache
def load_swagger(path: Path | None = None) -> dict[str, Any]:
    """The parsed swagger (cached: it is 700 KB and every test validates against it)."""
    target = path or swagger_path()
    if not target.is_file():
        raise FileNotFoundError(
            f"CC's contract is not at {target}: put shared/ beside the repo or set CTCT_SWAGGER"
        )
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with target.open(encoding="utf-8") as handle:
        loaded: dict[str, Any] = yaml.load(
            handle, Loader=loader
        )  # a safe loader (C or pure Python)
    return loaded


def _rfc3339(value: object) -> bool:
    if not isinstance(value, str):
        return True  # formats constrain strings only; "type" judges the rest
    if not _RFC3339.match(value):
        return False
    try:
        datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
    except ValueError:
        return False
    return True


def _date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _DATE.match(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _int_range(bits: int) -> Callable[[object], bool]:
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1

    def check(value: object) -> bool:
        return not isinstance(value, int) or isinstance(value, bool) or low <= value <= high

    return check


def _pattern(regex: re.Pattern[str]) -> Callable[[object], bool]:
    return lambda value: not isinstance(value, str) or bool(regex.match(value))


FORMAT_CHECKER = jsonschema.FormatChecker(formats=())
for _name, _check in {
    "date-time": _rfc3339,
    "date": _date,
    "uuid": _pattern(_UUID),
    "email": _pattern(_EMAIL),
    "int32": _int_range(32),
    "int64": _int_range(64),
}.items():
    FORMAT_CHECKER.checks(_name)(_check)


def _strict(node: Any) -> Any:
    """A copy of a schema with ``x-nullable`` applied and objects closed."""
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    result = {key: _strict(value) for key, value in node.items()}
    if "properties" in result and result.get("type", "object") == "object":
        result.setdefault("additionalProperties", False)
    if result.get("x-nullable") is True:
        kind = result.get("type")
        if isinstance(kind, str):
            result["type"] = [kind, "null"]
        elif "$ref" in result:
            # Draft 4 ignores siblings of $ref, so wrap it.
            result = {"anyOf": [{"$ref": result.pop("$ref")}, {"type": "null"}]}
        if "enum" in result:
            result["enum"] = [*result["enum"], None]
    return result


@functools.cache
def _definitions(path: Path | None) -> dict[str, Any]:
    definitions = copy.deepcopy(load_swagger(path)["definitions"])
    strict: dict[str, Any] = _strict(definitions)
    return strict


@functools.cache
def validator(name: str, path: Path | None = None) -> jsonschema.Draft4Validator:
    """A validator for ``#/definitions/<name>`` (cached per definition)."""
    definitions = _definitions(path)
    if name not in definitions:
        raise KeyError(f"the contract has no definition {name!r}")
    schema = {"definitions": definitions, "allOf": [{"$ref": f"#/definitions/{name}"}]}
    return jsonschema.Draft4Validator(schema, format_checker=FORMAT_CHECKER)


def validate(body: Any, name: str, path: Path | None = None) -> None:
    """Raise ``AssertionError`` listing every way ``body`` breaks ``#/definitions/<name>``."""
    problems = sorted(validator(name, path).iter_errors(body), key=lambda e: list(e.path))
    if problems:
        lines = [f"  at /{'/'.join(map(str, e.path))}: {e.message}" for e in problems[:20]]
        raise AssertionError(f"body does not match #/definitions/{name}:\n" + "\n".join(lines))


def validate_error_array(body: Any) -> list[dict[str, str]]:
    """CC's usual error body: a non-empty array of ``{error_key, error_message}``."""
    validate(body, "APIErrorSchema")
    assert isinstance(body, list) and body, f"expected a non-empty error array, got {body!r}"
    for item in body:
        assert set(item) == {"error_key", "error_message"}, item
        assert item["error_key"] and item["error_message"], item
    return list(body)


def validate_single_error(body: Any) -> dict[str, str]:
    """The 401/429 error body: one ``{error_key, error_message}`` object."""
    validate(body, "AuthorizationErrorSchema")
    assert isinstance(body, dict) and set(body) == {"error_key", "error_message"}, body
    return dict(body)


# -- operations ---------------------------------------------------------------------------

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def operations(path: Path | None = None) -> dict[tuple[str, str], dict[str, Any]]:
    """Every operation of the contract: ``(METHOD, "/path/{template}")`` -> its object."""
    paths: dict[str, Any] = load_swagger(path)["paths"]
    return {
        (method.upper(), template): op
        for template, item in paths.items()
        for method, op in item.items()
        if method in HTTP_METHODS
    }


def response_schema(method: str, template: str, status: int) -> dict[str, Any] | None:
    """The schema the contract declares for that operation's ``status`` response (None
    when it declares the status without a body schema); KeyError if it declares neither
    the operation nor the status."""
    op = operations()[(method.upper(), template)]
    response = op["responses"][str(status)]
    schema: dict[str, Any] | None = response.get("schema")
    return schema


@functools.cache
def _inline_validator(schema_json: str) -> jsonschema.Draft4Validator:
    import json

    schema = {"definitions": _definitions(None), **_strict(json.loads(schema_json))}
    return jsonschema.Draft4Validator(schema, format_checker=FORMAT_CHECKER)


def validate_response(body: Any, method: str, template: str, status: int) -> None:
    """Validate a success body against what the contract declares for the operation and
    status, strictly (see ``validate``): a ``$ref`` by its definition, an inline schema
    as written."""
    import json

    schema = response_schema(method, template, status)
    if schema is None:
        return
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/definitions/") and len(schema) == 1:
        validate(body, ref.rsplit("/", 1)[1])
        return
    checker = _inline_validator(json.dumps(schema, sort_keys=True))
    problems = sorted(checker.iter_errors(body), key=lambda e: list(e.path))
    if problems:
        lines = [f"  at /{'/'.join(map(str, e.path))}: {e.message}" for e in problems[:20]]
        where = f"{method.upper()} {template} {status}"
        raise AssertionError(f"body does not match the contract for {where}:\n" + "\n".join(lines))
