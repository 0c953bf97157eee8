"""Contract tours: one module per area of CC's contract, each driving every operation of
its tags (``TAGS``) against a running emulator, to a 2xx validated against the contract
and to representative 4xx errors in CC's error shape.

A tour module defines ``TAGS: tuple[str, ...]`` and ``tour(t: Tour) -> None``; it is found
by ``discover()`` (no list to edit), and ``tests/emulator/test_contract_coverage.py`` runs
every tour and counts the operations driven against the contract's 128. Every request
goes through ``Tour.call``, which checks the status is one the contract declares and
records ``(method, path template, status)``.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import httpx2

from ctct import _cc
from tests import contract
from tests.conftest import Running
from tests.contract import validate_error_array, validate_single_error
from tests.emulator.api_support import ALICE, mint

# Codes CC's gateway answers whatever an operation's own responses say (spec section 6.2).
GATEWAY_CODES = frozenset({401, 403, 405, 406, 415, 429})


@dataclass(frozen=True)
class Driven:
    method: str
    template: str
    status: int


@dataclass
class Tour:
    """Drives operations of one emulator and records what it drove."""

    running: Running
    driven: list[Driven] = field(default_factory=list)
    _tokens: dict[tuple[str, tuple[str, ...]], str] = field(default_factory=dict)
    _partner: dict[str, str] = field(default_factory=dict)

    @property
    def emulator(self) -> Any:
        return self.running.emulator

    def token(self, user: str = ALICE, scopes: tuple[str, ...] = _cc.DEFAULT_SCOPES) -> str:
        key = (user, scopes)
        if key not in self._tokens:
            self._tokens[key] = mint(self.running.emulator, user, scopes)
        return self._tokens[key]

    def advance(self, seconds: float) -> None:
        """Move the emulator's clock; tokens minted before are dropped (they may expire)."""
        response = self.running.client.post("/__emulator/clock/advance", json={"seconds": seconds})
        assert response.status_code == 200, response.text
        self._tokens.clear()
        self._partner.clear()

    def partner_headers(self) -> dict[str, str]:
        """What partner endpoints take: a partner token and the API key."""
        from ctct.emulator.partner_auth import mint_partner_token

        partner = self.running.emulator.config.partners[0]
        if "partner" not in self._partner:
            self._partner["partner"] = mint_partner_token(self.running.emulator, partner)
        return {"Authorization": f"Bearer {self._partner['partner']}", "x-api-key": partner.api_key}

    def call(
        self,
        method: str,
        template: str,
        status: int = 200,
        *,
        path: Mapping[str, object] | None = None,
        params: Any = None,
        json: Any = None,
        content: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        user: str = ALICE,
        scopes: tuple[str, ...] = _cc.DEFAULT_SCOPES,
        auth: bool = True,
    ) -> httpx2.Response:
        """One request to ``/v3`` + ``template`` (``path`` fills it in); asserts ``status``
        and checks the body against the contract (success) or CC's error shape."""
        op = contract.operations().get((method, template))
        assert op is not None, f"{method} {template} is not an operation of the contract"
        sent: dict[str, str] = {}
        if auth:
            sent["Authorization"] = f"Bearer {self.token(user, scopes)}"
        sent.update(headers or {})
        url = _cc.API_BASE_PATH + template.format(**(path or {}))
        response = self.running.client.request(
            method, url, params=params, json=json, content=content, headers=sent
        )
        assert response.status_code == status, (
            f"{method} {url}: expected {status}, got {response.status_code}: {response.text}"
        )
        declared = set(op["responses"])
        if 200 <= status < 300:
            assert str(status) in declared, f"{method} {template}: {status} not in the contract"
            produces = op.get("produces", ["application/json"])
            media_type = response.headers.get("content-type", "").split(";")[0]
            if response.content and "application/json" not in produces:
                assert media_type in produces, f"{method} {template}: {media_type} not {produces}"
            elif response.content:
                assert media_type == "application/json", media_type
                contract.validate_response(response.json(), method, template, status)
        else:
            assert str(status) in declared or status in GATEWAY_CODES, (
                f"{method} {template}: {status} is neither declared nor a gateway code"
            )
            body = response.json()
            if status in (401, 429) and isinstance(body, dict):
                validate_single_error(body)
            else:
                validate_error_array(body)
        self.driven.append(Driven(method, template, status))
        return response


TourFunction = Callable[[Tour], None]


def discover() -> list[ModuleType]:
    """Every tour module of this package, by name."""
    modules = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        assert isinstance(getattr(module, "TAGS", None), tuple), f"{info.name} lacks TAGS"
        assert callable(getattr(module, "tour", None)), f"{info.name} lacks tour()"
        modules.append(module)
    return modules
