"""What the person sees during a login: ``EventPrinter`` turns ``LoginEvent``s into
lines on stderr (the device code and URL with a QR code, the authorization URL, waiting
notices, a difference in granted scopes). ``ctct auth login`` and ``Login`` (by default)
both show a login through it, so the library and the CLI say the same thing.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, TextIO

from ctct.cli._console import countdown, err, escape, warn

if TYPE_CHECKING:
    from ctct.flows._events import EventHandler, LoginEvent


def _is_terminal(stream: TextIO | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except ValueError:  # closed
        return False


def shown(handler: EventHandler | None, *, qr: bool | None = None) -> EventHandler:
    """``handler`` (if any) after an ``EventPrinter``: the person sees the login, and
    the caller still gets every event."""
    printer = EventPrinter(qr=qr)
    if handler is None:
        return printer

    def both(event: LoginEvent) -> None:
        printer(event)
        handler(event)

    return both


class EventPrinter:
    """Shows a login's events to the person, on stderr: an ``on_event`` handler.

    ``qr``: draw the QR code of the device flow's verification URL (default: only when
    stderr is a terminal; piped into a log it is noise).
    """

    def __init__(self, *, qr: bool | None = None) -> None:
        self.scopes_warned = False
        self.qr = qr

    def __call__(self, event: LoginEvent) -> None:
        from ctct.flows import (
            AuthorizationUrlReady,
            DeviceCodeIssued,
            OtherLoginFinished,
            PollingSlowedDown,
            ScopesDiffer,
            WaitingForCallback,
            WaitingForOtherLogin,
            qr_text,
        )

        console = err()
        if isinstance(event, DeviceCodeIssued):
            self._device_code(event, qr_text)
        elif isinstance(event, PollingSlowedDown):
            why = (
                "the server asked to slow down"
                if event.reason == "slow_down"
                else ("the server did not answer")
            )
            console.print(f"({why}: checking every {event.interval:g} s now)")
        elif isinstance(event, AuthorizationUrlReady):
            self._authorization_url(event)
        elif isinstance(event, WaitingForCallback):
            console.print(
                f"Waiting for the browser to come back to {escape(event.redirect_uri)} "
                f"(up to {event.timeout:g} s)…"
            )
        elif isinstance(event, WaitingForOtherLogin):
            console.print(escape(event.message))
        elif isinstance(event, OtherLoginFinished):
            if event.tokens is not None:
                console.print("The other login finished and stored a grant.")
            else:
                console.print("The other login ended without storing a grant; going ahead.")
        elif isinstance(event, ScopesDiffer):
            self.scopes_warned = True
            warn(event.message)

    def _device_code(self, event: Any, qr_text: Any) -> None:
        console = err()
        console.print()
        console.print(
            f"To log in, open [bold]{escape(event.verification_uri)}[/] on any device and "
            f"enter the code [bold]{escape(event.user_code)}[/]"
        )
        qr = None
        draw = self.qr if self.qr is not None else _is_terminal(sys.stderr)
        if draw and event.verification_uri_complete:
            try:
                qr = qr_text(event.verification_uri_complete)
            except ValueError:  # too long for any QR code: the URL and code still work
                qr = None
        if qr is not None:
            console.print(
                f"or scan this code, which opens {escape(event.verification_uri_complete)}:"
            )
            # Printed as is: the QR code's block characters are not markup.
            sys.stderr.write(qr)
            sys.stderr.flush()
        console.print(
            f"Waiting for approval (the code expires {countdown(event.expires_at)}; "
            "Ctrl-C to stop)…"
        )

    def _authorization_url(self, event: Any) -> None:
        console = err()
        if event.flow == "browser":
            if event.browser_opened:
                console.print(
                    "Opened your browser to sign in. If it did not appear, open this URL:"
                )
            else:
                console.print("Could not open a browser: open this URL to sign in:")
        else:
            console.print("Open this URL in a browser (on any machine), sign in and approve:")
        # The URL alone on its line, unwrapped, so it can be copied whole.
        sys.stderr.write(event.url + "\n")
        sys.stderr.flush()
