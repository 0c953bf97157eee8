"""A user's program touching every public name of ``ctct``: ``test_public_types`` runs
``mypy --strict`` and pyright (strict) on it from outside the project, as a user would.

It is type-checked, not run. The ``# type: ignore`` / ``# pyright: ignore`` lines are
misuses both checkers must catch: with strict settings an ignore that silences nothing
is itself an error, so each proves the name is really typed (not ``Any``)."""

from __future__ import annotations

import asyncio
from typing import assert_type

import httpx
import httpx2
import requests

import ctct
from ctct import Client, TokenManager


def settings() -> ctct.Settings:
    return ctct.Settings(profile="default", client_id="id", client_secret=ctct.Secret("s"))


def manager(store_url: str) -> TokenManager:
    provider: ctct.Provider = ctct.Provider(issuer="https://x", token_endpoint="https://x/t")
    return ctct.TokenManager(
        provider=provider,
        client=ctct.ClientCredentials("id", ctct.Secret("s")),
        store=ctct.open_store(store_url),
        policy=ctct.RefreshPolicy(margin=60),
    )


def use_client(api: ctct.Client) -> str:
    with Client(api.manager, limits=ctct.RateLimits(), retry=ctct.RetryPolicy()) as other:
        name: str = other.manager.profile
    try:
        api.account.summary()
    except ctct.QuotaExceeded as exc:
        return f"{exc.exit_code} {name}"
    except (ctct.Throttled, ctct.ServerError, ctct.Unauthorized, ctct.Forbidden) as exc:
        return str(exc)
    except (ctct.BadRequest, ctct.NotFound, ctct.Conflict) as exc:
        return str(exc.status)
    except ctct.ActivityFailed as exc:
        return str(exc)
    except ctct.ApiError as exc:
        return str(exc.code)
    return ""


async def use_async(api: ctct.AsyncClient) -> None:
    async with api:
        await api.account.summary()


def shapes(api: ctct.Client) -> list[str]:
    """Results are plain dicts with known keys, typed by shape."""
    summary = api.account.summary()
    assert_type(summary, ctct.AccountSummary)
    address: ctct.PhysicalAddress = summary.get("physical_address") or {}
    contact = api.contacts.get("id")
    assert_type(contact, ctct.Contact)
    email: ctct.EmailAddress | None = contact.get("email_address")
    signed_up: ctct.SignUpResult = api.contacts.create_or_update("a@example.com", ["l"])
    lists: list[ctct.ContactList] = list(api.lists.iter())
    fields: list[ctct.CustomField] = list(api.custom_fields.iter())
    tags: list[ctct.Tag] = list(api.tags.iter())
    activity = api.activities.wait("activity-id")
    assert_type(activity, ctct.Activity)
    status: ctct.ActivityStatus = activity.get("status") or {}
    campaign: ctct.EmailCampaign = api.emails.get("id")
    summary["no_such_key"]  # type: ignore[typeddict-item]  # pyright: ignore[reportGeneralTypeIssues]
    return [
        summary["organization_name"],
        str(address.get("city")),
        str(email),
        str(signed_up["created"]),
        *(item["name"] for item in lists),
        *(field["label"] for field in fields),
        *(tag["tag_id"] for tag in tags),
        activity["state"],
        str(status.get("error_count")),
        campaign["campaign_id"],
    ]


def errors(exc: ctct.CtctError) -> int:
    leaves: tuple[type[ctct.CtctError], ...] = (
        ctct.AuthorizationDenied,
        ctct.AuthorizationRequired,
        ctct.ClientRejected,
        ctct.ConfigError,
        ctct.FlowError,
        ctct.FlowTimedOut,
        ctct.InsufficientScope,
        ctct.NetworkError,
        ctct.ProviderError,
        ctct.StoreError,
        ctct.TokenValidationError,
        ctct.TransientProviderError,
    )
    return exc.exit_code if isinstance(exc, leaves) else 1


def tokens(m: TokenManager) -> bool:
    current: ctct.TokenSet | None = m.tokens()
    states: list[ctct.TokenState] = list(ctct.TokenState)
    claims: ctct.AccessTokenClaims | None = None
    verifier: type[ctct.JwtVerifier] = ctct.JwtVerifier
    return current is not None and bool(states) and claims is None and bool(verifier)


def refresh_in_background(m: TokenManager) -> None:
    refresher = ctct.BackgroundRefresher(m, ctct.TimerPolicy())
    refresher.start()
    refresher.stop()
    ctct.keep_alive(m)
    asyncio.run(ctct.run_refresher(m))


def http_clients(m: TokenManager) -> None:
    with httpx2.Client(auth=ctct.BearerAuth(m)) as http:
        http.get("https://api.cc.email/v3/account/summary")
    with httpx.Client(auth=ctct.HttpxAuth(m)) as plain:
        plain.get("https://api.cc.email/v3/account/summary")
    requests.get("https://api.cc.email/v3/account/summary", auth=ctct.RequestsAuth(m), timeout=9)
    # The wrong auth for a client stays a type error (and at run time, a clear one).
    httpx.Client(auth=ctct.BearerAuth(m))  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    requests.get("x", auth=ctct.HttpxAuth(m))  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


def log_in(on_event: ctct.flows.EventHandler) -> ctct.LoginResult:
    def show(event: ctct.LoginEvent) -> None:
        print(event)

    print(ctct.qr_text("https://example.com"), ctct.choose_flow().flow, ctct.__version__)
    web: type[ctct.WebLogin] = ctct.WebLogin
    print(web)
    with ctct.Login.from_settings(settings(), on_event=show) as login:
        return login.device()


def misuse(api: ctct.Client, m: TokenManager) -> None:
    api.contacts.get(42)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    m.token(1)  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
    ctct.Login.from_settings(42)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    assert_type(api.request("GET", "/x"), httpx2.Response)
