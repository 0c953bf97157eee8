"""Talking to the authorization server safely: the few helpers that do I/O.

``send``/``asend`` send one request with no redirects followed, a timeout (per
operation and overall), and the body capped in size; transport failures become
``NetworkError`` and timeouts ``TransientProviderError``. Discovery (RFC 8414 /
OpenID Connect) and JWKS fetching are written once as sans-I/O generators that
yield requests and receive responses, driven by a sync or an async sender.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Generator
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit

import httpx2

from ctct import _redact
from ctct._describe import describe_error
from ctct._oauth_requests import MAX_RESPONSE_BYTES
from ctct._provider import AccessTokenFormat, Provider
from ctct._settings import Settings
from ctct._urls import origin_of, require_safe_url, without_query
from ctct.errors import ConfigError, NetworkError, ProviderError, TransientProviderError

DEFAULT_TIMEOUT: Final = 10.0
_OIDC_SUFFIX: Final = "/.well-known/openid-configuration"
_RFC8414_SUFFIX: Final = "/.well-known/oauth-authorization-server"
_DROPPED_HEADERS: Final = frozenset({"content-encoding", "content-length", "transfer-encoding"})

log = logging.getLogger("ctct.oauth")

T = TypeVar("T")
Flow = Generator[httpx2.Request, httpx2.Response, T]


# -- sending ----------------------------------------------------------------------------


def send(
    client: httpx2.Client,
    request: httpx2.Request,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    max_bytes: int = MAX_RESPONSE_BYTES,
) -> httpx2.Response:
    """Send ``request`` with ``client``; the returned response's body is fully read."""
    _prepare(request, timeout)
    deadline = time.monotonic() + timeout
    try:
        response = client.send(request, stream=True, auth=None, follow_redirects=False)
        try:
            declared = _check_declared_length(response, request, max_bytes)
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                _check_progress(request, size, declared, max_bytes, deadline, timeout)
                chunks.append(chunk)
        finally:
            response.close()
    except httpx2.HTTPError as exc:
        raise _transport_error(request, exc, timeout) from None
    return _materialize(request, response, b"".join(chunks))


async def asend(
    client: httpx2.AsyncClient,
    request: httpx2.Request,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    max_bytes: int = MAX_RESPONSE_BYTES,
) -> httpx2.Response:
    """``send`` for an ``httpx2.AsyncClient``."""
    _prepare(request, timeout)
    deadline = time.monotonic() + timeout
    try:
        response = await client.send(request, stream=True, auth=None, follow_redirects=False)
        try:
            declared = _check_declared_length(response, request, max_bytes)
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                _check_progress(request, size, declared, max_bytes, deadline, timeout)
                chunks.append(chunk)
        finally:
            await response.aclose()
    except httpx2.HTTPError as exc:
        raise _transport_error(request, exc, timeout) from None
    return _materialize(request, response, b"".join(chunks))


def _prepare(request: httpx2.Request, timeout: float) -> None:
    require_safe_url(str(request.url), what="provider URL")
    # A Request built directly carries no timeout; the transport reads it from here.
    request.extensions = {**request.extensions, "timeout": httpx2.Timeout(timeout).as_dict()}


def _check_declared_length(
    response: httpx2.Response, request: httpx2.Request, max_bytes: int
) -> int | None:
    """The body's declared length (None when not declared); refuses one too large."""
    declared = response.headers.get("content-length", "")
    if not declared.isdigit():
        return None
    if int(declared) > max_bytes:
        raise _oversized(request, max_bytes)
    return int(declared)


def _check_progress(
    request: httpx2.Request,
    size: int,
    declared: int | None,
    max_bytes: int,
    deadline: float,
    timeout: float,
) -> None:
    if size > max_bytes:
        raise _oversized(request, max_bytes)
    if declared is not None and size >= declared:
        # Complete: kept however late (a process paused while it arrived), as it may
        # carry a rotated refresh token the server will never give again.
        return
    # Per-read timeouts alone let a server trickle a body forever; bound the total too.
    if time.monotonic() > deadline:
        raise TransientProviderError(
            f"{_where(request)} took longer than {timeout:g} s to answer; retry later.",
            code="timeout",
        )


def _oversized(request: httpx2.Request, max_bytes: int) -> TransientProviderError:
    return TransientProviderError(
        f"{_where(request)} sent more than {max_bytes} bytes; refusing to read it.",
        code="oversized",
    )


