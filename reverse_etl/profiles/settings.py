"""Where a profile store is, from the options of the sync that writes it (the same options open it for the
API): `backend: sqlite` with an optional `path` (default cdp_profiles.sqlite beside the DuckDB file, or in the
project folder on PostgreSQL), or `backend: redis` with `url` and an optional `key_prefix`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reverse_etl.errors import ConfigError
from reverse_etl.profiles.store import ProfileStore

DEFAULT_FILE = "cdp_profiles.sqlite"
BACKENDS = ("sqlite", "redis")


@dataclass(frozen=True)
class StoreSettings:
    backend: str
    path: Path | None = None
    url: str | None = None
    key_prefix: str = "cdp:"

    @classmethod
    def parse(cls, options: Mapping[str, Any]) -> StoreSettings:
        # Imported here: the destinations package imports this module (the profile_store destination).
        from reverse_etl.destinations.urls import UNEXPANDED

        where = "profile_store option"
        backend = str(options.get("backend", "sqlite"))
        if backend not in BACKENDS:
            raise ConfigError(f"{where} backend: '{backend}' is not a backend; use sqlite or redis")
        for name in ("path", "url"):
            value = options.get(name)
            if isinstance(value, str) and (unset := UNEXPANDED.search(value)):
                raise ConfigError(f"{where} {name}: environment variable {unset.group(1)} is not set")
        if backend == "redis":
            url = str(options.get("url") or "")
            if not url.startswith(("redis://", "rediss://", "unix://")):
                raise ConfigError(
                    f"{where} url: the redis backend needs a redis:// URL, e.g. redis://127.0.0.1:6379/0"
                )
            return cls("redis", url=url, key_prefix=str(options.get("key_prefix", "cdp:")))
        path = options.get("path")
        return cls("sqlite", path=Path(str(path)) if path else default_path())

    def describe(self) -> str:
        """Where the store is, safe to print (a Redis URL without its password)."""
        if self.backend == "redis":
            from urllib.parse import urlsplit

            parts = urlsplit(self.url or "")
            return f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}{parts.path} (prefix {self.key_prefix})"
        return f"sqlite:{self.path}"

    def open(self, create: bool = True) -> ProfileStore:
        """The store; `create` False (the API) refuses a SQLite file that no sync wrote yet."""
        if self.backend == "redis":
            from reverse_etl.profiles.redis import RedisProfileStore

            assert self.url is not None
            return RedisProfileStore(self.url, key_prefix=self.key_prefix)
        from reverse_etl.profiles.sqlite import SqliteProfileStore

        assert self.path is not None
        return SqliteProfileStore(self.path, create=create)


def default_path() -> Path:
    from reverse_etl.project import load_target, project_dir

    target = load_target()
    if target.type == "duckdb" and target.path:
        warehouse = Path(target.path)
        if not warehouse.is_absolute():
            warehouse = project_dir() / warehouse
        return warehouse.parent / DEFAULT_FILE
    return project_dir() / DEFAULT_FILE
