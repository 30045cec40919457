"""The production profile store: Redis.

Keys (prefix `cdp:` by default, the `key_prefix` option):
- `<prefix>profile:<customer_id>`: the profile, one JSON string (one GET reads it whole);
- `<prefix>id:<identifier type>:<normalized value>`: the customer_id owning that identifier;
- `<prefix>keys:<customer_id>`: a set of every identifier key written for the customer.

Each write and each delete of one profile is one Lua script, which Redis runs atomically: a reader sees the
profile and its identifier keys before or after, never half. A write removes the identifier keys the profile no
longer has; a delete removes every key in its set. A key is removed only while it still names this customer (an
identifier that moved to another customer stays theirs). A lookup by identifier is a script too, so the key and
the profile it points at are read at one instant. A batch's scripts go in one pipeline (one round trip)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis as redis_client

from reverse_etl.profiles.store import Profile, ProfileStore, ProfileStoreError

WRITE = """
local prefix, customer_id, document = ARGV[1], ARGV[2], ARGV[3]
local owned = prefix .. 'keys:' .. customer_id
local keep = {}
for i = 4, #ARGV do keep[ARGV[i]] = true end
for _, key in ipairs(redis.call('SMEMBERS', owned)) do
    if not keep[key] then
        if redis.call('GET', key) == customer_id then redis.call('DEL', key) end
        redis.call('SREM', owned, key)
    end
end
redis.call('SET', prefix .. 'profile:' .. customer_id, document)
for i = 4, #ARGV do
    redis.call('SET', ARGV[i], customer_id)
    redis.call('SADD', owned, ARGV[i])
end
return 1
"""

DELETE = """
local prefix, customer_id = ARGV[1], ARGV[2]
local owned = prefix .. 'keys:' .. customer_id
for _, key in ipairs(redis.call('SMEMBERS', owned)) do
    if redis.call('GET', key) == customer_id then redis.call('DEL', key) end
end
redis.call('DEL', owned, prefix .. 'profile:' .. customer_id)
return 1
"""

LOOKUP = """
local customer_id = redis.call('GET', ARGV[2])
if not customer_id then return false end
return redis.call('GET', ARGV[1] .. 'profile:' .. customer_id)
"""

DEFAULT_PREFIX = "cdp:"


class RedisProfileStore(ProfileStore):
    def __init__(self, url: str, key_prefix: str = DEFAULT_PREFIX, client: Any = None) -> None:
        try:
            self.client = client or redis_client.Redis.from_url(url, socket_timeout=10)
        except ValueError as error:
            raise ProfileStoreError(f"profile store url is not a Redis URL: {error}") from error
        self.prefix = key_prefix
        pool_args = self.client.connection_pool.connection_kwargs
        # Host, port and database only: a password in the URL is never shown.
        self.description = f"redis://{pool_args.get('host')}:{pool_args.get('port')}/{pool_args.get('db', 0)}"
        self._write = self.client.register_script(WRITE)
        self._delete = self.client.register_script(DELETE)
        self._lookup = self.client.register_script(LOOKUP)

    def identifier_key(self, identifier_type: str, value: str) -> str:
        return f"{self.prefix}id:{identifier_type}:{value}"

    def apply(self, upserts: Sequence[Profile], deletes: Sequence[str]) -> None:
        try:
            pipeline = self.client.pipeline(transaction=False)
            for key in deletes:
                self._delete(args=[self.prefix, key], client=pipeline)
            for profile in upserts:
                keys = [self.identifier_key(kind, value) for kind, value in profile.identifier_pairs()]
                self._write(
                    args=[self.prefix, profile.customer_id, profile.document(), *keys], client=pipeline
                )
            pipeline.execute()
        except redis_client.RedisError as error:
            raise ProfileStoreError(f"profile store {self.description}: {error}") from error

    def _read(self, call: Any) -> Profile | None:
        try:
            document = call()
        except redis_client.RedisError as error:
            raise ProfileStoreError(f"profile store {self.description}: {error}") from error
        return Profile.from_document(document) if document else None

    def get(self, customer_id: str) -> Profile | None:
        return self._read(lambda: self.client.get(f"{self.prefix}profile:{customer_id}"))

    def lookup(self, identifier_type: str, value: str) -> Profile | None:
        key = self.identifier_key(identifier_type, value)
        return self._read(lambda: self._lookup(args=[self.prefix, key]))

    def _count(self, pattern: str) -> int:
        return sum(1 for _ in self.client.scan_iter(match=f"{self.prefix}{pattern}", count=1000))

    def count(self) -> int:
        return self._count("profile:*")

    def identifier_count(self) -> int:
        return self._count("id:*")

    def clear(self) -> None:
        """Remove every key under this store's prefix (tests and benchmarks; never other prefixes)."""
        batch: list[bytes] = []
        for key in self.client.scan_iter(match=f"{self.prefix}*", count=1000):
            batch.append(key)
            if len(batch) == 1000:
                self.client.delete(*batch)
                batch = []
        if batch:
            self.client.delete(*batch)

    def close(self) -> None:
        self.client.close()
