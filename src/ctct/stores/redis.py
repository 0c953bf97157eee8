"""The Redis store (``redis://``, ``rediss://``): grants and coordination for a fleet.

Every operation is one command or one Lua script, so each is atomic on the server, and
every time is the server's (``TIME`` inside the script). Leases: the script takes the
lease only if it is free or expired (``SET``-if-absent semantics on the holder, with a
random holder value), counts the fence with ``INCR`` on a key that never expires,
renews by compare-and-``PEXPIRE`` and releases by compare-and-delete. Expiry is judged on
the expiry stored with the lease (server time, plus the test-only offset); ``PEXPIRE``
only collects leftovers. Due grants are a sorted set claimed by a script; the outbox is
a sorted set in insertion order.

Durability: a grant lost on restart costs a customer a new login, so grants are stored
only on a Redis with ``appendonly yes`` and ``appendfsync always``, unless the URL says
``?durability=unsafe`` (then a restart loses what the last second wrote, and a failover
what the replica had not received: replication is asynchronous).

Keys live under ``?prefix=`` (default ``ctct``), so several apps can share one Redis.
redis-py is imported here only.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any, Final, TypeVar

from ctct.errors import ConfigError, StoreError
from ctct.stores.base import (
    Attempt,
    Claim,
    Event,
    GrantKey,
    StoreConflict,
    check_rate_args,
    conflict_error,
)
from ctct.stores.crypto import KeyConfig
from ctct.stores.sealed import RawState, SealedStore
from ctct.stores.urls import positive_int, redact_url, split_options

T = TypeVar("T")

_OPTIONS: Final = {"prefix": "ctct", "durability": "required", "pool_max": "8", "retry_for": "15"}

# Every script starts from the server's clock plus the test offset (ARGV[1]).
_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000 + tonumber(ARGV[1])
"""

_SAVE = """
local version = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
local data = redis.call('HGET', KEYS[1], 'data')
local live = nil
if data and data ~= '' then live = version end
local expected = ARGV[2]
if (expected == '' and live ~= nil) or (expected ~= '' and live ~= tonumber(expected)) then
  if live == nil then return {0, -1} end
  return {0, live}
end
redis.call('HSET', KEYS[1], 'version', version + 1, 'data', ARGV[3])
redis.call('SADD', KEYS[2], ARGV[4])
return {1, version + 1}
"""

_DELETE = """
local version = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
local data = redis.call('HGET', KEYS[1], 'data')
local live = nil
if data and data ~= '' then live = version end
if ARGV[2] ~= '' and live ~= tonumber(ARGV[2]) then
  if live == nil then return {0, -1} end
  return {0, live}
end
if live == nil then return {1, 0} end
redis.call('HSET', KEYS[1], 'data', '')
redis.call('SREM', KEYS[2], ARGV[3])
return {1, 1}
"""

_LEASE_TRY = (
    _NOW
    + """
local holder = redis.call('HGET', KEYS[1], 'holder')
local expires = tonumber(redis.call('HGET', KEYS[1], 'expires') or '0')
if holder and holder ~= '' and expires > now then return nil end
local fence = redis.call('INCR', KEYS[2])
local duration = tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'holder', ARGV[2], 'expires', tostring(now + duration))
redis.call('PEXPIRE', KEYS[1], math.ceil(duration * 1000) + 60000)
return fence
"""
)

_LEASE_RENEW = (
    _NOW
    + """
local holder = redis.call('HGET', KEYS[1], 'holder')
local expires = tonumber(redis.call('HGET', KEYS[1], 'expires') or '0')
if holder ~= ARGV[2] or expires <= now then return 0 end
local duration = tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'expires', tostring(now + duration))
redis.call('PEXPIRE', KEYS[1], math.ceil(duration * 1000) + 60000)
return 1
"""
)

_LEASE_RELEASE = """
if redis.call('HGET', KEYS[1], 'holder') == ARGV[2] then redis.call('DEL', KEYS[1]) end
return 1
"""

