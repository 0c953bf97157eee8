"""Planning simulated tracking activity: pure logic, no I/O.

At the moment a campaign is sent the emulator plans everything its recipients will do
(when each send lands, who bounces, opens, clicks...), with exact counts from the rates
in ``TrackingConfig`` and a random generator seeded from the config's seed and a key
naming the send (campaign name and send number). The same seed, key and recipient
addresses always give the same plan, whatever the contacts' ids. Events carry their own
times; reports show the events whose time has come on the emulator's clock, so advancing
the clock makes the activity arrive.

Event kinds are CC's tracking activity types: ``em_sends``, ``em_opens``, ``em_clicks``,
``em_bounces``, ``em_optouts``, ``em_forwards``, plus ``em_abuse`` (spam reports, only
counted); landing pages ``p_contact_open``, ``p_contact_click``, ``p_contact_add``,
``p_contact_update``, ``p_contact_sms_optin``; SMS ``sms_sends``, ``sms_delivers``,
``sms_clicks``, ``sms_optouts``. An event with ``effect`` changes the contact when its
time comes (an opt-out unsubscribes it, a landing-page add creates it).
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from ctct.emulator.api.tracking_config import TrackingConfig

DEVICES: Final = ("computer", "mobile", "tablet", "other")
_DEVICE_WEIGHTS: Final = (40, 45, 10, 5)
BOUNCE_CODES: Final = ("B", "D", "F", "S", "V", "X", "Z")
_BOUNCE_WEIGHTS: Final = (40, 10, 15, 10, 10, 10, 5)
_OPTOUT_REASONS: Final = (
    None,
    "I no longer want to receive these emails",
    "The emails are too frequent",
    "The content is not what I expected",
    "I never signed up for this mailing list",
)
_EXTRA_OPENS: Final = (0, 0, 0, 1, 1, 2, 3)
_EXTRA_CLICKS: Final = (0, 0, 1, 2)
_HREF: Final = re.compile(r"""<a\b[^>]*?\bhref\s*=\s*["'](https?://[^"'\s]+)["']""", re.I)


@dataclass(frozen=True)
class Recipient:
    contact_id: str | None  # None: a landing-page visitor who becomes a contact later
    email: str


@dataclass(frozen=True)
class Link:
    url_id: str
    url: str


@dataclass(frozen=True)
class Event:
    recipient: Recipient
    kind: str
    at: float
    device: str | None = None
    link: Link | None = None
    code: str | None = None  # a bounce code
    reason: str | None = None  # an opt-out reason
    effect: bool = False


def count(rate: float, base: int) -> int:
    """``round(rate * base)`` with halves up, at most ``base``."""
    return min(base, int(rate * base + 0.5))


def links_of(html: str, scope: str) -> list[Link]:
    """The distinct http(s) links of an email's HTML, with ids stable per ``scope``
    (the activity: a re-send reports the same link under the same id)."""
    urls = list(dict.fromkeys(_HREF.findall(html or "")))
    return [Link(url_id(scope, url), url) for url in urls]


def url_id(scope: str, url: str) -> str:
    digest = hashlib.sha256(f"{scope}|{url}".encode()).hexdigest()
    return str(1_000_000_000_000 + int(digest[:12], 16) % 9_000_000_000_000)


def _rng(config: TrackingConfig, key: str) -> random.Random:
    return random.Random(f"{config.seed}|{key}")


def _sorted(people: Sequence[Recipient]) -> list[Recipient]:
    return sorted(people, key=lambda r: (r.email.lower(), r.contact_id or ""))


def _pick(rng: random.Random, people: Sequence[Recipient], n: int) -> list[Recipient]:
    return _sorted(rng.sample(list(people), n)) if n else []


def split(
    config: TrackingConfig, key: str, recipients: Sequence[Recipient], fraction: float
) -> tuple[list[Recipient], list[Recipient]]:
    """An A/B test's test group (``fraction`` of the recipients) and the remainder."""
    people = _sorted(recipients)
    group = set(_pick(_rng(config, key + "|abtest"), people, count(fraction, len(people))))
    return [r for r in people if r in group], [r for r in people if r not in group]


