"""Local checks of a contacts CSV: every bad row reported with its line and reason."""

from __future__ import annotations

import pytest

from ctct.api.csv_rows import parse_contacts_csv
from ctct.api.errors import InputError


def test_good_rows_become_import_contacts() -> None:
    checked = parse_contacts_csv(
        b"\xef\xbb\xbfEmail, First Name ,last_name,birthday_month,cf:shoe size\r\n"
        b"ann@example.com,Ann,Lee,4,38\r\n"
        b"\r\n"
        b'bob@example.com,"Bob, Jr.",,,\r\n'
    )
    assert checked.columns == ["email", "first_name", "last_name", "birthday_month", "cf:shoe size"]
    assert checked.contacts == [
        {
            "email": "ann@example.com",
            "first_name": "Ann",
            "last_name": "Lee",
            "birthday_month": 4,
            "cf:shoe size": "38",
        },
        {"email": "bob@example.com", "first_name": "Bob, Jr."},
    ]
    assert checked.lines == [2, 4]
    assert checked.rejected == []


def test_each_bad_row_is_reported_with_its_line() -> None:
    text = (
        "email,first_name,last_name\n"  # 1
        "ok@example.com,Ok,Fine\n"  # 2
        ",No,Email\n"  # 3
        "not-an-email,Bad,Address\n"  # 4
        f"long@example.com,{'x' * 51},Name\n"  # 5
        "few@example.com,Too\n"  # 6
        "many@example.com,Too,Many,Fields\n"  # 7
        "OK@example.com,Again,Dup\n"  # 8
        '"multi@example.com","Line\nBreak",Fine\n'  # 9-10: one record over two lines
        'quote@example.com,"broken"x,Name\n'  # 11
        "last@example.com,Last,Row\n"  # 12
    )
    checked = parse_contacts_csv(text.encode())
    reasons = {r.line: r.reason for r in checked.rejected}
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8, 11]
    assert reasons[3] == "missing email address"
    assert "invalid email address 'not-an-email'" in reasons[4]
    assert "first_name is 51 characters long" in reasons[5] and "at most 50" in reasons[5]
    assert reasons[6] == "has 2 fields; the header has 3"
    assert reasons[7] == "has 4 fields; the header has 3"
    assert reasons[8] == "repeats the email address of line 2"
    assert reasons[11].startswith("malformed CSV")
    assert checked.lines == [2, 9, 12]
    assert checked.contacts[1]["first_name"] == "Line\nBreak"
    assert checked.rows == 10


def test_invalid_utf8_rows_are_rejected() -> None:
    checked = parse_contacts_csv(b"email,first_name\na@example.com,Ren\xe9\nb@example.com,Bo\n")
    assert [(r.line, r.reason) for r in checked.rejected] == [
        (2, "is not valid UTF-8 text (save the file as UTF-8)")
    ]
    assert checked.lines == [3]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"first_name,last_name\nAnn,Lee\n", "no email column"),
        (b"email,shoe\na@example.com,1\n", "unknown column(s) 'shoe'"),
        (b"email,Email\n", "more than once"),
    ],
)
def test_file_level_problems_are_errors(data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_contacts_csv(data)


def test_a_semicolon_or_tab_separated_file_is_read() -> None:
    semicolons = parse_contacts_csv('email;first_name\nann@example.com;"Ann; the first"\n')
    assert semicolons.delimiter == ";"
    assert semicolons.contacts == [{"email": "ann@example.com", "first_name": "Ann; the first"}]
    tabs = parse_contacts_csv("email\tlast_name\nbob@example.com\tLee\n")
    assert tabs.delimiter == "\t" and tabs.contacts == [
        {"email": "bob@example.com", "last_name": "Lee"}
    ]
    # One column has no delimiter to find; a comma inside data does not fool the header.
    single = parse_contacts_csv('email\n"cat@example.com"\n')
    assert single.delimiter == "," and single.contacts == [{"email": "cat@example.com"}]
    commas = parse_contacts_csv('email,first_name\ndan@example.com,"Dan; Jr."\n')
    assert commas.delimiter == "," and commas.contacts[0]["first_name"] == "Dan; Jr."


def test_an_export_file_is_accepted_and_its_unsubscribed_rows_rejected() -> None:
    checked = parse_contacts_csv(
        "email_address,first_name,permission_to_send,list_memberships,contact_id,created_at\n"
        'ann@example.com,Ann,implicit,"l1,l2",c-1,2026-01-01T00:00:00Z\n'
        "bob@example.com,Bob,unsubscribed,,c-2,2026-01-01T00:00:00Z\n"
    )
    assert checked.ignored == ["permission_to_send", "list_memberships", "contact_id", "created_at"]
    assert checked.contacts == [{"email": "ann@example.com", "first_name": "Ann"}]
    [rejected] = checked.rejected
    assert rejected.line == 3 and "unsubscribed" in rejected.reason
