"""Tour of Social."""

from __future__ import annotations

from tests.emulator.api_support import seed
from tests.emulator.tours import Tour

TAGS = ("Social",)


def tour(t: Tour) -> None:
    seeded = seed(
        t.running,
        username="alice@example.com",
        social={
            "connections": [
                {"network": "facebook", "display_name": "Alice", "profiles": [{"name": "Bakery"}]}
            ],
            "hashtag_groups": [{"name": "Bread", "hashtags": ["#sourdough", "#rye"]}],
        },
    )
    profile_id = seeded["social"]["profiles"][0]["profile_id"]
    profiles = t.call("GET", "/social/profiles", params={"include": "accessible"}).json()
    assert profiles[0]["accessible"] is True
    t.call("GET", "/social/profiles", 400, params={"include": "followers"})
    t.call("GET", "/social/connections")
    t.call("GET", "/social/connections", 403, scopes=("contact_data",))
    groups = t.call("GET", "/social/hashtags/groups", params={"limit": "5", "page": "0"}).json()
    assert groups["hashtag_groups"][0]["hashtag_names"] == ["#sourdough", "#rye"]
    t.call("GET", "/social/hashtags/groups", 400, params={"limit": "6"})
    post = {
        "name": "Fresh bread",
        "status": "DRAFT",
        "profile_posts": [{"profiles": [{"profile_id": profile_id}], "text": "Rye is back!"}],
    }
    t.call("POST", "/social/posts", 201, json=post)
    t.call("POST", "/social/posts", 400, json={**post, "status": "SCHEDULED"})