def _transport_error(request: httpx2.Request, exc: httpx2.HTTPError, timeout: float) -> Exception:
    if isinstance(exc, httpx2.TimeoutException):
        return TransientProviderError(
            f"{_where(request)} did not answer within {timeout:g} s; retry later.",
            code="timeout",
        )
    if isinstance(exc, httpx2.DecodingError):
        return TransientProviderError(
            f"{_where(request)} sent a body that cannot be decoded; retry later.", code="garbled"
        )
    return NetworkError(
        f"Could not reach {_where(request)} ({describe_error(exc)}): check the network and the "
        "provider URL."
    )


def _materialize(
    request: httpx2.Request, response: httpx2.Response, body: bytes
) -> httpx2.Response:
    log.debug("%s %s -> HTTP %s", request.method, _where(request), response.status_code)
    # The body is already decoded, so drop the headers that describe the wire form.
    headers = [
        (k, v) for k, v in response.headers.multi_items() if k.lower() not in _DROPPED_HEADERS
    ]
    return httpx2.Response(response.status_code, headers=headers, content=body, request=request)


def _where(request: httpx2.Request) -> str:
    return without_query(str(request.url))


def drive(flow: Flow[T], client: httpx2.Client, *, timeout: float = DEFAULT_TIMEOUT) -> T:
    """Run a sans-I/O flow with a sync client."""
    request = next(flow)
    while True:
        response = send(client, request, timeout=timeout)
        try:
            request = flow.send(response)
        except StopIteration as stop:
            result: T = stop.value
            return result


async def adrive(
    flow: Flow[T], client: httpx2.AsyncClient, *, timeout: float = DEFAULT_TIMEOUT
) -> T:
    """Run a sans-I/O flow with an async client."""
    request = next(flow)
    while True:
        response = await asend(client, request, timeout=timeout)
        try:
            request = flow.send(response)
        except StopIteration as stop:
            result: T = stop.value
            return result


# -- discovery ------------------------------------------------------------------------


def discovery_candidates(issuer_or_url: str) -> list[tuple[str, str]]:
    """``(metadata URL, expected issuer)`` pairs to try, in order.

    An issuer yields its OpenID Connect URL, then its RFC 8414 one; a ``/.well-known/``
    URL yields itself, with the issuer it implies.
    """
    require_safe_url(issuer_or_url, what="issuer or discovery URL (CTCT_ISSUER)")
    parts = urlsplit(issuer_or_url)
    origin = origin_of(issuer_or_url)
    path = parts.path
    if path.endswith(_OIDC_SUFFIX):
        return [(issuer_or_url, origin + path[: -len(_OIDC_SUFFIX)])]
    if path.startswith(_RFC8414_SUFFIX):
        return [(issuer_or_url, origin + path[len(_RFC8414_SUFFIX) :])]
    if "/.well-known/" in path:
        raise ConfigError(
            f"{issuer_or_url!r} is neither an issuer nor an openid-configuration / "
            "oauth-authorization-server discovery URL."
        )
    if parts.query or parts.fragment:
        raise ConfigError("An issuer URL has no query or fragment (RFC 8414).")
    trimmed = path.rstrip("/")
    return [
        (origin + trimmed + _OIDC_SUFFIX, issuer_or_url),
        (origin + _RFC8414_SUFFIX + trimmed, issuer_or_url),
    ]


def discovery_flow(
    issuer_or_url: str,
    *,
    audience: str | None = None,
    access_token_format: AccessTokenFormat = "auto",  # noqa: S107 - not a password
    default_scopes: tuple[str, ...] = (),
    held: object = (),
) -> Flow[Provider]:
    """Sans-I/O discovery: yields GET requests, returns the ``Provider``.

    A document that shows one of the ``held`` secrets (the client secret, say) or a
    JWT in any of its values is refused: its URLs would end up in messages and logs."""
    tried: list[str] = []
    for url, expected_issuer in discovery_candidates(issuer_or_url):
        response = yield httpx2.Request("GET", url, headers={"Accept": "application/json"})
        tried.append(url)
        status = response.status_code
        if status == 404:
            continue
        if 300 <= status < 400:
            raise ConfigError(
                f"The discovery URL {url} redirects (HTTP {status}); ctct does not follow "
                "redirects on discovery. Configure the issuer the provider really uses."
            )
        if status == 429 or status >= 500:
            raise TransientProviderError(
                f"The discovery URL {url} failed (HTTP {status}); retry later."
            )
        if status != 200:
            raise ConfigError(f"The discovery URL {url} answered HTTP {status}.")
        metadata = _json_object(response.content)
        if metadata is None:
            raise TransientProviderError(
                f"The discovery document at {url} is not a JSON object; retry later.",
                code="garbled",
            )
        _refuse_echoes(metadata, url, _redact.Held(held))
        return Provider.from_metadata(
            metadata,
            expected_issuer=expected_issuer,
            audience=audience,
            access_token_format=access_token_format,
            default_scopes=default_scopes,
        )
    raise ConfigError(
        f"No discovery document for {issuer_or_url!r} (HTTP 404 at {', '.join(tried)}): "
        "check CTCT_ISSUER, or configure the endpoints explicitly."
    )