def plan_email(
    config: TrackingConfig,
    key: str,
    recipients: Sequence[Recipient],
    start: float,
    links: Sequence[Link],
) -> list[Event]:
    """Everything the recipients of one email send do, from ``start`` on."""
    rng = _rng(config, key)
    people = _sorted(recipients)
    window = config.window_seconds
    # Every send lands at the send time, so the send history and the sends report agree
    # at every moment.
    sent = dict.fromkeys(people, start)
    events = [Event(r, "em_sends", at) for r, at in sent.items()]
    shuffled = list(people)
    rng.shuffle(shuffled)
    bounced = _sorted(shuffled[: count(config.bounce, len(people))])
    bounced_set = set(bounced)
    delivered = [r for r in people if r not in bounced_set]
    openers = _pick(rng, delivered, count(config.open, len(delivered)))
    clickers = set(_pick(rng, openers, count(config.click, len(openers)) if links else 0))
    forwarders = set(_pick(rng, openers, count(config.forward, len(openers))))
    optouts = set(_pick(rng, openers, count(config.optout, len(delivered))))
    abusers = set(_pick(rng, openers, count(config.abuse, len(delivered))))
    for r in bounced:
        code = rng.choices(BOUNCE_CODES, _BOUNCE_WEIGHTS)[0]
        events.append(Event(r, "em_bounces", sent[r] + rng.random() * min(window, 600), code=code))
    for r in openers:
        end = sent[r] + window
        first = sent[r] + window * rng.random() ** 3
        opens = [first, *(rng.uniform(first, end) for _ in range(rng.choice(_EXTRA_OPENS)))]
        devices = [rng.choices(DEVICES, _DEVICE_WEIGHTS)[0] for _ in opens]
        events.extend(Event(r, "em_opens", at, d) for at, d in zip(opens, devices, strict=True))
        if r in clickers:
            for _ in range(1 + rng.choice(_EXTRA_CLICKS)):
                which = rng.randrange(len(opens))
                at = min(end, opens[which] + rng.uniform(1, 300))
                link = rng.choice(list(links))
                events.append(Event(r, "em_clicks", at, devices[which], link))
        if r in forwarders:
            events.append(Event(r, "em_forwards", min(end, first + rng.uniform(30, 3_600))))
        if r in optouts:
            reason = rng.choice(_OPTOUT_REASONS)
            at = min(end, first + rng.uniform(10, 900))
            events.append(Event(r, "em_optouts", at, reason=reason, effect=True))
        if r in abusers:
            events.append(Event(r, "em_abuse", min(end, first + rng.uniform(10, 900))))
    return events


def plan_landing_page(
    config: TrackingConfig,
    key: str,
    audience: Sequence[Recipient],
    visitors: Sequence[Recipient],
    start: float,
    links: Sequence[Link],
) -> list[Event]:
    """A landing page's activity: the audience (existing contacts) opens, clicks,
    updates its details and opts in to SMS; ``visitors`` sign up (``p_contact_add``)."""
    rng = _rng(config, key)
    people = _sorted(audience)
    window = config.window_seconds
    openers = _pick(rng, people, count(config.landing_page_open, len(people)))
    clickers = set(_pick(rng, openers, count(config.landing_page_click, len(openers))))
    updaters = set(_pick(rng, openers, count(config.landing_page_update, len(openers))))
    optins = set(_pick(rng, openers, count(config.landing_page_sms_optin, len(openers))))
    events: list[Event] = []
    for r in openers:
        first = start + window * rng.random() ** 3
        opens = [first, *(rng.uniform(first, start + window) for _ in range(rng.choice((0, 1))))]
        devices = [rng.choices(DEVICES, _DEVICE_WEIGHTS)[0] for _ in opens]
        events.extend(
            Event(r, "p_contact_open", at, d) for at, d in zip(opens, devices, strict=True)
        )
        later = min(start + window, first + rng.uniform(5, 600))
        if r in clickers and links:
            events.append(Event(r, "p_contact_click", later, devices[0], rng.choice(list(links))))
        if r in updaters:
            events.append(Event(r, "p_contact_update", later, effect=True))
        if r in optins:
            events.append(Event(r, "p_contact_sms_optin", later))
    for r in _sorted(visitors):
        at = start + window * rng.random() ** 2
        events.append(Event(r, "p_contact_add", at, effect=True))
    return events


def plan_sms(
    config: TrackingConfig, key: str, recipients: Sequence[Recipient], start: float
) -> list[Event]:
    """One SMS send: sends, deliveries, clicks and opt-outs (opt-outs unsubscribe)."""
    rng = _rng(config, key)
    people = _sorted(recipients)
    window = config.window_seconds
    events = [Event(r, "sms_sends", start) for r in people]
    failed = set(_pick(rng, people, count(config.sms_bounce, len(people))))
    delivered = [r for r in people if r not in failed]
    events.extend(Event(r, "sms_delivers", start + rng.uniform(0, 5)) for r in delivered)
    for r in _pick(rng, delivered, count(config.sms_click, len(delivered))):
        events.append(Event(r, "sms_clicks", start + window * rng.random() ** 3))
    for r in _pick(rng, delivered, count(config.sms_optout, len(delivered))):
        events.append(Event(r, "sms_optouts", start + window * rng.random() ** 2, effect=True))
    return events
