"""The status page's HTML: plain server-rendered pages, every value escaped, no script
(the CSP forbids it), one stylesheet served by the page itself, the plan as inline SVG.

Nothing here reads a token: rows carry times, codes and names only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from typing import Final
from urllib.parse import urlencode

from ctct.keeper.capacity import Utilization
from ctct.keeper.chart import bins, plan_svg
from ctct.keeper.states import State
from ctct.keeper.ui_accounts import AccountPage, AccountRow

STYLESHEET_PATH: Final = "/static/keeper.css"
CHART_BINS: Final = 48
CHART_SPAN: Final = 86_400.0

CSS: Final = """
:root{--ink:#1d2733;--muted:#5b6776;--line:#d8dee6;--bg:#f4f6f8;--ok:#11683a;--bad:#8a1414;
--warn:#8a5a00;--accent:#1856ed}
*{box-sizing:border-box}
body{font-family:system-ui,sans-serif;color:var(--ink);background:var(--bg);margin:0}
header{background:#fff;border-bottom:1px solid var(--line);padding:.7rem 1.5rem;display:flex;
align-items:center;gap:1rem}
header h1{font-size:1.15rem;margin:0;flex:1}
main{padding:1rem 1.5rem;max-width:110rem}
section{background:#fff;border:1px solid var(--line);border-radius:6px;padding:1rem;
margin-bottom:1rem}
h2{font-size:1rem;margin:0 0 .6rem}
table{border-collapse:collapse;width:100%;font-size:.88rem}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid var(--line);
vertical-align:top}
th{color:var(--muted);font-weight:600;white-space:nowrap}
td.num{white-space:nowrap}
.state{display:inline-block;padding:.05rem .45rem;border-radius:3px;font-size:.8rem;
font-weight:600;background:#e8ecf1}
.state-ok{background:#dff3e7;color:var(--ok)}
.state-needs_login,.state-app_error{background:#f8e1e1;color:var(--bad)}
.state-at_risk,.state-shed{background:#fbefd5;color:var(--warn)}
.state-paused,.state-disconnected{background:#e8ecf1;color:var(--muted)}
nav.filters a{margin-right:.8rem;text-decoration:none;color:var(--accent)}
nav.filters a.current{font-weight:700;color:var(--ink)}
form.inline{display:inline}
button{font:inherit;font-size:.82rem;padding:.2rem .6rem;border:1px solid #9aa6b2;
border-radius:4px;background:#fff;cursor:pointer}
button.primary{background:var(--accent);border-color:var(--accent);color:#fff}
button.danger{border-color:var(--bad);color:var(--bad)}
input,select{font:inherit;padding:.3rem .4rem}
label{margin-right:.6rem}
.muted{color:var(--muted)}
.notice{padding:.6rem .8rem;border-radius:4px;background:#e8f0fe;margin-bottom:1rem}
.error{background:#f8e1e1;color:var(--bad)}
.success{background:#dff3e7;color:var(--ok)}
svg.plan{width:100%;max-width:60rem;height:auto;display:block}
.overload{color:var(--bad);font-weight:700}
.card{max-width:34rem;margin:3rem auto}
"""


@dataclass(frozen=True)
class Chrome:
    """What every page needs: the CSRF token for its forms, who is looking."""

    csrf: str
    operator: bool
    login_needed: bool


def document(title: str, body: str, chrome: Chrome | None = None, *, head: str = "") -> str:
    nav = ""
    if chrome is not None and chrome.operator and chrome.login_needed:
        nav = (
            "<form class='inline' method='post' action='/logout'>"
            f"{csrf_field(chrome.csrf)}<button id='logout' type='submit'>Log out</button></form>"
        )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<meta name='referrer' content='no-referrer'>{head}"
        f"<title>{escape(title)}</title>"
        f"<link rel='stylesheet' href='{STYLESHEET_PATH}'></head><body>"
        f"<header><h1>ctct keeper</h1>{nav}</header><main>{body}</main></body></html>"
    )


def csrf_field(token: str) -> str:
    return f"<input type='hidden' name='csrf' value='{escape(token)}'>"


def message_page(title: str, message: str, *, kind: str, chrome: Chrome | None, back: bool) -> str:
    link = "<p><a href='/' id='back'>Back to the status page</a></p>" if back else ""
    body = (
        f"<section class='card'><h2 id='title'>{escape(title)}</h2>"
        f"<p id='message' class='notice {escape(kind)}'>{escape(message)}</p>{link}</section>"
    )
    return document(title, body, chrome)


def login_page(chrome: Chrome, *, error: str | None = None) -> str:
    problem = f"<p class='notice error' id='error'>{escape(error)}</p>" if error else ""
    body = (
        "<section class='card'><h2>Operator login</h2>"
        f"{problem}<form method='post' action='/login'>{csrf_field(chrome.csrf)}"
        "<p><label for='password'>Password or token</label>"
        "<input id='password' name='password' type='password' autocomplete='current-password' "
        "required autofocus></p>"
        "<p><button class='primary' id='login' type='submit'>Log in</button></p>"
        "</form></section>"
    )
    return document("Log in - ctct keeper", body, Chrome(chrome.csrf, False, True))


# -- the status page ---------------------------------------------------------------------


@dataclass(frozen=True)
class PlanPicture:
    upcoming: Sequence[float]
    """Planned refresh times (local clock)."""
    utilization: dict[str, Utilization]
    scanned_at: float
    """When the plan was computed (0: this replica has not computed one)."""
    capacity_per_second: float
    overloaded: dict[str, bool] = field(default_factory=dict)
    shed_by_client: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class AppChoice:
    ref: str
    label: str


def status_page(
    chrome: Chrome,
    accounts: AccountPage,
    *,
    state: str | None,
    plan: PlanPicture,
    apps: Sequence[AppChoice],
    can_connect: str | None,
    now: float,
    server_offset: float,
    notice: str | None = None,
) -> str:
    """``can_connect``: None when connecting works, else why not (no public URL)."""
    parts = []
    if notice:
        parts.append(f"<p class='notice' id='notice'>{escape(notice)}</p>")
    parts.append(_overload_banner(plan, accounts.counts.get(State.SHED.value, 0)))
    parts.append(_plan_section(plan, now))
    parts.append(_accounts_section(chrome, accounts, state, now, server_offset, len(apps) > 1))
    parts.append(_connect_section(chrome, apps, can_connect))
    return document("Status - ctct keeper", "".join(parts), chrome)


def _overload_banner(plan: PlanPicture, shed: int) -> str:
    """Over capacity is said loudly, with the numbers."""
    over = sorted(c for c, flag in plan.overloaded.items() if flag)
    if not over and not (shed and not plan.scanned_at):
        return ""
    lines = []
    for client_id in over:
        use = plan.utilization.get(client_id)
        kept = (
            f"; the kept plan makes {use.demand * 86_400:,.0f} refreshes/day of the "
            f"{use.capacity * 86_400:,.0f} the keeper may make ({use.ratio:.0%})"
            if use is not None
            else ""
        )
        count = plan.shed_by_client.get(client_id, 0)
        lines.append(
            f"<li>client {escape(client_id)}: {count} keep-fresh account(s) shed to "
            f"keep-alive{kept}</li>"
        )
    return (
        "<section class='notice error' id='overload'><h2>OVERLOAD: more keep-fresh accounts "
        "than the token endpoint allows</h2>"
        f"<ul>{''.join(lines)}</ul><p>Every refresh-token idle deadline is kept; {shed} "
        "account(s) are shed to keep-alive (state shed: their access tokens are not kept "
        "fresh), the same ones every time. Add applications, lower the headroom, or move "
        "rarely used accounts to keep-alive.</p></section>"
    )


def _plan_section(plan: PlanPicture, now: float) -> str:
    counts = bins(plan.upcoming, start=now, span=CHART_SPAN, count=CHART_BINS)
    per_bin = plan.capacity_per_second * CHART_SPAN / CHART_BINS
    over = any(c > per_bin for c in counts)
    svg = plan_svg(
        counts,
        per_bin,
        title=f"Planned refreshes per {CHART_SPAN / CHART_BINS / 60:g} minutes, next 24 h",
        span_hours=CHART_SPAN / 3_600,
    )
    if plan.scanned_at:
        age = f"computed {_relative(plan.scanned_at, now)}"
    else:
        age = (
            "this replica does not hold the planner lease and has not computed a plan; "
            "shown: each account's next planned refresh only"
        )
    rows = []
    for client_id, use in sorted(plan.utilization.items()):
        css = " class='overload'" if use.overloaded else ""
        verdict = "OVERLOADED" if use.overloaded else "fits"
        rows.append(
            f"<tr{css}><td>{escape(client_id)}</td><td class='num'>{use.ratio:.0%}</td>"
            f"<td class='num'>{use.demand * 86_400:,.0f}</td>"
            f"<td class='num'>{use.capacity * 86_400:,.0f}</td><td>{verdict}</td></tr>"
        )
    table = (
        "<table id='utilization'><tr><th>Application</th><th>Plan utilization</th>"
        "<th>Refreshes/day planned</th><th>Keeper capacity/day</th><th></th></tr>"
        + "".join(rows)
        + "</table>"
        if rows
        else ""
    )
    warning = (
        "<p class='overload' id='saturated'>Some periods need more refreshes than the "
        "token endpoint allows the keeper (red bars).</p>"
        if over
        else ""
    )
    peak = max(counts, default=0)
    busiest = f"busiest bin: {peak:,} planned" + (
        f" ({peak / per_bin:.0%} of capacity)" if per_bin > 0 else ""
    )
    return (
        "<section id='plan'><h2>Plan</h2>"
        f"{svg}<p class='muted'>Bars: refreshes planned per bin; dashed line: what the "
        f"keeper's share of the token endpoint can make per bin; {escape(busiest)}. "
        f"Plan {escape(age)}.</p>{warning}{table}</section>"
    )


def _filters(counts: dict[str, int], state: str | None, total: int) -> str:
    links = [_filter_link(None, f"All ({sum(counts.values())})", state is None)]
    codes = [s.value for s in State] + sorted(set(counts) - {s.value for s in State})
    for code in codes:
        if counts.get(code):
            links.append(_filter_link(code, f"{code} ({counts[code]})", state == code))
    return f"<nav class='filters' id='filters'>Show: {''.join(links)}</nav>"


def _filter_link(code: str | None, label: str, current: bool) -> str:
    href = "/" if code is None else "/?" + urlencode({"state": code})
    css = " class='current'" if current else ""
    ident = f" id='filter-{escape(code)}'" if code else " id='filter-all'"
    return f"<a href='{escape(href)}'{css}{ident}>{escape(label)}</a>"


def _accounts_section(
    chrome: Chrome,
    accounts: AccountPage,
    state: str | None,
    now: float,
    offset: float,
    show_client: bool,
) -> str:
    head = (
        "<tr><th>Profile</th><th>Account</th><th>State</th><th>Reason</th><th>Policy</th>"
        "<th>Access token expires</th><th>Refresh token idle deadline</th>"
        "<th>Last refresh</th><th>Next refresh</th><th>Last error</th><th>Actions</th></tr>"
    )
    rows = "".join(_account_row(chrome, row, now, offset, show_client) for row in accounts.rows)
    if not accounts.rows:
        rows = "<tr><td colspan='11' class='muted' id='empty'>No accounts.</td></tr>"
    pager = ""
    if accounts.pages > 1:
        links = []
        for number in range(1, accounts.pages + 1):
            query = {"page": str(number)} | ({"state": state} if state else {})
            if number == accounts.page:
                links.append(f"<strong>{number}</strong>")
            else:
                links.append(f"<a href='/?{escape(urlencode(query))}'>{number}</a>")
        pager = f"<p class='muted'>{accounts.total} accounts; page {' '.join(links)}</p>"
    return (
        "<section id='accounts'><h2>Accounts</h2>"
        f"{_filters(accounts.counts, state, accounts.total)}"
        f"<table id='account-table'>{head}{rows}</table>{pager}</section>"
    )


def _account_row(
    chrome: Chrome, row: AccountRow, now: float, offset: float, show_client: bool
) -> str:
    reason = row.reason
    if row.state == State.NEEDS_LOGIN.value and reason:
        reason += " (inferred)"
    next_local = None if row.next_refresh_at is None else row.next_refresh_at - offset
    since = f" title='since {escape(_iso(row.since))}'" if row.since else ""
    client = f"<div class='muted'>{escape(row.key.client_id)}</div>" if show_client else ""
    cells = [
        f"<td class='profile' title='client {escape(row.key.client_id)}'>"
        f"{escape(row.key.profile)}{client}</td>",
        f"<td class='name'>{escape(row.name or '')}</td>",
        f"<td><span class='state state-{escape(row.state)}'{since}>{escape(row.state)}</span></td>",
        f"<td class='reason'>{escape(reason)}</td>",
        f"<td>{escape(row.policy)}</td>",
        _time_cell(row.access_expires_at, now),
        _time_cell(row.idle_deadline, now),
        _time_cell(row.last_refresh_at, now),
        _time_cell(next_local, now),
        f"<td class='last-error'>{escape(row.last_error or '')}</td>",
        f"<td class='actions'>{_actions(chrome, row)}</td>",
    ]
    return f"<tr class='account' data-profile='{escape(row.key.profile)}'>{''.join(cells)}</tr>"


def _actions(chrome: Chrome, row: AccountRow) -> str:
    buttons = []
    if row.state == State.PAUSED.value:
        buttons.append(_post_button(chrome, "/accounts/resume", row.ref, "Resume", "resume"))
    elif row.state != State.DISCONNECTED.value:
        buttons.append(_post_button(chrome, "/accounts/pause", row.ref, "Pause", "pause"))
    if row.state == State.NEEDS_LOGIN.value:
        buttons.append(
            "<form class='inline' method='post' action='/accounts/reconnect'>"
            f"{csrf_field(chrome.csrf)}<input type='hidden' name='account' value='{row.ref}'>"
            "<button class='primary' type='submit' name='action' value='reconnect'>"
            "Reconnect</button> <label class='muted'><input type='checkbox' name='override' "
            "value='yes'> allow another CC account</label></form>"
        )
    if row.state != State.DISCONNECTED.value:
        buttons.append(
            f"<a class='disconnect' href='/accounts/disconnect?account={row.ref}'>Disconnect</a>"
        )
    return " ".join(buttons)


def _post_button(chrome: Chrome, action: str, ref: str, label: str, name: str) -> str:
    return (
        f"<form class='inline' method='post' action='{action}'>{csrf_field(chrome.csrf)}"
        f"<input type='hidden' name='account' value='{ref}'>"
        f"<button type='submit' name='action' value='{name}'>{escape(label)}</button></form>"
    )


def disconnect_page(chrome: Chrome, row: AccountRow) -> str:
    body = (
        "<section class='card'><h2>Disconnect an account</h2>"
        f"<p>Disconnect <strong>{escape(row.key.profile)}</strong>"
        f"{' (' + escape(row.name) + ')' if row.name else ''}? Its grant is revoked at "
        "Constant Contact and forgotten here; connecting it again needs the account owner "
        "to sign in.</p>"
        f"<form method='post' action='/accounts/disconnect'>{csrf_field(chrome.csrf)}"
        f"<input type='hidden' name='account' value='{row.ref}'>"
        "<button class='danger' id='confirm-disconnect' type='submit'>Revoke and forget</button>"
        " <a href='/'>Cancel</a></form></section>"
    )
    return document("Disconnect - ctct keeper", body, chrome)


def _connect_section(chrome: Chrome, apps: Sequence[AppChoice], can_connect: str | None) -> str:
    if can_connect is not None:
        return (
            "<section id='connect'><h2>Connect an account</h2>"
            f"<p class='muted'>{escape(can_connect)}</p></section>"
        )
    if not apps:
        return (
            "<section id='connect'><h2>Connect an account</h2>"
            "<p class='muted'>No application is configured ([[apps]] in keeper.toml).</p>"
            "</section>"
        )
    if len(apps) == 1:
        chooser = f"<input type='hidden' name='app' value='{escape(apps[0].ref)}'>"
    else:
        options = "".join(
            f"<option value='{escape(a.ref)}'>{escape(a.label)}</option>" for a in apps
        )
        chooser = (
            "<label for='connect-app'>Application</label>"
            f"<select id='connect-app' name='app'>{options}</select> "
        )
    return (
        "<section id='connect'><h2>Connect an account</h2>"
        "<form method='post' action='/connect'>"
        f"{csrf_field(chrome.csrf)}<label for='connect-profile'>Profile name</label>"
        "<input id='connect-profile' name='profile' required maxlength='200' "
        "pattern='[A-Za-z0-9][A-Za-z0-9._@+-]*' placeholder='customer-name'> "
        f"{chooser}<button class='primary' id='connect-button' type='submit'>"
        "Connect with Constant Contact</button></form>"
        "<p class='muted'>The account owner signs in at Constant Contact and approves; the "
        "grant is stored under this profile.</p></section>"
    )


def continue_page(location: str) -> str:
    """Sends the browser on to the provider's authorization page (no script: a meta
    refresh, and a link for a browser that ignores it)."""
    url = escape(location)
    body = (
        "<section class='card'><h2>On to Constant Contact</h2>"
        f"<p>Sign in at Constant Contact and approve. <a id='continue' href='{url}'>"
        "Continue</a> if nothing happens.</p></section>"
    )
    refresh = f"<meta http-equiv='refresh' content='0; url={url}'>"
    return document("Connecting - ctct keeper", body, None, head=refresh)


def link_page(chrome: Chrome, link_id: str) -> str:
    body = (
        "<section class='card'><h2>Reconnect your Constant Contact account</h2>"
        "<p>The connection between your Constant Contact account and this service has "
        "stopped working. Sign in at Constant Contact as a user of the same account and "
        "approve to restore it. This link works once.</p>"
        f"<form method='post' action='/r/{escape(link_id)}'>{csrf_field(chrome.csrf)}"
        "<button class='primary' id='reconnect-link' type='submit'>"
        "Continue to Constant Contact</button></form></section>"
    )
    return document("Reconnect - ctct keeper", body, None)


# -- times -------------------------------------------------------------------------------


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _relative(ts: float, now: float) -> str:
    delta = ts - now
    span = abs(delta)
    if span < 60:
        text = f"{span:.0f} s"
    elif span < 3_600:
        text = f"{span / 60:.0f} min"
    elif span < 172_800:
        text = f"{span / 3_600:.1f} h"
    else:
        text = f"{span / 86_400:.0f} days"
    return f"in {text}" if delta >= 0 else f"{text} ago"


def _time_cell(ts: float | None, now: float) -> str:
    if ts is None or not math.isfinite(ts):
        return "<td class='num muted'>-</td>"
    return f"<td class='num' title='{_iso(ts)}'>{escape(_relative(ts, now))}</td>"
