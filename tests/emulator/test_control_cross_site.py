"""The control API refuses what a web page on another site could make a browser send:
a form or ``text/plain`` POST, or a POST with no body type. A change needs
``Content-Type: application/json`` or an ``X-Requested-With`` header; the Host check
stays. Over real sockets, for every route that changes something, and from a real
Chromium page on another origin."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2
import pytest

from ctct.emulator.app import create_app
from ctct.testing import EmulatorHandle, start_emulator


@pytest.fixture
def emu() -> Iterator[EmulatorHandle]:
    with start_emulator() as handle:
        yield handle


def offset(emu: EmulatorHandle) -> float:
    return float(emu.clock()["offset"])


def changing_routes() -> list[tuple[str, str]]:
    """Every POST and DELETE route under /__emulator/, path parameters filled in."""
    found = []
    for route in create_app().routes:
        path = getattr(route, "path", "")
        if not path.startswith("/__emulator/"):
            continue
        for method in sorted(set(getattr(route, "methods", None) or ()) & {"POST", "DELETE"}):
            found.append((method, re.sub(r"\{[^}]+\}", "x", path)))
    return found


CROSS_SITE_SHAPES: list[tuple[dict[str, str], bytes, int]] = [
    ({"content-type": "text/plain"}, b'{"seconds": 3600}', 415),
    ({"content-type": "text/plain;charset=UTF-8"}, b'{"seconds": 3600}', 415),
    ({"content-type": "application/x-www-form-urlencoded"}, b"seconds=3600", 415),
    ({"content-type": "multipart/form-data; boundary=b"}, b"--b--\r\n", 415),
    ({}, b"", 403),
]


def test_every_changing_route_refuses_what_a_cross_site_page_can_send(
    emu: EmulatorHandle,
) -> None:
    routes = changing_routes()
    assert ("POST", "/__emulator/clock/advance") in routes and len(routes) > 20
    emu.inject_fault("api", "500", count=2)  # what a reset or DELETE /faults would forget
    with httpx2.Client(base_url=emu.base_url) as http:
        for method, path in routes:
            for headers, body, status in CROSS_SITE_SHAPES:
                answer = http.request(method, path, headers=headers, content=body)
                assert answer.status_code == status, (method, path, headers, answer.text)
                assert "application/json" in answer.json()["error_description"]
                assert "X-Requested-With" in answer.json()["error_description"]
    assert offset(emu) == 0
    assert emu.pending_faults()["api"] == 2


def test_json_or_the_custom_header_is_served_and_the_host_check_stays(
    emu: EmulatorHandle,
) -> None:
    with httpx2.Client(base_url=emu.base_url) as http:
        advance = "/__emulator/clock/advance"
        assert http.post(advance, json={"seconds": 10}).status_code == 200
        charset = {"content-type": "Application/JSON; charset=utf-8"}
        assert http.post(advance, content=b'{"seconds": 10}', headers=charset).status_code == 200
        custom = {"content-type": "text/plain", "x-requested-with": "my-ci"}
        assert http.post(advance, content=b'{"seconds": 10}', headers=custom).status_code == 200
        bare = {"x-requested-with": "XMLHttpRequest"}
        assert http.delete("/__emulator/faults", headers=bare).status_code == 200
        assert offset(emu) == 30
        # Reading is not guarded (a page cannot read the answers: no CORS, and the Host
        # check stops DNS rebinding).
        assert http.get("/__emulator/clock").status_code == 200
        rebinding = http.post(advance, json={"seconds": 10}, headers={"host": "evil.example"})
        assert rebinding.status_code == 421
    assert offset(emu) == 30


# -- a real browser on another site ----------------------------------------------------------


class _AttackerPage(BaseHTTPRequestHandler):
    """Another origin (a different port): a page whose script POSTs to the emulator."""

    target = ""

    def do_GET(self) -> None:
        script = f"""
        <!doctype html><title>cute cats</title><p id="status">sending</p>
        <form id="f" method="POST" action="{self.target}/__emulator/reset" target="sink"
              enctype="text/plain"><input name='{{"x":"' value='"}}'></form>
        <iframe name="sink"></iframe>
        <script>
        const send = (init) => fetch("{self.target}/__emulator/clock/advance",
                                     Object.assign({{method: "POST", mode: "no-cors"}}, init))
                               .catch(() => null);
        Promise.all([
          send({{body: '{{"seconds": 3600}}', headers: {{"Content-Type": "text/plain"}}}}),
          send({{}}),
          send({{body: new URLSearchParams({{seconds: "3600"}})}}),
          // Not a simple request: the browser must ask first, and the emulator says no.
          send({{mode: "cors", body: '{{"seconds": 3600}}',
                 headers: {{"Content-Type": "application/json"}}}}),
        ]).then(() => {{ document.getElementById("f").submit();
                        document.getElementById("status").textContent = "sent"; }});
        </script>"""
        body = script.encode()
        self.send_response(200)
        self.send_header("content-type", "text/html")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.browser
def test_a_page_on_another_site_cannot_drive_the_emulator_from_chromium(
    emu: EmulatorHandle,
) -> None:
    from playwright.sync_api import sync_playwright

    from tests.flows.conftest import CHROMIUM_ARGS

    emu.inject_fault("api", "500", count=3)  # what the form's reset would forget
    _AttackerPage.target = emu.base_url
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AttackerPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()
                page.goto(f"http://localhost:{server.server_address[1]}/")
                page.wait_for_function("document.getElementById('status').textContent == 'sent'")
                page.wait_for_timeout(500)  # the form's POST lands in the iframe
            finally:
                browser.close()
    finally:
        server.shutdown()
        server.server_close()
    assert offset(emu) == 0
    assert emu.pending_faults()["api"] == 3
    events = [e for e in emu.events() if "clock" in str(e.get("kind", ""))]
    assert events == []
