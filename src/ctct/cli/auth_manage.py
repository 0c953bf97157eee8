"""The bodies of ``ctct auth token``, ``refresh``, ``logout`` and ``list``.

``token`` is the only place a token is ever printed (stdout, for scripts); everything
else shows fingerprints. ``logout`` deletes the local copy only once the server
confirmed the revocation or said the token was already invalid, unless ``--local``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ctct._redact import in_tokens, redact_url
from ctct.cli import _console
from ctct.cli._console import countdown, escape, fingerprint, iso, provider_label, timestamp
from ctct.cli.auth_common import http_client, load_settings, token_manager
from ctct.errors import (
    AuthorizationRequired,
    ClientRejected,
    ConfigError,
    CtctError,
    NetworkError,
    ProviderError,
    StoreError,
    TransientProviderError,
)

if TYPE_CHECKING:
    from ctct._manager import TokenManager
    from ctct._tokens import TokenSet
    from ctct.stores import GrantKey, SealedStore


def print_token(
    flags: dict[str, Any],
    *,
    fmt: str = "token",
    min_valid: float = 0.0,
    sink: Path | None = None,
    sink_mode: str = "0600",
    sink_group: str | None = None,
) -> None:
    """A valid access token on stdout (refreshed if due) in ``fmt``, or a sink file."""
    from ctct.broker.formats import document, render

    settings = load_settings(flags)
    with http_client(settings) as http, token_manager(settings, http) as manager:
        if sink is not None:
            _run_sink(manager, sink, fmt, sink_mode, sink_group)
            return
        tokens = manager.current(min_valid=min_valid)
        now = manager.clock()
    if tokens.access_token is None:  # pragma: no cover - current() raises first
        raise AuthorizationRequired("no access token", code="no_access_token")
    doc = document(
        profile=settings.profile,
        access_token=tokens.access_token.reveal(),
        token_type=tokens.token_type,
        expires_at=tokens.expires_at,
        scopes=tokens.scopes,
        now=now,
    )
    sys.stdout.write(render(fmt, doc))  # type: ignore[arg-type]
    sys.stdout.flush()


def _run_sink(
    manager: TokenManager, path: Path, fmt: str, mode_text: str, group: str | None
) -> None:
    from ctct.broker.sink import Sink, SinkSpec
    from ctct.cli.broker_cmd import _mode

    spec = SinkSpec(path.resolve(), mode=_mode(mode_text), group=group, format=fmt)  # type: ignore[arg-type]
    sink = Sink(manager, spec)
    sink.run_once()
    _console.note(f"Keeping {spec.path} current for profile {manager.profile!r} (Ctrl-C stops).")
    sink.run()


def refresh(flags: dict[str, Any], *, force: bool, as_json: bool) -> None:
    """Refresh now (``force``) or only when due, and say what happened."""
    settings = load_settings(flags)
    with http_client(settings) as http, token_manager(settings, http) as manager:
        before = manager.tokens()
        if before is None:
            raise manager.not_logged_in()
        try:
            after = manager.refresh(force=force)
        except (TransientProviderError, NetworkError) as error:
            raise _refresh_failed(settings.profile, error, before, manager.clock()) from None
        now = manager.clock()
    refreshed = after.received_at != before.received_at
    if after.refresh_token is None and (force or before.refresh_token is not None):
        # The server rejected the refresh token (now or earlier): not "still fresh".
        dead_end = _no_refresh_token(settings.profile, before, after, now)
        if as_json:
            _console.print_json(_dead_end_json(settings.profile, after, dead_end))
        raise dead_end
    if as_json:
        _console.print_json(
            {
                "profile": settings.profile,
                "refreshed": refreshed,
                "expires_at": iso(after.expires_at),
                "refresh_token_type": after.refresh_token_type,
                "refresh_token_rotated": refreshed
                and after.refresh_token is not None
                and after.refresh_token != before.refresh_token,
            }
        )
        return
    console = _console.out()
    expires = f"expires {countdown(after.expires_at, now)}" if after.expires_at is not None else ""
    if not refreshed:
        console.print(
            f"The access token of profile {escape(settings.profile)!s} is still fresh ({expires}): "
            "nothing to do. Use --force to refresh anyway."
        )
        return
    console.print(
        f"[green]Refreshed[/] profile {escape(settings.profile)}: new access token "
        f"{fingerprint(after.access_token.reveal()) if after.access_token else '-'}, "
        f"{expires}."
    )
    if after.refresh_token is not None and before.refresh_token is not None:
        if after.refresh_token != before.refresh_token:
            console.print(
                "The refresh token rotated: "
                f"{fingerprint(before.refresh_token.reveal())} → "
                f"{fingerprint(after.refresh_token.reveal())} (the old one is now invalid)."
            )
        else:
            console.print("The refresh token is long-lived: the same one stays valid.")


def _no_refresh_token(
    profile: str, before: TokenSet, after: TokenSet, now: float
) -> AuthorizationRequired:
    """Exit 4 for a refresh that cannot happen: the refresh token is gone."""
    why = (
        "the provider rejected the refresh token (invalid_grant: expired, revoked or already used)"
        if before.refresh_token is not None
        else "the grant has no refresh token left (the provider rejected it earlier)"
    )
    if after.access_token is None or after.expires_at is None or after.expires_at <= now:
        works = "there is no valid access token left"
    else:
        works = (
            f"the current access token works until it expires, {timestamp(after.expires_at)} "
            f"({countdown(after.expires_at, now)})"
        )
    return AuthorizationRequired(
        f"Could not refresh profile {profile!r}: {why}; {works}. Run `ctct auth login` "
        "to authorize again.",
        code="invalid_grant" if before.refresh_token is not None else "no_refresh_token",
    )


def _dead_end_json(profile: str, after: TokenSet, error: AuthorizationRequired) -> dict[str, Any]:
    return {
        "profile": profile,
        "refreshed": False,
        "refresh_token_rejected": True,
        "expires_at": iso(after.expires_at),
        "access_token_valid_until": iso(after.expires_at) if after.access_token else None,
        "error": {"code": error.code, "exit_code": error.exit_code, "message": error.message},
    }


def _refresh_failed(profile: str, error: CtctError, tokens: TokenSet, now: float) -> CtctError:
    """The provider failed for now: keep the exit code of the failure, and say that the
    current token stays in use."""
    detail = error.message.rstrip(".")
    expires = (
        f" (it expires {countdown(tokens.expires_at, now)})"
        if tokens.expires_at is not None
        else ""
    )
    message = (
        f"Could not refresh profile {profile!r} now: {detail}. The current access token "
        f"stays in use{expires}; try again later."
    )
    return type(error)(message, code=error.code)


# -- logout -------------------------------------------------------------------------------


def logout(flags: dict[str, Any], *, local: bool, force: bool = False) -> None:
    """Revoke at the server, then forget locally (see the module docstring)."""
    from ctct.stores import RecordUnreadable

    settings = load_settings(flags)
    console = _console.out()
    with http_client(settings) as http, token_manager(settings, http) as manager:
        try:
            tokens = manager.tokens()
        except RecordUnreadable:
            if not (local and force):
                raise
            manager.forget()  # deletes without reading it
            console.print(
                f"Removed the unreadable record of profile {escape(settings.profile)} from "
                "the store (--local --force); other profiles are untouched."
            )
            _console.warn(
                "its tokens could not be read, so they were not revoked at the server; "
                "revoke the app's access in the account if they could have leaked"
            )
            return
        if tokens is None:
            console.print(f"Profile {escape(settings.profile)} has no stored grant: nothing to do.")
            return
        failure = revoke(manager, http, tokens, settings.timeout)
        if failure is None:
            manager.forget()
            console.print(
                f"[green]Logged out[/] profile {escape(settings.profile)}: the grant was revoked "
                "at the server and deleted from the store."
            )
            return
        if local:
            manager.forget()
            console.print(
                f"Deleted the grant of profile {escape(settings.profile)} from the store "
                "(--local), but the server could not revoke it: "
                f"{escape(failure.message)}"
            )
            _console.warn(
                "the grant may stay valid at the server; revoke the app's access in the "
                "Constant Contact account if the refresh token could have leaked"
            )
            return
    failure.message = (
        f"Could not revoke the grant at the server, so the tokens were kept: {failure.message} "
        "Retry later, or use `ctct auth logout --local` to forget them anyway."
    )
    raise failure


def revoke(manager: TokenManager, http: Any, tokens: TokenSet, timeout: float) -> CtctError | None:
    """None when the server revoked the token or said it was already invalid; else why not."""
    from ctct._oauth_http import send
    from ctct._oauth_requests import check_revoke_response, revoke_request

    if tokens.refresh_token is not None:
        token, hint = tokens.refresh_token, "refresh_token"
    elif tokens.access_token is not None:
        token, hint = tokens.access_token, "access_token"
    else:
        return None
    try:
        request = revoke_request(manager.provider, manager.client, token, token_type_hint=hint)  # type: ignore[arg-type]
        check_revoke_response(send(http, request, timeout=timeout), held=in_tokens(tokens))
    except ClientRejected as exc:
        return exc  # our credentials were refused: the server said nothing about the token
    except AuthorizationRequired as exc:
        if exc.code in ("invalid_grant", "invalid_token"):
            return None  # already invalid at the server: nothing left to revoke
        return exc
    except ConfigError as exc:
        return exc  # no revocation endpoint
    except ProviderError as exc:
        if exc.code in ("invalid_token", "invalid_grant") and not exc.retryable:
            return None
        return exc
    except CtctError as exc:  # network failures
        return exc
    return None


# -- list ---------------------------------------------------------------------------------


@dataclass
class _Row:
    key: GrantKey
    tokens: TokenSet | None
    problem: str | None


def list_profiles(flags: dict[str, Any], *, as_json: bool) -> None:
    """Every grant in the store, with its state; the current profile is marked."""
    from ctct.stores import open_store

    settings = load_settings(flags, want_secret=False)
    now = _now()
    with open_store(settings.store) as store:
        rows = _rows(store)
        info = store.describe()
    current_issuer = _current_issuer(settings)
    if as_json:
        _console.print_json(
            {
                "store": redact_url(info.location),
                "encrypted": info.encryption is not None,
                "grants": [_row_json(row, now, settings.profile, current_issuer) for row in rows],
            }
        )
        return
    # On a terminal the store and the legend frame the table; piped, stdout carries
    # only the rows (tab-separated, as gh prints them) and the frame goes to stderr.
    piped = not sys.stdout.isatty()
    console = _console.err() if piped else _console.out()
    encryption = "encrypted" if info.encryption is not None else "[yellow]NOT encrypted[/]"
    console.print(f"Store: {escape(redact_url(info.location))} ({encryption})")
    if not rows:
        console.print("No grants stored: run `ctct auth login`.")
        return
    table = []
    for row in rows:
        data = _row_json(row, now, settings.profile, current_issuer)
        tokens = row.tokens
        table.append(
            (
                "*" if data["current"] else "",
                row.key.profile,
                data["state"],
                countdown(tokens.expires_at, now) if tokens and tokens.expires_at else "-",
                _refresh_label(tokens),
                " ".join(data["scopes"]),
                f"{provider_label(row.key.issuer)} (client {row.key.client_id})",
            )
        )
    _console.table(
        ("", "profile", "state", "expires", "refresh token", "scopes", "provider"),
        table,
        no_wrap=("profile", "state"),
    )
    if any(r.problem for r in rows):
        for row in rows:
            if row.problem:
                _console.warn(f"profile {row.key.profile}: {row.problem}")
    console.print("* = the profile these settings select")


def _now() -> float:
    import time

    return time.time()


def _rows(store: SealedStore) -> list[_Row]:
    from ctct._tokens import TokenSet

    rows = []
    for key in store.keys():  # noqa: SIM118 - a store, not a dict
        if key.issuer.startswith("ctct:"):
            continue  # bookkeeping records (the keeper's account details), not grants
        try:
            record = store.load(key)
            tokens = (
                None if record is None else TokenSet.from_json(record.data, record.clock_offset)
            )
            rows.append(_Row(key, tokens, None))
        except StoreError as exc:
            rows.append(_Row(key, None, exc.message))
    return rows


def _current_issuer(settings: Any) -> str | None:
    try:
        return str(settings.provider().storage_issuer) if not settings.needs_discovery else None
    except CtctError:
        return None


def _row_json(row: _Row, now: float, profile: str, issuer: str | None) -> dict[str, Any]:
    tokens = row.tokens
    current = row.key.profile == profile and (issuer is None or row.key.issuer == issuer)
    if tokens is None:
        state = "unreadable"
    else:
        state = tokens.state(now).value.replace("_", " ")
        if state == "expired" and tokens.refresh_token is not None:
            state = "expired (refreshable)"
    return {
        "profile": row.key.profile,
        "issuer": row.key.issuer,
        "client_id": row.key.client_id,
        "current": current,
        "state": state,
        "problem": row.problem,
        "expires_at": iso(tokens.expires_at) if tokens else None,
        "scopes": sorted(tokens.scopes) if tokens else [],
        "refresh_token": tokens is not None and tokens.refresh_token is not None,
        "refresh_token_type": tokens.refresh_token_type if tokens else None,
        "last_refresh_at": iso(tokens.last_refresh_at) if tokens else None,
        "obtained": timestamp(tokens.obtained_at) if tokens else None,
    }


def _refresh_label(tokens: TokenSet | None) -> str:
    if tokens is None:
        return "-"
    if tokens.refresh_token is None:
        return "none"
    return tokens.refresh_token_type or "yes"
