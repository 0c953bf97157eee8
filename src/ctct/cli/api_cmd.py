"""``ctct api [METHOD] PATH``: an authorized, rate-limited request to the V3 API, in the
spirit of ``gh api``. The path is resolved against the API base (``/contacts``,
``/v3/contacts?limit=5``...); anything else is refused before a token is attached."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import IO, Any

import click

from ctct.api.errors import InputError
from ctct.cli import _console
from ctct.cli.api_common import api_client
from ctct.cli.auth_common import settings_options, with_settings

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def join_pages(pages: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """One document from many pages: each page's arrays appended to the first's, the
    paging links dropped."""
    joined: dict[str, Any] | None = None
    for page in pages:
        if joined is None:
            joined = {
                k: (list(v) if isinstance(v, list) else v) for k, v in page.items() if k != "_links"
            }
            continue
        for key, value in page.items():
            if isinstance(value, list) and isinstance(joined.get(key), list):
                joined[key].extend(value)
    return joined or {}


def apply_jq(expression: str, document: Any) -> list[Any]:
    """The results of a jq program (the PyPI ``jq`` package) on ``document``."""
    try:
        import jq  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise InputError(
            "--jq needs the jq package: install it with `pip install jq` (or pipe the "
            "output into the jq program)."
        ) from None
    try:
        program = jq.compile(expression)
    except ValueError as exc:
        raise InputError(f"--jq: {exc}") from None
    try:
        results: list[Any] = program.input_value(document).all()
    except ValueError as exc:
        raise InputError(f"--jq failed on the response: {exc}") from None
    return results


def _body(data: str | None, input_file: IO[bytes] | None) -> Any:
    if data is not None and input_file is not None:
        raise InputError("Give the body with --data or --input, not both.")
    raw: str | bytes | None = (
        data if data is not None else (input_file.read() if input_file else None)
    )
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        where = "--data" if data is not None else "--input"
        raise InputError(f"The body from {where} is not valid JSON ({exc}).") from None


def _emit(value: Any) -> None:
    text = value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False)
    if sys.stdout.isatty():
        # The response is the account's data, printed as sent; but on a terminal its
        # control characters (ESC, CSI, OSC, C1, bidi) are shown escaped, never obeyed.
        # Piped or redirected, the bytes pass through unchanged.
        from ctct._redact import printable

        text = printable(text, lines=True)
    if isinstance(value, str):  # a --jq string result: raw, never coloured
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        _console.json_text(text)


@click.command("api")
@click.argument("method_or_path", metavar="[METHOD] PATH")
@click.argument("path", required=False, metavar="")
@click.option(
    "--method",
    "-X",
    "method_flag",
    metavar="METHOD",
    help="The HTTP method.  [default: GET, or POST with fields or a body]",
)
@click.option(
    "--header", "-H", "headers", multiple=True, metavar="'NAME: VALUE'", help="Add a header."
)
@click.option(
    "--raw-field",
    "-f",
    "raw_fields",
    multiple=True,
    metavar="KEY=VALUE",
    help="Add a string parameter (the JSON body; the query string for GET).",
)
@click.option(
    "--field",
    "-F",
    "typed_fields",
    multiple=True,
    metavar="KEY=VALUE",
    help="Add a typed parameter: true, false, null and numbers become JSON; @FILE reads "
    "the value from FILE ('@-': standard input).",
)
@click.option("--data", "-d", metavar="JSON", help="The request body (JSON).")
@click.option(
    "--input",
    "input_file",
    type=click.File("rb"),
    metavar="FILE",
    help="Read the request body (JSON) from FILE ('-': standard input); fields then go "
    "to the query string.",
)
@click.option("--paginate", is_flag=True, help="Follow _links.next and join every page.")
@click.option(
    "--jq", "-q", "jq_expr", metavar="EXPR", help="Filter the response with a jq expression."
)
@settings_options
@with_settings
def api(
    settings_flags: dict[str, Any],
    method_or_path: str,
    path: str | None,
    method_flag: str | None,
    headers: tuple[str, ...],
    raw_fields: tuple[str, ...],
    typed_fields: tuple[str, ...],
    data: str | None,
    input_file: IO[bytes] | None,
    paginate: bool,
    jq_expr: str | None,
) -> None:
    """Send a request to the Constant Contact V3 API and print the response.

    PATH is relative to the API base. The method is GET, or POST when fields or a body
    are given; name it first (ctct api DELETE /contacts/ID) or with -X.

    \b
    Examples:
      ctct api /account/summary
      ctct api /contacts -f limit=500 --paginate -q '.contacts[].email_address.address'
      ctct api /contact_lists -f name=VIP -F favorite=true
      ctct api PUT /contact_lists/ID --data '{"name": "VIP"}'
    """
    from ctct.cli.api_fields import parse_fields, parse_headers

    verb, target = _method_and_path(method_or_path, path, method_flag)
    body = _body(data, input_file)
    fields = parse_fields(raw_fields, typed_fields, _read_value)
    if verb is None:
        verb = "POST" if fields or body is not None else "GET"
    if paginate and verb != "GET":
        raise click.UsageError("--paginate only applies to GET requests.")
    extra_headers = parse_headers(headers)
    document = _send(settings_flags, verb, target, fields, body, extra_headers, paginate)
    if jq_expr is not None:
        for result in apply_jq(jq_expr, document):
            _emit(result)
    elif document is not None:
        _emit(document)


def _method_and_path(first: str, second: str | None, flag: str | None) -> tuple[str | None, str]:
    """The method (None: choose by the parameters) and the path, from ``[METHOD] PATH``
    and ``-X``."""
    if second is None:
        positional, target = None, first
    else:
        positional, target = first.upper(), second
        if positional not in METHODS:
            raise click.BadParameter(
                f"{first!r} is not a method: use one of {', '.join(METHODS)}, or give only "
                "the PATH",
                param_hint="METHOD",
            )
    named = flag.upper() if flag is not None else None
    if named is not None and named not in METHODS:
        raise click.BadParameter(f"use one of {', '.join(METHODS)}", param_hint="'-X/--method'")
    if named is not None and positional is not None and named != positional:
        raise click.UsageError(f"Two methods given: {positional} and -X {named}; give one.")
    return named or positional, target


def _read_value(name: str) -> str:
    """The value of ``-F key=@name``: a file's text, or standard input's for ``-``."""
    try:
        if name == "-":
            return sys.stdin.read()
        with open(name, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InputError(f"-F @{name}: cannot read it ({reason}).") from None


def _send(
    settings_flags: dict[str, Any],
    verb: str,
    target: str,
    fields: dict[str, Any],
    body: Any,
    headers: dict[str, str],
    paginate: bool,
) -> Any:
    """The response document (None when empty) of one request, or of every page."""
    from ctct.api.flow import Call, call_flow
    from ctct.cli.api_fields import with_query

    # Fields go in the body, as JSON; a GET, or a request with its own body, sends them
    # in the query string (as gh api does).
    if verb == "GET" or body is not None:
        target = with_query(target, fields)
    elif fields:
        body = fields
    with api_client(settings_flags) as client:
        # The path is checked before anything is sent (RefusedUrl, exit 2).
        client.base.resolve(target)
        if paginate:
            return join_pages(client.pages(Call("GET", target, headers=headers)))
        call = Call(verb, target, json=body, has_json=body is not None, headers=headers)
        response = client.run(call_flow(call, client.policy))
    if not response.content:
        return None
    if "json" in response.headers.get("content-type", ""):
        return response.json()
    return response.text
