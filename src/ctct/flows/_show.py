"""What the person sees during a login: ``EventPrinter`` turns ``LoginEvent``s into
lines on stderr (the device code and URL with a QR code, the authorization URL, waiting
notices, a difference in granted scopes). ``ctct auth login`` and ``Login`` (by default)
both show a login through it, so the library and the CLI say the same thing.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ctct.cli._console import countdown, duration, err, escape, warn
from ctct.cli._live_line import LiveLine

if TYPE_CHECKING:
    from ctct.flows._events import EventHandler, LoginEvent


def shown(printer: EventPrinter, handler: EventHandler | None) -> EventHandler:
    """``printer``, then ``handler`` (if any): the person sees the login, and the
    caller still gets every event."""
    if handler is None:
        return printer

    def both(event: LoginEvent) -> None:
        printer(event)
        handler(event)

    return both


class EventPrinter:
    """Shows a login's events to the person, on stderr: an ``on_event`` handler. On a
    terminal a device login also gets a QR code and a live countdown to the code's
    expiry (``close()`` ends it). ``qr``: draw the QR code anyway (``True``) or never
    (``False``); by default only on a terminal (in a log it is 30 lines of blocks)."""

    def __init__(self, clock: Callable[[], float] = time.time, *, qr: bool | None = None) -> None:
        self.scopes_warned = False
        self.clock = clock
        self.qr = qr
        self._live: LiveLine | None = None

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def __call__(self, event: LoginEvent) -> None:
        live = self._live
        if live is None:
            self._show(event)
            return
        with live.paused():
            self._show(event)

    def _show(self, event: LoginEvent) -> None:
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
            console.print(f"({why}: checking every {duration(event.interval)} now)")
        elif isinstance(event, AuthorizationUrlReady):
            self._authorization_url(event)
        elif isinstance(event, WaitingForCallback):
            console.print(
                f"Waiting for the browser to come back to {escape(event.redirect_uri)} "
                f"(up to {duration(event.timeout)})…"
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
        terminal = console.is_terminal
        draw = self.qr if self.qr is not None else terminal
        if event.verification_uri_complete and draw:
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
        if not terminal:
            if event.verification_uri_complete:
                console.print(
                    f"(or open {escape(event.verification_uri_complete)}, which has the code "
                    "filled in)"
                )
            console.print(
                f"Waiting for approval (the code expires "
                f"{countdown(event.expires_at, self.clock())}; Ctrl-C to stop)…"
            )
            return
        expires_at = event.expires_at

        def render() -> str:
            left = max(0.0, expires_at - self.clock())
            return f"Waiting for approval: the code expires in {duration(left)} (Ctrl-C to stop)…"

        self._live = LiveLine(sys.stderr, render)
        self._live.start()

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
