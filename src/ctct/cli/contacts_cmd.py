"""``ctct contacts import FILE.csv --list NAME`` and ``ctct contacts export``.

Import checks every row locally first (``ctct.api.csv_rows``), sends the good ones as
JSON imports split at CC's limits (40,000 contacts / 4 MB per request), polls until
Constant Contact has processed them, and reports what was added, updated and rejected;
each rejected row is listed with its line number and reason.
"""

from __future__ import annotations

import csv
import io
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from ctct.api.errors import ActivityFailed, InputError
from ctct.cli import _console
from ctct.cli._output_file import OutputFile
from ctct.cli.api_common import (
    api_client,
    find_list,
    find_list_by_name,
    is_uuid,
    progress_display,
    quote,
)
from ctct.cli.auth_common import settings_options, with_settings

EXIT_REJECTED = 1
_DELIMITER_NAMES = {";": "semicolon", "\t": "tab", ",": "comma"}


@click.group("contacts")
def contacts() -> None:
    """Import and export contacts."""


_ROW = re.compile(r"^Row (\d+)\b[:.]?\s*")


def _server_rejects(
    activities: Sequence[Mapping[str, Any]],
    starts: list[int],
    lines: list[int],
    emails: dict[str, int],
) -> list[tuple[int | None, str]]:
    """Rows Constant Contact refused, from the activities' errors. CC numbers rows
    within each request ("Row 12: ..."); that maps back to the CSV line."""
    found: list[tuple[int | None, str]] = []
    for activity, start in zip(activities, starts, strict=False):
        for error in activity.get("activity_errors") or []:
            text = str(error)
            line: int | None = None
            match = _ROW.match(text)
            index = start + int(match.group(1)) - 1 if match else -1
            if match and start <= index < len(lines):
                line = lines[index]
                text = text[match.end() :]
            else:
                line = next((n for email, n in emails.items() if email in text.lower()), None)
            found.append((line, f"refused by Constant Contact: {text}"))
    return found


