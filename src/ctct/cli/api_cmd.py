"""``ctct api METHOD PATH``: an authorized, rate-limited request to the V3 API, in the
spirit of ``gh api``. The path is resolved against the API base (``/contacts``,
``/v3/contacts?limit=5``...); anything else is refused before a token is attached."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import IO, Any

import click

from ctct.api.errors import InputError
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
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


@click.command("api")
@click.argument("method", metavar="METHOD")
@click.argument("path")
@click.option("--data", "-d", metavar="JSON", help="The request body (JSON).")
@click.option(
    "--input",
    "input_file",
    type=click.File("rb"),
    metavar="FILE",
    help="Read the request body (JSON) from FILE ('-': standard input).",
)
@click.option("--paginate", is_flag=True, help="Follow _links.next and join every page.")
@click.option("--jq", "jq_expr", metavar="EXPR", help="Filter the response with a jq expression.")
@settings_options
@with_settings
def api(
    settings_flags: dict[str, Any],
    method: str,
    path: str,
    data: str | None,
    input_file: IO[bytes] | None,
    paginate: bool,
    jq_expr: str | None,
) -> None:
    """Send METHOD PATH to the Constant Contact V3 API and print the response.

    \b
    Examples:
      ctct api GET /account/summary
      ctct api GET /contacts --paginate --jq '.contacts[].email_address.address'
      ctct api POST /contact_lists --data '{"name": "VIP"}'
    """
    verb = method.upper()
    if verb not in METHODS:
        raise click.BadParameter(f"use one of {', '.join(METHODS)}", param_hint="METHOD")
    body = _body(data, input_file)
    if paginate and verb != "GET":
        raise click.UsageError("--paginate only applies to GET requests.")
    with api_client(settings_flags) as client:
        # The path is checked before anything is sent (RefusedUrl, exit 2).
        client.base.resolve(path)
        document: Any
        if paginate:
            document = join_pages(client.pages(path))
        else:
            response = client.request(verb, path, json=body)
            if not response.content:
                document = None
            elif "json" in response.headers.get("content-type", ""):
                document = response.json()
            else:
                document = response.text
    if jq_expr is not None:
        for result in apply_jq(jq_expr, document):
            _emit(result)
    elif document is not None:
        _emit(document)
