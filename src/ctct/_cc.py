"""Constant Contact's published facts: hosts, paths, token claims, scopes and limits.

Shared by the client's provider profile and by the emulator, so both speak of the
same URLs and values. Sources: ``shared/constant-contact/spec.md`` sections 1, 4, 5, 7.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: `ctct auth token`'s fast path skips typing
if TYPE_CHECKING:
    from typing import Final

AUTHZ_ORIGIN: Final = "https://authz.constantcontact.com"
IDENTITY_ORIGIN: Final = "https://identity.constantcontact.com"
API_ORIGIN: Final = "https://api.cc.email"

AUTH_SERVER_ID: Final = "aus1lm3ry9mF7x2Ja0h8"

# Paths, identical on the real hosts and on the emulator's single origin.
AUTHORIZE_PATH: Final = "/oauth2/default/v1/authorize"
TOKEN_PATH: Final = "/oauth2/default/v1/token"
DEVICE_AUTHORIZE_PATH: Final = "/oauth2/default/v1/device/authorize"
REVOKE_PATH: Final = "/oauth2/default/v1/revoke"
JWKS_PATH: Final = f"/oauth2/{AUTH_SERVER_ID}/v1/keys"
TOKEN_ALIAS_PATH: Final = f"/oauth2/{AUTH_SERVER_ID}/v1/token"
API_BASE_PATH: Final = "/v3"
# Technology partners' token endpoint (client credentials; changed 2025-09, spec section 1).
PARTNER_TOKEN_PATH: Final = "/partners/oauth2/default/v1/token"

# Literal claim values: the emulator mints exactly these, whatever origin it is served
# from, so the Constant Contact profile validates emulator tokens as it would real ones.
ISSUER: Final = f"{IDENTITY_ORIGIN}/oauth2/{AUTH_SERVER_ID}"
AUDIENCE: Final = f"{API_ORIGIN}{API_BASE_PATH}"

SCOPES: Final = frozenset(
    {
        "account_read",
        "account_update",
        "contact_data",
        "campaign_data",
        "offline_access",
        "billing_data",
    }
)
DEFAULT_SCOPES: Final = ("account_read", "account_update", "contact_data", "campaign_data")

ACCESS_TOKEN_TTL: Final = 86_400
AUTHORIZATION_CODE_TTL: Final = 300
REFRESH_TOKEN_IDLE_TTL: Final = 180 * 86_400
DEVICE_CODE_TTL: Final = 600
DEVICE_POLL_INTERVAL: Final = 5

API_RATE_PER_SECOND: Final = 4.0
API_DAILY_QUOTA: Final = 10_000
TOKEN_RATE_PER_SECOND: Final = 1.0

DEVICE_CODE_GRANT: Final = "urn:ietf:params:oauth:grant-type:device_code"


def provider_label(storage_issuer: str) -> str:
    """A readable name for a grant's issuer key: ``Constant Contact``, ``Constant Contact
    via URL`` (its hosts pointed elsewhere), or another provider's issuer. The key itself
    (``...#via=...``) is internal and never shown."""
    if storage_issuer == ISSUER:
        return "Constant Contact"
    prefix = ISSUER + "#via="
    if storage_issuer.startswith(prefix):
        return f"Constant Contact via {storage_issuer[len(prefix) :]}"
    return storage_issuer
