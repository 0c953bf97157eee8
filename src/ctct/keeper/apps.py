"""The applications the keeper refreshes for: provider, credentials, and app health.

A grant is filed under (profile, the provider's storage issuer, client_id); the keeper
finds its application by the last two. An application whose secret the token endpoint
refuses (``invalid_client``: regenerated in the developer portal, say) is *blocked*: no
grant of it is refreshed, one probe is sent with back-off, and refreshing resumes when
the secret works again (the configuration is re-read when its secret file changes, so
putting the new secret in place is enough).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace

import httpx2

from ctct._oauth_http import resolve_provider
from ctct._oauth_requests import ClientCredentials
from ctct._provider import Provider
from ctct._settings import Settings
from ctct.keeper.config import AppConfig, KeeperConfig
from ctct.stores import GrantKey

PROBE_FIRST = 30.0
PROBE_MAX = 3_600.0


@dataclass
class App:
    config: AppConfig
    provider: Provider
    blocked_until: float = 0.0
    probe_backoff: float = 0.0
    probing: bool = False

    @property
    def client(self) -> ClientCredentials:
        return ClientCredentials(self.config.client_id, self.config.client_secret)

    @property
    def token_rate(self) -> float | None:
        return self.provider.token_rate_per_second


@dataclass
class AppRegistry:
    """Applications by (storage issuer, client_id)."""

    apps: dict[tuple[str, str], App] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def build(cls, config: KeeperConfig, http: httpx2.Client) -> AppRegistry:
        registry = cls()
        registry.reload(config, http)
        return registry

    def reload(self, config: KeeperConfig, http: httpx2.Client) -> None:
        """New credentials from the configuration; an app whose secret changed is
        unblocked (the new secret is tried at once)."""
        fresh: dict[tuple[str, str], App] = {}
        for app_config in config.apps.values():
            settings = Settings(
                client_id=app_config.client_id,
                client_secret=app_config.client_secret,
                base_url=app_config.base_url,
                issuer=app_config.issuer,
                timeout=config.http_timeout,
            )
            provider = resolve_provider(settings, http)
            if app_config.token_rate is not None:
                # Every refresh (the engine's shared bucket too) paces on the app's limit.
                provider = replace(provider, token_rate_per_second=app_config.token_rate)
            key = (provider.storage_issuer, app_config.client_id)
            with self.lock:
                old = self.apps.get(key)
            app = App(app_config, provider)
            if old is not None and old.config.client_secret == app_config.client_secret:
                app.blocked_until, app.probe_backoff = old.blocked_until, old.probe_backoff
            fresh[key] = app
        with self.lock:
            self.apps = fresh

    def for_key(self, key: GrantKey) -> App | None:
        with self.lock:
            return self.apps.get((key.issuer, key.client_id))

    def all(self) -> list[App]:
        with self.lock:
            return list(self.apps.values())

    # -- app health -----------------------------------------------------------------------

    def may_call(self, app: App, now: float) -> bool:
        """False while ``app`` is blocked, except for one probe when its time comes."""
        with self.lock:
            if app.blocked_until == 0.0:
                return True
            if now >= app.blocked_until and not app.probing:
                app.probing = True
                return True
            return False

    def block(self, app: App, now: float) -> bool:
        """The token endpoint refused the app's credentials; True if newly blocked."""
        with self.lock:
            newly = app.blocked_until == 0.0
            app.probe_backoff = min(PROBE_MAX, max(PROBE_FIRST, app.probe_backoff * 2))
            app.blocked_until = now + app.probe_backoff
            app.probing = False
            return newly

    def unblock(self, app: App) -> bool:
        """The app's credentials worked; True if it had been blocked."""
        with self.lock:
            was = app.blocked_until != 0.0
            app.blocked_until, app.probe_backoff, app.probing = 0.0, 0.0, False
            return was
