"""Where the bearer token may go: only inside the configured API base.

``ApiBase("https://api.cc.email/v3").resolve(target)`` turns a path given to
``ctct api``, a resource path or a page's ``_links.next.href`` into an absolute URL,
or raises ``RefusedUrl``. Accepted targets:

- ``contacts``, ``/contacts`` -> ``<base>/contacts`` (relative to the base);
- ``/v3/contacts?cursor=...`` -> the origin plus that path (CC's ``next`` links);
- an absolute URL on the same origin under the base path.

Refused: another origin or scheme, ``//host`` (scheme-relative), user info, ``.``/``..``
segments (also percent-encoded), backslashes, control characters, fragments.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from ctct._urls import origin_of, require_safe_url
from ctct.api.errors import RefusedUrl

_CONTROL = re.compile(r"[\x00-\x20\x7f\\]")


class ApiBase:
    """The API's base URL (``scheme://host[:port]/v3``) and the resolver bound to it."""

    def __init__(self, base_url: str) -> None:
        require_safe_url(base_url, what="API base URL")
        parts = urlsplit(base_url)
        if parts.query or parts.fragment:
            raise RefusedUrl(f"The API base URL {base_url!r} must not have a query or fragment.")
        self.origin = origin_of(base_url)
        self.path = parts.path.rstrip("/")  # "/v3"
        self.url = self.origin + self.path

    def resolve(self, target: str) -> str:
        """The absolute URL for ``target``, or ``RefusedUrl`` if it leaves the API base."""
        if not isinstance(target, str) or not target.strip():
            raise RefusedUrl("Give an API path such as /contacts or /v3/contacts.")
        target = target.strip()
        if _CONTROL.search(target):
            raise RefusedUrl(
                f"The path {target!r} contains spaces, control characters or backslashes: "
                "percent-encode them."
            )
        if target.startswith("//"):
            raise RefusedUrl(
                f"{target!r} is a scheme-relative URL naming another host: the access token "
                f"is only sent to {self.url}."
            )
        parts = urlsplit(target)
        if parts.fragment or "#" in target:
            raise RefusedUrl(f"{target!r} has a fragment (#...): remove it.")
        if parts.scheme or parts.netloc:
            if parts.scheme.lower() not in ("http", "https") or parts.username or parts.password:
                raise RefusedUrl(f"{target!r} is not an http(s) URL of the API.")
            if origin_of(target) != self.origin:
                raise RefusedUrl(
                    f"{_short(target)} is on another origin than the API ({self.origin}): "
                    "the access token is never sent there."
                )
            path, query = parts.path, parts.query
        elif target.startswith("/") and self._under_base(parts.path):
            path, query = parts.path, parts.query
        else:
            relative = parts.path.lstrip("/")
            path, query = f"{self.path}/{relative}" if relative else self.path, parts.query
        self._check_path(target, path)
        return self.origin + path + (f"?{query}" if query else "")

    def _under_base(self, path: str) -> bool:
        return path == self.path or path.startswith(self.path + "/")

    def _check_path(self, target: str, path: str) -> None:
        for segment in path.split("/"):
            decoded = unquote(unquote(segment))  # double-encoded dots count too
            if decoded in (".", "..") or "/" in decoded or "\\" in decoded:
                raise RefusedUrl(
                    f"{_short(target)} has a '.', '..' or encoded '/' segment; give the "
                    "resource path plainly (e.g. /contacts/ID)."
                )
        if not self._under_base(path):
            raise RefusedUrl(f"{_short(target)} is outside the API base {self.url}.")


def _short(url: str) -> str:
    """A target for messages: without its query (cursors are long), at most 120 chars."""
    text = url.split("?", 1)[0]
    return repr(text if len(text) <= 120 else text[:117] + "...")