_STAMP = (
    _NOW
    + """
local fields = {}
for i = 3, #ARGV, 2 do table.insert(fields, ARGV[i]); table.insert(fields, ARGV[i + 1]) end
redis.call('HSET', KEYS[1], ARGV[2], tostring(now), unpack(fields))
return tostring(now)
"""
)

_STATE = (
    _NOW
    + """
local code = redis.call('HGET', KEYS[1], 'code')
local reason = redis.call('HGET', KEYS[1], 'reason')
local since = redis.call('HGET', KEYS[1], 'since')
if not (code == ARGV[2] and reason == ARGV[3]) then since = tostring(now) end
redis.call('HSET', KEYS[1], 'code', ARGV[2], 'reason', ARGV[3], 'detail', ARGV[4], 'since', since)
redis.call('SADD', KEYS[2], ARGV[5])
return 1
"""
)

_CLEAR_ATTEMPT = """
if redis.call('HGET', KEYS[1], 'fence') == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
"""

# KEYS: ready zset (score: when claimable), due zset (score: due_at); ARGV: offset,
# worker, limit, claim_for, grant-key prefix, claims hash key.
_CLAIM_DUE = (
    _NOW
    + """
local limit = tonumber(ARGV[3])
local claimed = {}
local count = 0
local offset = 0
while count < limit do
  local batch = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', offset, 100)
  if #batch == 0 then break end
  for _, member in ipairs(batch) do
    if count >= limit then break end
    local data = redis.call('HGET', ARGV[5] .. member, 'data')
    if data and data ~= '' then
      local until_ = now + tonumber(ARGV[4])
      redis.call('ZADD', KEYS[1], until_, member)
      redis.call('HSET', ARGV[6], member, ARGV[2])
      count = count + 1
      table.insert(claimed, member)
      table.insert(claimed, redis.call('ZSCORE', KEYS[2], member))
      table.insert(claimed, tostring(until_))
    else
      offset = offset + 1
    end
  end
end
return claimed
"""
)

# KEYS: order zset (score: ord, pending+claimed); ARGV: offset, worker, limit, claim_for,
# event-key prefix.
_CLAIM_EVENTS = (
    _NOW
    + """
local limit = tonumber(ARGV[3])
local out = {}
local offset = 0
while #out < limit do
  local batch = redis.call('ZRANGE', KEYS[1], offset, offset + 199)
  if #batch == 0 then break end
  offset = offset + #batch
  for _, id in ipairs(batch) do
    if #out >= limit then break end
    local key = ARGV[5] .. id
    local available = tonumber(redis.call('HGET', key, 'available_at') or '0')
    local until_ = tonumber(redis.call('HGET', key, 'claimed_until') or '0')
    if available <= now and until_ <= now then
      redis.call('HSET', key, 'status', 'claimed', 'claimed_by', ARGV[2],
                 'claimed_until', tostring(now + tonumber(ARGV[4])))
      table.insert(out, id)
    end
  end
end
return out
"""
)

_ACK_EVENT = """
if redis.call('HGET', KEYS[1], 'claimed_by') ~= ARGV[1] then return 0 end
if redis.call('HGET', KEYS[1], 'status') ~= 'claimed' then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[2])
return 1
"""

# KEYS: event hash, order zset, dead zset; ARGV: offset, worker, id, delay, max_attempts
_RETRY_EVENT = (
    _NOW
    + """
if redis.call('HGET', KEYS[1], 'claimed_by') ~= ARGV[2] then return 'gone' end
if redis.call('HGET', KEYS[1], 'status') ~= 'claimed' then return 'gone' end
local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
local status = 'pending'
if attempts >= tonumber(ARGV[5]) then status = 'dead' end
redis.call('HSET', KEYS[1], 'status', status, 'claimed_by', '', 'claimed_until', '0',
           'available_at', tostring(now + tonumber(ARGV[4])))
if status == 'dead' then
  local ord = redis.call('ZSCORE', KEYS[2], ARGV[3])
  redis.call('ZREM', KEYS[2], ARGV[3])
  redis.call('ZADD', KEYS[3], ord, ARGV[3])
end
return status
"""
)

