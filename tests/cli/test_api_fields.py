"""``ctct api``'s ``-f``/``-F``/``-H`` parsing (pure: no request is sent)."""

from __future__ import annotations

from typing import Any

import pytest

from ctct.api.errors import InputError
from ctct.cli.api_fields import parse_fields, parse_headers, typed_value, with_query


def no_files(name: str) -> str:
    raise AssertionError(f"read {name}")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("false", False),
        ("null", None),
        ("42", 42),
        ("-1.5e3", -1500.0),
        ("007", "007"),
        ("True", "True"),
        ("1,5", "1,5"),
        ("", ""),
    ],
)
def test_typed_values_are_json_literals_and_numbers_else_strings(text: str, value: Any) -> None:
    assert typed_value(text, no_files) == value
    assert type(typed_value(text, no_files)) is type(value)


def test_at_file_is_read_by_typed_fields_only() -> None:
    files = {"about.txt": "hello", "-": "from stdin"}
    fields = parse_fields(["raw=@about.txt"], ["a=@about.txt", "b=@-"], files.__getitem__)
    assert fields == {"raw": "@about.txt", "a": "hello", "b": "from stdin"}


def test_keys_nest_like_gh() -> None:
    fields = parse_fields(
        ["email_address[address]=ann@example.com", "list_memberships[]=L1"],
        [
            "list_memberships[]=2",
            "custom_fields[][custom_field_id]=1",
            "custom_fields[][value]=7",
            "custom_fields[][custom_field_id]=2",
            "phone[numbers][]=5",
        ],
        no_files,
    )
    assert fields == {
        "email_address": {"address": "ann@example.com"},
        "list_memberships": ["L1", 2],
        "custom_fields": [{"custom_field_id": 1, "value": 7}, {"custom_field_id": 2}],
        "phone": {"numbers": [5]},
    }


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("novalue", "give key=value"),
        ("=1", "give key=value"),
        ("a[b=1", "is not name, name[sub] or name[]"),
        ("a[][]=1", "arrays of arrays"),
    ],
)
def test_malformed_fields_say_what_to_give(raw: str, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_fields([raw], [], no_files)


def test_a_key_given_twice_or_as_two_kinds_is_refused() -> None:
    with pytest.raises(InputError, match="given twice"):
        parse_fields(["a=1", "a=2"], [], no_files)
    with pytest.raises(InputError, match="another kind of value"):
        parse_fields(["a[]=1", "a[b]=2"], [], no_files)


def test_query_strings_keep_the_paths_own() -> None:
    assert with_query("/contacts?status=all", {"limit": 1}) == "/contacts?status=all&limit=1"
    assert with_query("/contacts", {"a": True, "b": None, "c": ["x", "y z"]}) == (
        "/contacts?a=true&b=&c=x&c=y+z"
    )
    assert with_query("/contacts", {}) == "/contacts"
    with pytest.raises(InputError, match="nested"):
        with_query("/contacts", {"a": {"b": 1}})


def test_headers() -> None:
    assert parse_headers(["Accept: text/csv", "X-Trace:  1 "]) == {
        "Accept": "text/csv",
        "X-Trace": "1",
    }
    for bad in ("NoColon", "Bad Name: x"):
        with pytest.raises(InputError, match="give 'Name: value'"):
            parse_headers([bad])
    for own in ("authorization: x", "Host: evil.example"):
        with pytest.raises(InputError, match="sets this header itself"):
            parse_headers([own])
