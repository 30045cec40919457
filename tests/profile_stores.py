"""Profile stores for tests: a SQLite file in the test's folder, or Redis at 127.0.0.1:6379 under a key prefix
of the test's own (database 0 is shared with other work: only that prefix is ever removed)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from reverse_etl.profiles.redis import RedisProfileStore
from reverse_etl.profiles.sqlite import SqliteProfileStore
from reverse_etl.profiles.store import ProfileStore

REDIS_URL = "redis://127.0.0.1:6379/0"
BACKENDS = ["sqlite", "redis"]


def redis_prefix() -> str:
    return f"cdptest:{uuid.uuid4().hex[:12]}:"


@contextmanager
def open_test_store(backend: str, folder: Path) -> Iterator[ProfileStore]:
    if backend == "sqlite":
        store: ProfileStore = SqliteProfileStore(folder / "profiles.sqlite")
        try:
            yield store
        finally:
            store.close()
        return
    redis_store = RedisProfileStore(REDIS_URL, key_prefix=redis_prefix())
    try:
        redis_store.client.ping()
    except Exception as error:  # noqa: BLE001 - skipped with the reason
        pytest.skip(f"Redis at {REDIS_URL} is not reachable: {error}")
    try:
        yield redis_store
    finally:
        redis_store.clear()
        redis_store.close()