# KEYS: seq counter, ord counter, event hash, order zset; ARGV: offset, then fields.
_ADD_EVENT = (
    _NOW
    + """
local seq = redis.call('INCR', KEYS[1])
local ord = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[3], 'kind', ARGV[2], 'key', ARGV[3], 'payload', ARGV[4],
           'seq', seq, 'created_at', tostring(now), 'available_at', tostring(now),
           'claimed_until', '0', 'attempts', 0, 'status', 'pending', 'claimed_by', '')
redis.call('ZADD', KEYS[4], ord, ARGV[5])
return {seq, tostring(now)}
"""
)

_ONCE_PUT = (
    _NOW
    + """
local exp = tonumber(redis.call('HGET', KEYS[1], 'expires') or '0')
if exp > now then return 0 end
redis.call('HSET', KEYS[1], 'data', ARGV[2], 'expires', tostring(now + tonumber(ARGV[3])))
redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3]) * 1000) + 60000)
return 1
"""
)

_ONCE_TAKE = (
    _NOW
    + """
local data = redis.call('HGET', KEYS[1], 'data')
local exp = tonumber(redis.call('HGET', KEYS[1], 'expires') or '0')
redis.call('DEL', KEYS[1])
if not data or exp <= now then return nil end
return data
"""
)

# The token bucket of ctct.stores.rate.take_token.
_RATE = (
    _NOW
    + """
local rate = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens') or '-1')
local updated = tonumber(redis.call('HGET', KEYS[1], 'updated') or '0')
if tokens < 0 then tokens = burst; updated = now end
local avail = math.min(burst, tokens + math.max(0, now - updated) * rate)
local stamp = math.max(now, updated)
local wait = 0
if avail >= 1 then avail = avail - 1 else wait = (1 - avail) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(avail), 'updated', tostring(stamp))
return tostring(wait)
"""
)

# The day of the server's clock in UTC (civil-from-days, H. Hinnant's algorithm).
_DAILY = (
    _NOW
    + """
local day = ARGV[2]
if day == '' then
  local z = math.floor(now / 86400) + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524)
                          - math.floor(doe / 146096)) / 365)
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m
  if mp < 10 then m = mp + 3 else m = mp - 9 end
  if m <= 2 then y = y + 1 end
  day = string.format('%04d-%02d-%02d', y, m, d)
end
local stored = redis.call('HGET', KEYS[1], 'day')
local count = tonumber(redis.call('HGET', KEYS[1], 'count') or '0')
if stored ~= day then
  if stored and stored > day then return -1 end
  count = 0
end
if count >= tonumber(ARGV[3]) then return -1 end
redis.call('HSET', KEYS[1], 'day', day, 'count', count + 1)
return count + 1
"""
)


def _import_redis() -> Any:
    try:
        import redis
    except ImportError:
        raise ConfigError("a redis:// store needs redis-py: pip install 'ctct[redis]'") from None
    return redis


