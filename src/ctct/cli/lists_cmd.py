"""``ctct lists``: everyday contact-list work (list, create, show, rename, delete, add
and remove contacts). Lists are named by name or id; contacts by email or id."""

from __future__ import annotations

from typing import Any

import click

from ctct.api.errors import InputError
from ctct.cli import _console
from ctct.cli.api_common import api_client, find_list, is_uuid
from ctct.cli.auth_common import settings_options, with_settings


@click.group("lists")
def lists() -> None:
    """Work with contact lists."""


@lists.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@settings_options
@with_settings
def list_(settings_flags: dict[str, Any], as_json: bool) -> None:
    """Every contact list, with its number of members."""
    with api_client(settings_flags) as client:
        found = list(client.lists.iter(include_membership_count="all"))
    if as_json:
        _console.print_json(found)
        return
    _console.table(
        ("name", "members", "list_id", "favorite"),
        [
            (
                str(item.get("name", "")),
                str(item.get("membership_count", "")),
                str(item.get("list_id", "")),
                "yes" if item.get("favorite") else "",
            )
            for item in found
        ],
    )
    if not found:
        _console.note("No contact lists yet: create one with `ctct lists create NAME`.")


@lists.command("create")
@click.argument("name")
@click.option("--description", metavar="TEXT")
@click.option("--favorite", is_flag=True)
@settings_options
@with_settings
def create(
    settings_flags: dict[str, Any], name: str, description: str | None, favorite: bool
) -> None:
    """Create a list named NAME."""
    with api_client(settings_flags) as client:
        created = client.lists.create(name, description=description, favorite=favorite or None)
    _console.out().print(_console.escape(f"Created list {name!r} ({created['list_id']})."))


@lists.command("show")
@click.argument("list_ref", metavar="LIST")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@settings_options
@with_settings
def show(settings_flags: dict[str, Any], list_ref: str, as_json: bool) -> None:
    """A list's details and member count."""
    with api_client(settings_flags) as client:
        found = find_list(client, list_ref)
        detail = client.lists.get(found["list_id"], include_membership_count="all")
    if as_json:
        _console.print_json(detail)
        return
    out = _console.out()
    for key in (
        "name",
        "list_id",
        "description",
        "favorite",
        "membership_count",
        "created_at",
        "updated_at",
    ):
        if detail.get(key) is not None:
            out.print(_console.escape(f"{key + ':':<18}{detail[key]}"))


@lists.command("rename")
@click.argument("list_ref", metavar="LIST")
@click.argument("new_name")
@settings_options
@with_settings
def rename(settings_flags: dict[str, Any], list_ref: str, new_name: str) -> None:
    """Rename LIST to NEW_NAME (description and favorite are kept)."""
    with api_client(settings_flags) as client:
        found = find_list(client, list_ref)
        client.lists.rename(found["list_id"], new_name)
    _console.out().print(_console.escape(f"Renamed {found.get('name')!r} to {new_name!r}."))


@lists.command("delete")
@click.argument("list_ref", metavar="LIST")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@settings_options
@with_settings
def delete(settings_flags: dict[str, Any], list_ref: str, yes: bool) -> None:
    """Delete a list (its contacts stay in the account)."""
    from ctct.cli._confirm import confirm

    with api_client(settings_flags) as client:
        found = find_list(client, list_ref)
        confirm(
            f"Delete list {found.get('name')!r}?",
            yes=yes,
            action="Deleting a list",
            declined="Not deleted.",
        )
        activity = client.lists.delete(found["list_id"])
        if activity and activity.get("activity_id"):
            client.activities.wait(activity)
    _console.out().print(_console.escape(f"Deleted list {found.get('name')!r}."))


def _contact_ids(client: Any, refs: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Contact ids for emails or ids (each looked up, ids too), and the refs that name
    no contact."""
    from ctct.api import NotFound

    ids: list[str] = []
    missing: list[str] = []
    for ref in dict.fromkeys(refs):  # a ref given twice counts once
        if is_uuid(ref):
            try:
                ids.append(client.contacts.get(ref)["contact_id"])
            except NotFound:
                missing.append(ref)
            continue
        contact = client.contacts.find(ref)
        if contact is None:
            missing.append(ref)
        else:
            ids.append(contact["contact_id"])
    return ids, missing


def _membership(
    settings_flags: dict[str, Any], list_ref: str, contacts: tuple[str, ...], add: bool
) -> None:
    """Every contact is looked up first; if any is unknown, nothing changes."""
    if not contacts:
        raise InputError("Name at least one contact (email address or contact id).")
    with api_client(settings_flags) as client:
        found = find_list(client, list_ref)
        ids, missing = _contact_ids(client, contacts)
        if missing:
            hint = " (import them first: `ctct contacts import FILE --list NAME`)" if add else ""
            raise InputError(
                f"No contact with email or id {', '.join(missing)}{hint}. Nothing was changed: "
                f"{len(ids)} of the {len(ids) + len(missing)} contacts exist; name only those "
                "to go ahead."
            )
        if add:
            client.activities.add_list_memberships([found["list_id"]], contact_ids=ids)
        else:
            client.activities.remove_list_memberships([found["list_id"]], contact_ids=ids)
    verb, prep = ("Added", "to") if add else ("Removed", "from")
    _console.out().print(
        _console.escape(
            f"{verb} {_console.plural(len(ids), 'contact')} {prep} {found.get('name')!r}."
        )
    )


@lists.command("add")
@click.argument("list_ref", metavar="LIST")
@click.argument("contacts", nargs=-1, metavar="EMAIL_OR_ID...")
@settings_options
@with_settings
def add(settings_flags: dict[str, Any], list_ref: str, contacts: tuple[str, ...]) -> None:
    """Add existing contacts to LIST."""
    _membership(settings_flags, list_ref, contacts, add=True)


@lists.command("remove")
@click.argument("list_ref", metavar="LIST")
@click.argument("contacts", nargs=-1, metavar="EMAIL_OR_ID...")
@settings_options
@with_settings
def remove(settings_flags: dict[str, Any], list_ref: str, contacts: tuple[str, ...]) -> None:
    """Remove contacts from LIST."""
    _membership(settings_flags, list_ref, contacts, add=False)
