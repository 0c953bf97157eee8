"""A recording proxy that echoes every secret it sees: the malicious (or merely careless)
provider, proxy and API that ctct's masking must survive.

``EchoProxy(target)`` listens on a loopback socket and forwards every request to
``target`` (an emulator) over HTTP. On the way it records every secret the requests and
answers carry (form fields with tokens, codes, verifiers, device codes and the client
secret; Basic and Bearer credentials; the tokens and device codes the server issues),
and rewrites answers so they echo them back, in every encoding the masking rule names
(raw, URL-encoded, JSON-escaped, base64 standard and URL-safe, padded and not, and a
16-character run):

* token endpoint and revocation errors: ``error_description`` and ``error_uri`` (and
  ``error`` itself, for answers injected with ``inject(..., echo_code=True)``);
* V3 API errors: ``error_key`` and ``error_message`` of every entry;
* every answer: an ``X-Echo`` header, and the reason phrase of every error;
* device authorization answers: ``verification_uri`` and ``verification_uri_complete``
  (the user code stays as issued, so the login can still be approved);
* ``/.well-known/*`` discovery documents it is told to serve (``serve_discovery``).

What it echoes is what the client *holds* at that moment: the secrets of the request it
answers, the client secret, and the tokens and device codes it delivered that are still
live (a rotated-away refresh token, a revoked token or a used device code is dropped).
``seen`` keeps every secret ever seen, for checks. Each echo also names a UUID and a
request id (``MARKERS``) that must stay readable after masking.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote_plus

import httpx2

from ctct import _cc

REQUEST_ID = "req-7f3e9c1a2b4d"
TRACE_UUID = "9b2f7c4e-1a3d-4e5f-8a6b-7c8d9e0f1a2b"
MARKERS = (REQUEST_ID, TRACE_UUID)
"""Ids every echo carries: masking must leave them readable."""
CONTROLS = "\x1b]0;echoed title\x07\x1b[2J\x1b[31m\x9b31m\u202eright-to-left"
"""Terminal controls every echo in a body carries (OSC title, clear screen, colour,
C1 CSI, a bidi override): none may reach the terminal raw."""

_SECRET_FIELDS = ("refresh_token", "code", "code_verifier", "device_code", "token", "client_secret")
_HOP_BY_HOP = frozenset(
    {"content-length", "transfer-encoding", "connection", "content-encoding", "keep-alive"}
)


def encodings(secret: str) -> list[str]:
    """How the proxy echoes ``secret``: raw, URL-encoded, JSON-escaped, base64 std and
    URL-safe with and without padding (each computed here, not by ctct's code)."""
    b64 = base64.b64encode(secret.encode()).decode()
    urlsafe = base64.urlsafe_b64encode(secret.encode()).decode()
    return [
        secret,
        quote(secret, safe=""),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        b64,
        b64.rstrip("="),
        urlsafe,
        urlsafe.rstrip("="),
    ]


def leaks(text: str, secrets: Iterable[str], run: int = 12) -> list[str]:
    """Which of ``secrets`` ``text`` shows: any of its encodings whole, or any run of
    ``run`` consecutive characters of one. Returns a description per leak."""
    found = []
    for secret in secrets:
        for form in dict.fromkeys(encodings(secret)):
            if len(form) < run:
                if form in text:
                    found.append(f"{form!r} (whole)")
                continue
            for i in range(len(form) - run + 1):
                if form[i : i + run] in text:
                    found.append(f"{form[:6]}… run {form[i : i + run]!r}")
                    break
    return found


@dataclass
class _Injection:
    path: str
    status: int
    error: str
    echo_code: bool
    times: int
    api: bool = False


class EchoProxy:
    """See the module docstring. Use as a context manager, or call ``close()``."""

    def __init__(self, target: str) -> None:
        self.target = target.rstrip("/")
        self.seen: list[str] = []
        self._live: dict[str, str] = {}  # secret -> kind ("access", "refresh", ...)
        self._lock = threading.RLock()
        self._injections: list[_Injection] = []
        self._discovery: dict[str, Any] | None = None
        self._forge = 0
        self.rewritten: list[str] = []  # "METHOD path -> status" of every echoing answer
        self._http = httpx2.Client(timeout=30)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items()}
                status, reason, answer_headers, content = outer._answer(
                    self.command, self.path, headers, body
                )
                self.send_response(status, reason)
                for name, value in answer_headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(content)
                self.close_connection = True

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    # -- test controls -----------------------------------------------------------------

    def inject(
        self,
        path: str,
        status: int,
        error: str = "server_error",
        *,
        echo_code: bool = False,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` requests to ``path`` with an error of our own
        (not forwarded), echoing what the client holds; ``echo_code`` puts the echo in
        the ``error`` code too. A path under ``/v3`` gets a V3 API error body."""
        with self._lock:
            self._injections.append(
                _Injection(path, status, error, echo_code, times, api=path.startswith("/v3"))
            )

    def forge_access_tokens(self, times: int = 1) -> None:
        """Replace the access token of the next ``times`` token answers with a JWT of
        our own whose ``kid`` header is the refresh token issued with it: verification
        fails on the key id, and its message must not show that refresh token."""
        with self._lock:
            self._forge += times

    def serve_discovery(self, document: dict[str, Any]) -> None:
        """Answer ``/.well-known/...`` with ``document``, every string value echoing."""
        self._discovery = document

    def remember(self, *secrets: str, kind: str = "client_secret") -> None:
        """Count ``secrets`` as held by the client (e.g. a client secret it has not sent yet)."""
        with self._lock:
            for secret in secrets:
                self._note(secret, kind)

    def echo(self, request_secrets: Iterable[str] = (), *, compact: bool = False) -> str:
        """The text echoed back: every held secret in every encoding, plus a 16-char run
        (``compact``: each only raw, short enough for a header)."""
        with self._lock:
            held = list(dict.fromkeys([*request_secrets, *self._live]))
        parts = [f"request {REQUEST_ID} trace {TRACE_UUID}:"]
        if not compact:
            parts.append(CONTROLS)
        # Each raw first (a message cut short still shows them all), then the rest.
        parts.extend(held)
        if not compact:
            for secret in held:
                parts.extend(encodings(secret)[1:])
        parts.extend(f"partial={secret[2:18]}" for secret in held)
        return " ".join(parts)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._http.close()

    def __enter__(self) -> EchoProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the proxy ---------------------------------------------------------------------

    def _note(self, secret: str | None, kind: str) -> None:
        """Record ``secret`` as seen and held by the client (call with the lock held)."""
        if not secret:
            return
        if secret not in self.seen:
            self.seen.append(secret)
        self._live[secret] = kind

    def _request_secrets(self, headers: dict[str, str], body: bytes) -> list[str]:
        found: list[str] = []
        client_secret = None
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        if body and "form" in content_type:
            form = dict(parse_qsl(body.decode("utf-8", "replace")))
            found.extend(form[f] for f in _SECRET_FIELDS if form.get(f))
            client_secret = form.get("client_secret")
        auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        scheme, _, credentials = auth.partition(" ")
        if scheme.lower() == "basic":
            pair = base64.b64decode(credentials).decode()
            client_secret = unquote_plus(pair.partition(":")[2])
            found.append(client_secret)
        elif scheme.lower() == "bearer":
            found.append(credentials.strip())
        with self._lock:
            if client_secret:
                self._note(client_secret, "client_secret")
            for secret in found:
                if secret not in self.seen:
                    self.seen.append(secret)
        return found

    def _answer(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, str | None, list[tuple[str, str]], bytes]:
        path = target.split("?", 1)[0]
        sent = self._request_secrets(headers, body)
        document: Any
        if path.startswith("/.well-known/") and self._discovery is not None:
            echo = self.echo(sent)
            document = {
                k: (f"{v}?{quote(echo)}" if k != "issuer" and isinstance(v, str) else v)
                for k, v in self._discovery.items()
            }
            document["service_documentation"] = echo
            return self._rewritten(method, path, 200, None, [], document)
        injection = self._take_injection(path)
        if injection is not None:
            echo = self.echo(sent)
            code = f"{injection.error} {echo}" if injection.echo_code else injection.error
            if injection.api:
                document = [{"error_key": code, "error_message": echo}]
            else:
                document = {
                    "error": code,
                    "error_description": echo,
                    "error_uri": f"https://errors.example/{quote(echo)}",
                }
            return self._rewritten(method, path, injection.status, _reason(echo), [], document)
        forwarded = {
            k: v
            for k, v in headers.items()
            if k.lower() not in ("host", "content-length", "connection", "accept-encoding")
        }
        upstream = self._http.request(method, self.target + target, content=body, headers=forwarded)
        kept = [(k, v) for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP]
        status, content = upstream.status_code, upstream.content
        document = _json(content)
        if path == _cc.TOKEN_PATH and status == 200 and self._take_forgery(document):
            content = json.dumps(document).encode()
        self._learn(path, sent, status, document)
        if status >= 400:
            echo = self.echo(sent)
            if isinstance(document, dict) and ("error" in document or path.startswith("/oauth2")):
                document = {
                    **document,
                    "error_description": echo,
                    "error_uri": f"https://errors.example/{quote(echo)}",
                }
            elif path.startswith(_cc.API_BASE_PATH):
                entries = document if isinstance(document, list) else [document]
                document = [
                    {
                        "error_key": f"{(e or {}).get('error_key', 'error')}.{echo}"
                        if isinstance(e, dict)
                        else echo,
                        "error_message": echo,
                    }
                    for e in entries
                ]
            else:
                document = {"error": "server_error", "error_description": echo}
            return self._rewritten(method, path, status, _reason(echo), kept, document)
        if path == _cc.DEVICE_AUTHORIZE_PATH and isinstance(document, dict) and status == 200:
            echo = quote(self.echo(sent))
            for field in ("verification_uri", "verification_uri_complete"):
                if isinstance(document.get(field), str):
                    joiner = "&" if "?" in document[field] else "?"
                    document[field] = f"{document[field]}{joiner}echo={echo}"
            return self._rewritten(method, path, status, None, kept, document)
        kept.append(("X-Echo", _header(self.echo(sent, compact=True))))
        return status, None, kept, content

    def _rewritten(
        self,
        method: str,
        path: str,
        status: int,
        reason: str | None,
        headers: list[tuple[str, str]],
        document: Any,
    ) -> tuple[int, str | None, list[tuple[str, str]], bytes]:
        self.rewritten.append(f"{method} {path} -> {status}")
        kept = [(k, v) for k, v in headers if k.lower() != "content-type"]
        kept.append(("Content-Type", "application/json"))
        kept.append(("X-Echo", _header(self.echo(compact=True))))
        if status == 401:
            challenge = f'Bearer error="invalid_token", x="{_header(self.echo(compact=True))}"'
            kept.append(("WWW-Authenticate", challenge))
        return status, reason, kept, json.dumps(document).encode()

    def _take_forgery(self, document: Any) -> bool:
        with self._lock:
            if self._forge <= 0 or not isinstance(document, dict):
                return False
            self._forge -= 1
        kid = str(document.get("refresh_token") or self.echo(compact=True))
        header = {"alg": "RS256", "typ": "JWT", "kid": kid}
        payload = {"sub": "forged", "exp": 4_102_444_800}
        document["access_token"] = ".".join(
            [_b64url(json.dumps(header)), _b64url(json.dumps(payload)), _b64url("signature")]
        )
        return True

    def _take_injection(self, path: str) -> _Injection | None:
        with self._lock:
            for injection in self._injections:
                if path == injection.path and injection.times > 0:
                    injection.times -= 1
                    return injection
        return None

    def _learn(self, path: str, sent: list[str], status: int, document: Any) -> None:
        """Track what the client holds from the answer it is about to get."""
        body = document if isinstance(document, dict) else {}
        with self._lock:
            if path == _cc.TOKEN_PATH and status == 200:
                if body.get("refresh_token"):
                    # The sent refresh token (or device code) is spent once a new one
                    # comes back; a long-lived one is noted again just below.
                    self._drop_kinds(sent, ("refresh", "device_code"))
                if isinstance(body.get("access_token"), str):
                    self._drop_kinds(list(self._live), ("access",))
                for kind in ("access_token", "refresh_token", "id_token"):
                    if isinstance(body.get(kind), str):
                        self._note(body[kind], kind.removesuffix("_token"))
            elif path == _cc.TOKEN_PATH and body.get("error") in (
                "invalid_grant",
                "expired_token",
                "access_denied",
            ):
                self._drop_kinds(sent, ("refresh", "device_code", "access"))
            elif path == _cc.REVOKE_PATH and status == 200:
                # Revoking the refresh token ends the grant: its access token goes too.
                self._drop_kinds(list(self._live), ("access", "refresh", "id"))
            elif path == _cc.DEVICE_AUTHORIZE_PATH and isinstance(body.get("device_code"), str):
                self._note(body["device_code"], "device_code")

    def _drop_kinds(self, secrets: list[str], kinds: tuple[str, ...]) -> None:
        for secret in secrets:
            if self._live.get(secret) in kinds:
                del self._live[secret]


def _b64url(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _json(content: bytes) -> Any:
    try:
        return json.loads(content)
    except ValueError:
        return None


def _header(text: str) -> str:
    """``text`` fit for a header value (ASCII, one line)."""
    return text.encode("ascii", "replace").decode("ascii").replace("\r", " ").replace("\n", " ")


def _reason(echo: str) -> str:
    return "Echo " + _header(echo)[:400]