def _refuse_echoes(metadata: dict[str, Any], url: str, held: _redact.Held) -> None:
    for name, value in metadata.items():
        values = value if isinstance(value, list) else [value]
        for item in values:
            if not isinstance(item, str):
                continue
            if held.shows(item) or (name != "signed_metadata" and _redact.jwt_shaped(item)):
                raise ProviderError(
                    f"The discovery document at {url} echoes a secret ctct holds (in "
                    f"{_redact.server_text(name, held, limit=60)}); refusing to use it. Check "
                    "CTCT_ISSUER: the server, or a proxy in front of it, is misbehaving.",
                    code="echoed_secret",
                )


def discover(
    client: httpx2.Client, issuer_or_url: str, *, timeout: float = DEFAULT_TIMEOUT, **options: Any
) -> Provider:
    """Fetch and check a provider's metadata. ``options`` go to ``discovery_flow``."""
    return drive(discovery_flow(issuer_or_url, **options), client, timeout=timeout)


async def adiscover(
    client: httpx2.AsyncClient,
    issuer_or_url: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    **options: Any,
) -> Provider:
    """``discover`` for an ``httpx2.AsyncClient``."""
    return await adrive(discovery_flow(issuer_or_url, **options), client, timeout=timeout)


# -- JWKS -----------------------------------------------------------------------------


def jwks_flow(jwks_uri: str) -> Flow[bytes]:
    """Sans-I/O JWKS fetch: yields one GET, returns the raw document."""
    response = yield httpx2.Request("GET", jwks_uri, headers={"Accept": "application/json"})
    status = response.status_code
    if status == 200:
        return response.content
    if status == 429 or status >= 500:
        raise TransientProviderError(f"The JWKS at {jwks_uri} failed (HTTP {status}); retry later.")
    raise ProviderError(
        f"The JWKS at {jwks_uri} answered HTTP {status}"
        + (" (a redirect, not followed)" if 300 <= status < 400 else "")
        + ": check the provider's jwks_uri.",
        code=f"http_{status}",
    )


def fetch_jwks(client: httpx2.Client, jwks_uri: str, *, timeout: float = DEFAULT_TIMEOUT) -> bytes:
    """The provider's JWKS document, for ``JwtVerifier.verify(token, fetch)``."""
    return drive(jwks_flow(jwks_uri), client, timeout=timeout)


async def afetch_jwks(
    client: httpx2.AsyncClient, jwks_uri: str, *, timeout: float = DEFAULT_TIMEOUT
) -> bytes:
    """``fetch_jwks`` for an ``httpx2.AsyncClient``."""
    return await adrive(jwks_flow(jwks_uri), client, timeout=timeout)


def _json_object(content: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


# -- settings -> provider -------------------------------------------------------------


def _discovery_options(settings: Settings) -> dict[str, Any]:
    fmt = settings.access_token_format
    return {
        "audience": settings.audience,
        "access_token_format": fmt if fmt in ("jwt", "opaque") else "auto",
        "default_scopes": settings.scopes or (),
        "held": (settings.client_secret,),
    }


def resolve_provider(settings: Settings, client: httpx2.Client) -> Provider:
    """The provider for ``settings``, discovering it first when only an issuer is known."""
    if not settings.needs_discovery:
        return settings.provider()
    assert settings.issuer is not None
    return discover(
        client, settings.issuer, timeout=settings.timeout, **_discovery_options(settings)
    ).local_pacing()


async def aresolve_provider(settings: Settings, client: httpx2.AsyncClient) -> Provider:
    """``resolve_provider`` for an ``httpx2.AsyncClient``."""
    if not settings.needs_discovery:
        return settings.provider()
    assert settings.issuer is not None
    provider = await adiscover(
        client, settings.issuer, timeout=settings.timeout, **_discovery_options(settings)
    )
    return provider.local_pacing()
