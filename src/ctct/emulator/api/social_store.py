"""Social media per account: connections (an authorized account on a network), their
profiles (the pages posts go to), hashtag groups and the posts created.

CC's V3 API reads connections, profiles and hashtag groups but cannot create them
(people connect networks in CC's UI), so the control API's seed (``"social"``) makes
them. Each is a JSON document in its own table, ordered by ``seq``.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from typing import Any, Final

from ctct.emulator.db import Database, register_schema

register_schema(
    """
    CREATE TABLE IF NOT EXISTS social_connections (
        seq INTEGER PRIMARY KEY,
        account_id TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS social_profiles (
        seq INTEGER PRIMARY KEY,
        profile_id TEXT NOT NULL UNIQUE,
        account_id TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS social_hashtag_groups (
        seq INTEGER PRIMARY KEY,
        account_id TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS social_posts (
        seq INTEGER PRIMARY KEY,
        campaign_id TEXT NOT NULL UNIQUE,
        account_id TEXT NOT NULL,
        data TEXT NOT NULL
    );
    """
)

TABLES: Final = ["social_connections", "social_profiles", "social_hashtag_groups", "social_posts"]
AREA: Final = "social"
NETWORKS: Final = ("facebook", "instagram", "linkedin", "tiktok", "x")
_NETWORK_URLS: Final = {
    "facebook": "https://www.facebook.com/",
    "instagram": "https://www.instagram.com/",
    "linkedin": "https://www.linkedin.com/company/",
    "tiktok": "https://www.tiktok.com/@",
    "x": "https://x.com/",
}


class SocialSeedError(ValueError):
    """A ``social`` seed value the emulator cannot store; the message says why."""


class SocialStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _documents(self, table: str, account_id: str) -> list[dict[str, Any]]:
        rows = self.db.query(
            f"SELECT data FROM {table} WHERE account_id = ? ORDER BY seq",  # noqa: S608
            (account_id,),
        )
        return [json.loads(r["data"]) for r in rows]

    def connections(self, account_id: str) -> list[dict[str, Any]]:
        return self._documents("social_connections", account_id)

    def profiles(self, account_id: str) -> list[dict[str, Any]]:
        return self._documents("social_profiles", account_id)

    def hashtag_groups(self, account_id: str) -> list[dict[str, Any]]:
        return self._documents("social_hashtag_groups", account_id)

    def add_post(self, account_id: str, post: dict[str, Any]) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO social_posts(campaign_id, account_id, data) VALUES (?, ?, ?)",
                (post["campaign_id"], account_id, json.dumps(post)),
            )


def seed(conn: sqlite3.Connection, account_id: str, value: object, now: float) -> Any:
    """Seed ``{"connections": [{"network", "display_name"?, "username"?, "active"?: true,
    "profiles": [{"name", "handle"?, "accessible"?: true}]}], "hashtag_groups": [{"name",
    "hashtags": ["#bread"]}]}``; returns the ``profile_id`` of each profile and the
    ``hashtag_group_id`` of each group."""
    if not isinstance(value, dict) or set(value) - {"connections", "hashtag_groups"}:
        raise SocialSeedError(
            'social must be an object with "connections" and/or "hashtag_groups".'
        )
    profiles: list[dict[str, str]] = []
    for index, entry in enumerate(_array(value.get("connections", []), "social.connections")):
        where = f"social.connections[{index}]"
        network = entry.get("network")
        if network not in NETWORKS:
            raise SocialSeedError(f"{where}.network must be one of {', '.join(NETWORKS)}.")
        username = str(entry.get("username") or f"{account_id}_{network}")
        active = entry.get("active", True)
        if not isinstance(active, bool):
            raise SocialSeedError(f"{where}.active must be true or false.")
        account_info = {
            "account_url": _NETWORK_URLS[network] + username,
            "display_name": str(entry.get("display_name") or username),
            "image_url": f"https://images.example.com/{network}/{username}.jpg",
            "network": network,
            "network_account_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{network}:{username}")),
            "username": username,
        }
        connection = {
            "account_info": account_info,
            "connection_status": {
                "has_token": True,
                "is_active_user": active,
                "rate_limited": False,
                "status": 200 if active else 401,
                "token_has_scopes": True,
                "token_is_valid": active,
                **({} if active else {"error": "The network token has expired: reconnect."}),
            },
        }
        conn.execute(
            "INSERT INTO social_connections(account_id, data) VALUES (?, ?)",
            (account_id, json.dumps(connection)),
        )
        for number, spec in enumerate(_array(entry.get("profiles", []), f"{where}.profiles")):
            profiles.append(
                _seed_profile(conn, account_id, spec, account_info, active, where, number)
            )
    groups = []
    for index, entry in enumerate(_array(value.get("hashtag_groups", []), "social.hashtag_groups")):
        where = f"social.hashtag_groups[{index}]"
        tags = entry.get("hashtags")
        if not isinstance(entry.get("name"), str) or not isinstance(tags, list):
            raise SocialSeedError(f'{where} needs a "name" and a "hashtags" array.')
        group = {
            "hashtag_group_id": str(uuid.uuid4()),
            "hashtag_group_name": entry["name"],
            "hashtag_names": [str(t) for t in tags],
        }
        conn.execute(
            "INSERT INTO social_hashtag_groups(account_id, data) VALUES (?, ?)",
            (account_id, json.dumps(group)),
        )
        groups.append(group["hashtag_group_id"])
    return {"profiles": profiles, "hashtag_groups": groups}


def _seed_profile(
    conn: sqlite3.Connection,
    account_id: str,
    spec: dict[str, Any],
    account_info: dict[str, str],
    active: bool,
    where: str,
    number: int,
) -> dict[str, str]:
    at = f"{where}.profiles[{number}]"
    if not isinstance(spec.get("name"), str):
        raise SocialSeedError(f'{at} needs a "name".')
    accessible = spec.get("accessible", True)
    if not isinstance(accessible, bool):
        raise SocialSeedError(f"{at}.accessible must be true or false.")
    network = account_info["network"]
    handle = str(spec.get("handle") or spec["name"].lower().replace(" ", ""))
    profile = {
        "profile_id": str(uuid.uuid4()),
        "network": network,
        "connected": active,
        "accessible": accessible and active,
        "name": spec["name"],
        "handle": handle,
        "url": _NETWORK_URLS[network] + handle,
        "image_url": f"https://images.example.com/{network}/{handle}.jpg",
        "network_profile_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{network}:page:{handle}")),
        "network_user_id": account_info["network_account_id"],
        "account_info": account_info,
        "settings": {},
    }
    conn.execute(
        "INSERT INTO social_profiles(profile_id, account_id, data) VALUES (?, ?, ?)",
        (profile["profile_id"], account_id, json.dumps(profile)),
    )
    return {"profile_id": profile["profile_id"], "network": network, "name": spec["name"]}


def _array(raw: object, where: str) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not all(isinstance(i, dict) for i in raw):
        raise SocialSeedError(f"{where} must be an array of objects.")
    return raw