@contacts.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--list",
    "list_name",
    required=True,
    metavar="NAME",
    help="Add the contacts to this list (name or id).",
)
@click.option("--create-list", is_flag=True, help="Create the list if there is none by that name.")
@click.option("--dry-run", is_flag=True, help="Check the file and report; send nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@settings_options
@with_settings
def import_(
    settings_flags: dict[str, Any],
    file: Path,
    list_name: str,
    create_list: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Import contacts from a CSV file (header: email,first_name,last_name,...).

    Exit status 0 when every row was imported, 1 when some rows were rejected (each is
    listed with its line number and reason)."""
    from ctct.api.bulk import chunk_starts
    from ctct.api.csv_rows import parse_contacts_csv

    try:
        data = file.read_bytes()
    except OSError as exc:
        raise InputError(f"Cannot read {file}: {exc.strerror or exc}.") from None
    checked = parse_contacts_csv(data)
    rejected: list[tuple[int | None, str]] = [(r.line, r.reason) for r in checked.rejected]
    summary: dict[str, Any] = {
        "file": str(file),
        "rows": checked.rows,
        "valid": len(checked.contacts),
        "delimiter": checked.delimiter,
        "ignored_columns": checked.ignored,
    }
    if dry_run or not checked.contacts:
        summary.update(added=0, updated=0, sent=0)
    else:
        with api_client(settings_flags) as client:
            target = _target_list(client, list_name, create_list)
            summary["list"] = {"list_id": target["list_id"], "name": target.get("name")}
            before = client.contacts.count()
            with progress_display() as on_progress:
                # check=False: rows refused so far are reported before any failure.
                activities = client.activities.json_import(
                    checked.contacts, [target["list_id"]], on_progress=on_progress, check=False
                )
            after = client.contacts.count()
            emails = {
                c["email"].lower(): line
                for c, line in zip(checked.contacts, checked.lines, strict=True)
            }
            starts = chunk_starts(checked.contacts, [target["list_id"]])
            server = _server_rejects(activities, starts, checked.lines, emails)
            rejected += server
            accepted = len(checked.contacts) - len(server)
            summary.update(
                added=max(0, after - before),
                updated=max(0, accepted - max(0, after - before)),
                sent=len(checked.contacts),
                requests=len(activities),
                activities=[a.get("activity_id") for a in activities],
                states=[a.get("state") for a in activities],
            )
    summary["rejected"] = [
        {"line": line, "reason": reason}
        for line, reason in sorted(rejected, key=lambda r: r[0] or 0)
    ]
    _report(summary, dry_run, as_json)
    unfinished = [a for a in summary.get("states", []) if a != "completed"]
    if unfinished:
        raise ActivityFailed(
            f"{len(unfinished)} of {len(summary['states'])} import requests ended "
            f"{', '.join(sorted(set(unfinished)))}; the rows reported above were not "
            "imported, others may have been. Check with `ctct api GET /activities`.",
            activity={"state": unfinished[0]},
        )
    if rejected:
        sys.exit(EXIT_REJECTED)


def _target_list(client: Any, name: str, create: bool) -> dict[str, Any]:
    if is_uuid(name) or not create:
        return find_list(
            client,
            name,
            advice=f"create it with `ctct lists create {quote(name)}`, or add --create-list",
        )
    found, close = find_list_by_name(client, name)
    if found is not None:
        return found
    created: dict[str, Any] = client.lists.create(name)
    also = f" (there is also a list named {close!r})" if close else ""
    _console.note(f"Created list {name!r}{also}.")
    return created


def _report(summary: dict[str, Any], dry_run: bool, as_json: bool) -> None:
    if summary["delimiter"] != ",":
        _console.note(
            f"Read {summary['file']} as {_DELIMITER_NAMES[summary['delimiter']]}-separated."
        )
    if summary["ignored_columns"]:
        _console.note(
            "Ignored the export-only column(s) "
            f"{', '.join(summary['ignored_columns'])} (an import cannot set them)."
        )
    if as_json:
        _console.print_json(summary)
        return
    out = _console.out()
    rejected = summary["rejected"]
    if dry_run:
        out.print(
            f"{summary['file']}: {summary['rows']} rows, {summary['valid']} valid, "
            f"{len(rejected)} rejected (dry run: nothing sent)."
        )
    else:
        where = f" into list {summary['list']['name']!r}" if "list" in summary else ""
        out.print(
            f"Imported {summary['file']}{where}: {summary['added']} added, "
            f"{summary['updated']} updated, {len(rejected)} rejected "
            f"({summary['rows']} rows, {summary.get('requests', 0)} import requests)."
        )
    for item in rejected:
        where = f"line {item['line']}" if item["line"] else "(line unknown)"
        out.print(_console.escape(f"  rejected {where}: {item['reason']}"))


@contacts.command("export")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Write the CSV here (default: standard output).",
)
@click.option(
    "--list",
    "list_names",
    multiple=True,
    metavar="NAME",
    help="Only contacts on this list (repeatable).",
)
@click.option(
    "--status", metavar="STATUS", help="Only contacts with this status (e.g. active, unsubscribed)."
)
@click.option("--force", is_flag=True, help="Replace the --output file if it exists.")
@settings_options
@with_settings
def export(
    settings_flags: dict[str, Any],
    output: Path | None,
    list_names: tuple[str, ...],
    status: str | None,
    force: bool,
) -> None:
    """Export contacts as CSV (a bulk export activity, then its file).

    The file can be imported as it is (``ctct contacts import FILE --list NAME``), e.g.
    into another profile's account. ``--output`` is checked before anything is exported:
    its directory must exist and be writable, and an existing file is replaced only with
    ``--force``."""
    target = OutputFile.open(output, force=force) if output is not None else None
    try:
        with api_client(settings_flags) as client:
            body: dict[str, Any] = {}
            if list_names:
                body["list_ids"] = [find_list(client, name)["list_id"] for name in list_names]
            if status:
                body["status"] = status
            with progress_display() as on_progress:
                text = client.activities.export_contacts(body, on_progress=on_progress)
        rows = max(0, sum(1 for row in csv.reader(io.StringIO(text)) if row) - 1)
        if target is None:
            sys.stdout.write(text)
            sys.stdout.flush()
            _console.note(f"Exported {rows} contacts.")
        else:
            target.commit(text)
            _console.note(f"Exported {rows} contacts to {target.path}.")
    finally:
        if target is not None:
            target.discard()
