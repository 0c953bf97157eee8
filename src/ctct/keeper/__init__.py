"""``ctct keeper``: a service that keeps every connected account alive.

The keeper refreshes each *keep-fresh* grant shortly before a worker would have to, and
each grant before its refresh token would reach the provider's idle expiry (CC: 180
days), at no more than its share of the token endpoint's per-application limit. Several
replicas share one store and the work, with no leader: claiming due work only
schedules, every refresh goes through the same lease + compare-and-swap path a worker
uses, so a keeper and a worker never refresh one version twice.

Modules, one concept each:

- ``capacity``: how many accounts an application can keep fresh at the token
  endpoint's limit, and how much of that a plan uses (pure arithmetic);
- ``schedule``: when to refresh one grant: phase-spread, before the worker's due time,
  before the idle deadline (pure);
- ``shedding``: which keep-fresh accounts to keep when they do not all fit (pure);
- ``states``: account states and reasons;
- ``webhooks``: Standard Webhooks signing and verification of events.
"""
