"""ctct's exceptions: one base class, few leaves.

Each carries the provider's error code (when there is one), whether retrying may help,
and the CLI exit code, so the CLI maps any failure to one clear message and one code.
Messages never contain a token, secret or authorization code.

    CtctError                       exit 1
    ├── ConfigError                 exit 3   settings missing or invalid
    ├── AuthorizationRequired       exit 4   no usable grant: run `ctct auth login`
    │   ├── ClientRejected          exit 5   invalid_client: the app's credentials were refused
    │   └── InsufficientScope       exit 16  the token lacks the API operation's scope: nothing
    │                                        was sent; log in again with --scopes
    ├── AuthorizationDenied         exit 6   the person declined (access_denied)
    ├── FlowTimedOut                exit 7   a login was not completed in time
    ├── FlowError                   exit 8   a login went wrong (state mismatch, bad callback)
    ├── TokenValidationError        exit 9   a token failed verification; .check names which
    ├── ProviderError               exit 10  the provider answered with an error
    │   └── TransientProviderError  exit 11  5xx, 429, timeout, garbled body: retry later
    ├── NetworkError                exit 12  could not reach the provider
    ├── StoreError                  exit 13  the token store is unreadable, corrupt or locked
    │   └── StoreMoved              exit 19  the grant was moved to another store
    │                                        (``ctct.stores``; `ctct store migrate`)
    └── ApiError                    exit 14  the V3 API answered with an error (see .status)
        (ctct.api refines it: Unauthorized exit 4, QuotaExceeded exit 15 (the daily
        budget is spent until 00:00 UTC), and InputError, a bad argument, exit 2)
"""

from __future__ import annotations


class CtctError(Exception):
    exit_code = 1
    retryable = False

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code  # the provider's error code, e.g. "invalid_grant"


class ConfigError(CtctError):
    exit_code = 3


class AuthorizationRequired(CtctError):
    exit_code = 4


class ClientRejected(AuthorizationRequired):
    exit_code = 5


class InsufficientScope(AuthorizationRequired):
    """The access token's scope claim holds none of the scopes an API operation accepts;
    the request was not sent. ``missing``: the accepted scopes (any one would do)."""

    exit_code = 16

    def __init__(self, message: str, *, missing: tuple[str, ...], operation: str) -> None:
        super().__init__(message, code="insufficient_scope")
        self.missing = missing
        self.operation = operation  # e.g. "GET /contacts/{contact_id}"

    @property
    def missing_scope(self) -> str:
        """The first accepted scope (as ``Forbidden.missing_scope`` names one)."""
        return self.missing[0]


class AuthorizationDenied(CtctError):
    exit_code = 6


class FlowTimedOut(CtctError):
    exit_code = 7


class FlowError(CtctError):
    exit_code = 8


class TokenValidationError(CtctError):
    exit_code = 9

    def __init__(self, message: str, *, check: str) -> None:
        super().__init__(message, code=check)
        self.check = check  # e.g. "signature", "issuer", "audience", "expiry", "client_id"


class ProviderError(CtctError):
    exit_code = 10


class TransientProviderError(ProviderError):
    exit_code = 11
    retryable = True
    rate_limited = False
    """The provider answered HTTP 429: the request was refused unread (a refresh token
    sent with it is still unused)."""
    retry_after: float | None = None
    """Seconds the provider asked to wait (a 429's ``Retry-After``), when it said."""


class NetworkError(CtctError):
    exit_code = 12
    retryable = True


class StoreError(CtctError):
    exit_code = 13


class ApiError(CtctError):
    exit_code = 14

    def __init__(self, message: str, *, status: int, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.status = status