class RedisSettings:
    """What a ``redis://`` URL says: the driver's URL and ctct's options."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.shown = redact_url(url)
        conninfo, options = split_options(url, _OPTIONS)
        self.conninfo = conninfo
        prefix = options["prefix"]
        if not prefix or any(c.isspace() for c in prefix):
            raise ConfigError(f"the key prefix in the store URL {self.shown} must be a word")
        self.prefix = prefix
        if options["durability"] not in ("required", "unsafe"):
            raise ConfigError(
                f"durability in the store URL {self.shown} is 'required' (the default) or 'unsafe'"
            )
        self.unsafe = options["durability"] == "unsafe"
        self.pool_max = positive_int(options["pool_max"], "pool_max", url)
        self.retry_for = float(positive_int(options["retry_for"], "retry_for", url))

    def key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    def grant_key(self, key: GrantKey) -> str:
        return self.key("g", key.context.decode())


class RedisStore(SealedStore):
    """A ``Store`` on a Redis server, shared by every host that can reach it."""

    backend = "redis"
    remote_clock = True
    lease_poll_max = 0.1

    def __init__(self, url: str, keys: KeyConfig | None = None) -> None:
        super().__init__(keys if keys is not None else KeyConfig())
        self.settings = RedisSettings(url)
        self._redis = _import_redis()
        self._pid = os.getpid()
        self._client = self._connect()
        self._scripts: dict[str, Any] = {}
        self._durable: bool | None = None
        self.server_version = ""
        info = self._run("connecting", lambda r: r.info("server"))
        self.server_version = str(info.get("redis_version", ""))

    def _connect(self) -> Any:
        pool = self._redis.BlockingConnectionPool.from_url(
            self.settings.conninfo,
            max_connections=self.settings.pool_max,
            timeout=self.settings.retry_for,
            socket_timeout=10,
            socket_connect_timeout=5,
            health_check_interval=30,
        )
        return self._redis.Redis(connection_pool=pool)

    def _conn(self) -> Any:
        self.check_open()
        if self._pid != os.getpid():
            self._pid, self._client, self._scripts = os.getpid(), self._connect(), {}
        return self._client

    def _run(self, action: str, work: Callable[[Any], T]) -> T:
        """Run ``work``; retry while the server is unreachable (a restart) for up to
        ``retry_for`` seconds."""
        deadline = time.monotonic() + self.settings.retry_for
        pause = 0.05
        errors = self._redis.exceptions
        while True:
            try:
                return work(self._conn())
            except (errors.ConnectionError, errors.TimeoutError, errors.BusyLoadingError) as exc:
                if time.monotonic() + pause > deadline:
                    raise StoreError(
                        f"the Redis store {self.settings.shown} failed while {action}: {exc}"
                    ) from None
                time.sleep(pause)
                pause = min(1.0, pause * 2)
            except errors.RedisError as exc:
                raise StoreError(
                    f"the Redis store {self.settings.shown} failed while {action}: {exc}"
                ) from None

    def _script(self, action: str, source: str, keys: list[str], *args: Any) -> Any:
        def call(client: Any) -> Any:
            script = self._scripts.get(source)
            if script is None:
                script = self._scripts[source] = client.register_script(source)
            return script(keys=keys, args=[repr(self.time_offset), *args], client=client)

        return self._run(action, call)

    def location(self) -> str:
        return f"{self.settings.shown} (prefix {self.settings.prefix})"

    def now(self) -> float:
        seconds, micros = self._run("reading the clock", lambda r: r.time())
        return float(seconds) + float(micros) / 1e6 + self.time_offset

    def close(self) -> None:
        if not self.closed and self._pid == os.getpid():
            self._client.close()
            self._client.connection_pool.disconnect()
        super().close()

    # -- durability -------------------------------------------------------------------

    def persistence(self) -> tuple[bool | None, str]:
        """(durable enough for grants, description); None when it cannot be read."""

        def read(client: Any) -> tuple[str, str]:
            try:
                aof = client.config_get("appendonly").get("appendonly", "")
                fsync = client.config_get("appendfsync").get("appendfsync", "")
                return str(aof), str(fsync)
            except self._redis.exceptions.ResponseError:  # CONFIG disabled (managed Redis)
                info = client.info("persistence")
                return ("yes" if info.get("aof_enabled") else "no"), "unknown"

        aof, fsync = self._run("reading its persistence settings", read)
        text = f"appendonly {aof}, appendfsync {fsync}"
        if aof == "yes" and fsync == "always":
            return True, text
        if fsync == "unknown" and aof == "yes":
            return None, text
        return False, text

    def _check_durable(self) -> None:
        if self._durable or self.settings.unsafe:
            return
        durable, text = self.persistence()
        if not durable:
            raise StoreError(
                f"the Redis server {self.settings.shown} would lose grants on a restart "
                f"({text}); ctct stores grants only with `appendonly yes` and "
                "`appendfsync always`. Configure it so, or add ?durability=unsafe to the "
                "store URL to accept losing recent writes on a restart or failover"
            )
        self._durable = True

    def durability_problem(self) -> str | None:
        if self.settings.unsafe:
            return None
        durable, text = self.persistence()
        if durable is False:
            return (
                f"{text}: grants are refused, as a restart would lose them; set "
                "`appendonly yes` and `appendfsync always` on the server, or add "
                "?durability=unsafe to the store URL to accept that loss"
            )
        return None

    def backend_warnings(self) -> list[str]:
        if self.settings.unsafe:
            return [
                "durability=unsafe: a Redis restart or failover can lose recently "
                "refreshed grants (then a new login is needed)"
            ]
        return []

    def server_facts(self) -> tuple[str, str, dict[str, str]]:
        prefix = {"prefix": self.settings.prefix}
        return f"Redis {self.server_version}", self.persistence()[1], prefix

    # -- grants -----------------------------------------------------------------------

    def load_envelope(self, key: GrantKey) -> tuple[bytes, int] | None:
        data, version = self._run(
            "reading", lambda r: r.hmget(self.settings.grant_key(key), ["data", "version"])
        )
        if not data:
            return None
        return bytes(data), int(version)

    def save_envelope(self, key: GrantKey, envelope: bytes, expected_version: int | None) -> int:
        self._check_durable()
        ok, version = self._script(
            "saving",
            _SAVE,
            [self.settings.grant_key(key), self.settings.key("grants")],
            "" if expected_version is None else str(expected_version),
            envelope,
            key.context.decode(),
        )
        if not ok:
            raise conflict_error(key, expected_version, None if version < 0 else int(version))
        return int(version)

    def delete(self, key: GrantKey, *, expected_version: int | None = None) -> bool:
        ok, found = self._script(
            "deleting",
            _DELETE,
            [self.settings.grant_key(key), self.settings.key("grants")],
            "" if expected_version is None else str(expected_version),
            key.context.decode(),
        )
        if not ok:
            raise conflict_error(key, expected_version, None if found < 0 else int(found))
        return bool(found)

    def keys(self) -> list[GrantKey]:
        members = self._run("listing", lambda r: r.smembers(self.settings.key("grants")))
        return sorted(_grant_from_context(m) for m in members)

    def envelopes(self) -> Iterator[tuple[GrantKey, bytes, int]]:
        keys = self.keys()
        for start in range(0, len(keys), 500):  # pipelined, 500 grants a round trip
            batch = keys[start : start + 500]

            def read(r: Any, batch: list[GrantKey] = batch) -> list[Any]:
                pipe = r.pipeline(transaction=False)
                for key in batch:
                    pipe.hmget(self.settings.grant_key(key), ["data", "version"])
                return list(pipe.execute())

            for key, (data, version) in zip(batch, self._run("listing", read), strict=True):
                if data:
                    yield key, bytes(data), int(version)

    # -- leases and attempts ----------------------------------------------------------

    def _lease_keys(self, key: GrantKey) -> list[str]:
        name = key.context.decode()
        return [self.settings.key("l", name), self.settings.key("f", name)]

    def lease_try(self, key: GrantKey, holder: str, duration: float) -> int | None:
        fence = self._script(
            "taking a lease", _LEASE_TRY, self._lease_keys(key), holder, repr(duration)
        )
        return None if fence is None else int(fence)

    def lease_renew(self, key: GrantKey, holder: str, duration: float) -> bool:
        return bool(
            self._script(
                "renewing a lease", _LEASE_RENEW, self._lease_keys(key)[:1], holder, repr(duration)
            )
        )

    def lease_release(self, key: GrantKey, holder: str) -> None:
        self._script("releasing a lease", _LEASE_RELEASE, self._lease_keys(key)[:1], holder)

    def _attempt_key(self, key: GrantKey) -> str:
        return self.settings.key("a", key.context.decode())

    def record_attempt(self, key: GrantKey, attempt: Attempt) -> None:
        self._script(
            "recording a refresh attempt",
            _STAMP,
            [self._attempt_key(key)],
            "started_at",
            "holder",
            attempt.holder,
            "parent",
            attempt.parent,
            "fence",
            str(attempt.fence),
        )

    def load_attempt(self, key: GrantKey) -> Attempt | None:
        found = self._run("reading a refresh attempt", lambda r: r.hgetall(self._attempt_key(key)))
        if not found:
            return None
        return Attempt(
            found[b"holder"].decode(),
            found[b"parent"].decode(),
            int(found[b"fence"]),
            float(found[b"started_at"]),
        )

    def clear_attempt(self, key: GrantKey, fence: int) -> None:
        self._run(
            "clearing a refresh attempt",
            lambda r: r.eval(_CLEAR_ATTEMPT, 1, self._attempt_key(key), str(fence)),
        )

    # -- states and scheduling --------------------------------------------------------

    def put_state(self, key: GrantKey, code: str, reason: str, detail: bytes) -> None:
        name = key.context.decode()
        self._script(
            "saving an account state",
            _STATE,
            [self.settings.key("s", name), self.settings.key("states")],
            code,
            reason,
            detail,
            name,
        )

    def get_states(self, key: GrantKey | None) -> dict[GrantKey, RawState]:
        if key is not None:
            names = [key.context.decode()]
        else:
            members = self._run("listing states", lambda r: r.smembers(self.settings.key("states")))
            names = [m.decode() for m in members]

        def read(client: Any) -> list[Any]:
            pipe = client.pipeline(transaction=False)
            for name in names:
                pipe.hgetall(self.settings.key("s", name))
            return list(pipe.execute())

        found: dict[GrantKey, RawState] = {}
        for name, row in zip(names, self._run("reading account states", read), strict=True):
            if row:
                found[_grant_from_context(name)] = (
                    row[b"code"].decode(),
                    row[b"reason"].decode(),
                    bytes(row[b"detail"]),
                    float(row[b"since"]),
                )
        return found

    def schedule(self, key: GrantKey, due_at: float | None) -> None:
        name = key.context.decode()

        def write(client: Any) -> None:
            pipe = client.pipeline(transaction=True)
            if due_at is None:
                pipe.zrem(self.settings.key("ready"), name)
                pipe.zrem(self.settings.key("due"), name)
            else:
                pipe.zadd(self.settings.key("ready"), {name: due_at})
                pipe.zadd(self.settings.key("due"), {name: due_at})
            pipe.hdel(self.settings.key("claims"), name)
            pipe.execute()

        self._run("scheduling", write)

    def due(self, limit: int = 100) -> list[tuple[GrantKey, float]]:
        rows = self._run(
            "listing due grants",
            lambda r: r.zrange(self.settings.key("due"), 0, limit - 1, withscores=True),
        )
        return [(_grant_from_context(m), float(s)) for m, s in rows]

    def claim_due(self, worker: str, *, limit: int, claim_for: float) -> list[Claim]:
        flat = self._script(
            "claiming due grants",
            _CLAIM_DUE,
            [self.settings.key("ready"), self.settings.key("due")],
            worker,
            str(limit),
            repr(claim_for),
            self.settings.key("g", ""),
            self.settings.key("claims"),
        )
        claims = [
            Claim(_grant_from_context(flat[i]), float(flat[i + 1]), float(flat[i + 2]))
            for i in range(0, len(flat), 3)
        ]
        return sorted(claims, key=lambda c: (c.due_at, c.key))

    # -- outbox -----------------------------------------------------------------------

    def append_event(
        self, event_id: str, kind: str, key: GrantKey | None, envelope: bytes
    ) -> Event:
        scope = key.context.decode() if key is not None else "*"
        seq, created = self._script(
            "adding an event",
            _ADD_EVENT,
            [
                self.settings.key("seq", scope),
                self.settings.key("ord"),
                self.settings.key("e", event_id),
                self.settings.key("events"),
            ],
            kind,
            "" if key is None else key.context.decode(),
            envelope,
            event_id,
        )
        return Event(event_id, kind, key, int(seq), envelope, float(created))

    def _read_events(self, ids: list[bytes | str]) -> list[Event]:
        def read(client: Any) -> list[Any]:
            pipe = client.pipeline(transaction=False)
            for event_id in ids:
                pipe.hgetall(self.settings.key("e", _text(event_id)))
            return list(pipe.execute())

        events = []
        for event_id, row in zip(ids, self._run("reading events", read), strict=True):
            if not row:
                continue
            context = row[b"key"].decode()
            events.append(
                Event(
                    id=_text(event_id),
                    kind=row[b"kind"].decode(),
                    key=_grant_from_context(context) if context else None,
                    seq=int(row[b"seq"]),
                    payload=bytes(row[b"payload"]),
                    created_at=float(row[b"created_at"]),
                    attempts=int(row[b"attempts"]),
                    status=row[b"status"].decode(),
                )
            )
        return events

    def claim_event_envelopes(self, worker: str, limit: int, claim_for: float) -> list[Event]:
        ids = self._script(
            "claiming events",
            _CLAIM_EVENTS,
            [self.settings.key("events")],
            worker,
            str(limit),
            repr(claim_for),
            self.settings.key("e", ""),
        )
        return self._read_events(list(ids))

    def ack_event(self, event_id: str, worker: str) -> bool:
        return bool(
            self._run(
                "acknowledging an event",
                lambda r: r.eval(
                    _ACK_EVENT,
                    2,
                    self.settings.key("e", event_id),
                    self.settings.key("events"),
                    worker,
                    event_id,
                ),
            )
        )

    def retry_event(self, event_id: str, worker: str, *, delay: float, max_attempts: int) -> str:
        status = self._script(
            "retrying an event",
            _RETRY_EVENT,
            [
                self.settings.key("e", event_id),
                self.settings.key("events"),
                self.settings.key("dead"),
            ],
            worker,
            event_id,
            repr(delay),
            str(max_attempts),
        )
        return _text(status)

    def dead_event_envelopes(self) -> list[Event]:
        ids = self._run("listing dead events", lambda r: r.zrange(self.settings.key("dead"), 0, -1))
        return self._read_events(list(ids))

    # -- single-use records and counters ----------------------------------------------

    def put_envelope_once(self, namespace: str, id: str, envelope: bytes, ttl: float) -> None:
        stored = self._script(
            "saving a single-use record",
            _ONCE_PUT,
            [self.settings.key("o", namespace, id)],
            envelope,
            repr(ttl),
        )
        if not stored:
            raise StoreConflict(f"a single-use record {namespace}/{id} already exists")

    def take_envelope_once(self, namespace: str, id: str) -> bytes | None:
        found = self._script(
            "taking a single-use record", _ONCE_TAKE, [self.settings.key("o", namespace, id)]
        )
        return None if found is None else bytes(found)

    def acquire_rate(self, bucket: str, rate: float, burst: float) -> float:
        check_rate_args(rate, burst)
        wait = self._script(
            "counting a request", _RATE, [self.settings.key("b", bucket)], repr(rate), repr(burst)
        )
        return max(0.0, float(wait))

    def incr_daily(self, bucket: str, day: str | None, limit: int) -> int | None:
        count = self._script(
            "counting a request",
            _DAILY,
            [self.settings.key("d", bucket)],
            day or "",
            str(limit),
        )
        return None if int(count) < 0 else int(count)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _grant_from_context(context: bytes | str) -> GrantKey:
    import json

    _kind, profile, issuer, client_id = json.loads(_text(context))
    return GrantKey(profile, issuer, client_id)
