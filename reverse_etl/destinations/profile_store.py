"""The profile store as a destination: each record becomes one customer's profile in the store the profile API
reads (reverse_etl.profiles). The engine's diff, modes, crash safety and forget pass apply unchanged: an upsert
rewrites the profile and its identifier keys, a mirror removal or a forget request deletes the profile and every
identifier key it owns. Nothing goes over HTTP; a store that cannot be written fails the send, so the batch's
rows stay pending and are written next run.

Each profile records when it was written (`written_at`), by which run of the destination (`write_id`, one per
engine run), and which dbt invocation last wrote target/run_results.json when the run began
(`dbt_invocation_id`, `dbt_generated_at`): `cdp build` builds the models and then runs the syncs, so that is
the build that produced the rows."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reverse_etl.destinations.base import (
    BatchResult,
    Capabilities,
    Destination,
    Mode,
    Operation,
    Record,
    RecordResult,
    SecretLookup,
)
from reverse_etl.errors import ConfigError, RetryableDestinationError
from reverse_etl.http import HttpClient, HttpRequest
from reverse_etl.profiles.settings import StoreSettings
from reverse_etl.profiles.store import Profile, ProfileStore, ProfileStoreError

MAX_RECORDS = 5000
# Identifier type (as the identity graph names it) -> the model column listing that type's values.
DEFAULT_IDENTIFIERS = {
    "email": "emails",
    "phone": "phones",
    "user_id": "user_ids",
    "anonymous_id": "anonymous_ids",
    "device_id": "device_ids",
    "loyalty_card_id": "loyalty_card_ids",
    "cookie_id": "cookie_ids",
}
DEFAULT_JSON_FIELDS = ("segments",)


@dataclass(frozen=True)
class ProfileStoreConfig:
    store: StoreSettings
    identifiers: dict[str, str]
    json_fields: tuple[str, ...]
    batch_size: int = 1000

    @classmethod
    def parse(cls, options: Mapping[str, Any]) -> ProfileStoreConfig:
        identifiers = options.get("identifiers", DEFAULT_IDENTIFIERS)
        if not isinstance(identifiers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in identifiers.items()
        ):
            raise ConfigError(
                "profile_store option identifiers must map identifier types to fields, e.g. {email: emails}"
            )
        json_fields = options.get("json_fields", list(DEFAULT_JSON_FIELDS))
        if not isinstance(json_fields, list):
            raise ConfigError("profile_store option json_fields must list fields holding JSON text")
        batch_size = options.get("batch_size", 1000)
        if not isinstance(batch_size, int) or not 1 <= batch_size <= MAX_RECORDS:
            raise ConfigError(f"profile_store option batch_size must be 1..{MAX_RECORDS}, got {batch_size!r}")
        return cls(StoreSettings.parse(options), dict(identifiers), tuple(json_fields), batch_size)


class ProfileStoreDestination(Destination):
    name = "profile_store"
    capabilities = Capabilities(
        max_batch_size=MAX_RECORDS,
        modes=frozenset({Mode.UPSERT, Mode.MIRROR}),
        identifier_rules="identifier values are stored as the model holds them (the identity graph's "
        "normalized values); the API normalizes a looked-up value by the same rule",
    )

    def __init__(self, options: Mapping[str, Any], secret: SecretLookup, http: HttpClient) -> None:
        super().__init__(options, secret, http)
        self.config = ProfileStoreConfig.parse(options)
        self._store: ProfileStore | None = None
        self.freshness: dict[str, Any] = {"write_id": uuid.uuid4().hex, **dbt_build()}

    def batch_size(self) -> int:
        return self.config.batch_size

    @property
    def store(self) -> ProfileStore:
        if self._store is None:
            try:
                self._store = self.config.store.open(create=True)
            except ProfileStoreError as error:
                raise RetryableDestinationError(str(error)) from error
        return self._store

    def begin_run(self, mode: Mode, previously_synced: int = 0) -> None:
        self.freshness = {"write_id": uuid.uuid4().hex, **dbt_build()}

    def finish_run(self, mode: Mode, success: bool) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def _split(self, records: Sequence[Record]) -> tuple[list[Profile], list[str], list[RecordResult]]:
        written_at = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
        freshness = {"written_at": written_at, **self.freshness}
        upserts: list[Profile] = []
        deletes: list[str] = []
        refused: list[RecordResult] = []
        for record in records:
            if record.operation in (Operation.DELETE, Operation.REMOVE):
                deletes.append(record.key)
                continue
            try:
                upserts.append(self._profile(record, freshness))
            except ValueError as error:
                refused.append(RecordResult(record.key, ok=False, error=str(error)))
        return upserts, deletes, refused

    def _profile(self, record: Record, freshness: dict[str, Any]) -> Profile:
        columns = set(self.config.identifiers.values())
        identifiers = {
            kind: _values(record.fields.get(column), column)
            for kind, column in self.config.identifiers.items()
            if column in record.fields
        }
        attributes = {
            name: _json(value, name) if name in self.config.json_fields else value
            for name, value in record.fields.items()
            if name not in columns and name != "customer_id"
        }
        return Profile(record.key, attributes, identifiers, freshness)

    def plan_batch(self, records: Sequence[Record]) -> list[HttpRequest]:
        upserts, deletes, _ = self._split(records)
        where = self.config.store.describe()
        planned = []
        if upserts:
            planned.append(HttpRequest("PUT", where, json=[json.loads(p.document()) for p in upserts]))
        if deletes:
            planned.append(HttpRequest("DELETE", where, json=deletes))
        return planned

    def write_batch(self, records: Sequence[Record]) -> BatchResult:
        upserts, deletes, refused = self._split(records)
        try:
            self.store.apply(upserts, deletes)
        except ProfileStoreError as error:
            # The run stops; the batch's rows stay pending and are written next run.
            raise RetryableDestinationError(str(error)) from error
        written = BatchResult(
            [RecordResult(p.customer_id, True, p.customer_id) for p in upserts]
            + [RecordResult(key, True) for key in deletes]
        )
        written.results += refused
        return written


def _json(value: Any, name: str) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as error:
            raise ValueError(f"field {name} is not JSON text: {error}") from error
    return value


def _values(value: Any, name: str) -> list[str]:
    """An identifier column: a JSON array of strings (or a list), null for none."""
    parsed = _json(value, name) if value is not None else []
    if not isinstance(parsed, list) or not all(isinstance(item, str) for item in parsed):
        raise ValueError(f"field {name} must be a JSON array of strings, got {value!r}")
    return parsed


def dbt_build() -> dict[str, Any]:
    """The dbt invocation that last wrote target/run_results.json (empty when there is none)."""
    from reverse_etl.project import target_dir

    try:
        metadata = json.loads((target_dir() / "run_results.json").read_text()).get("metadata", {})
    except (OSError, ValueError, ConfigError):
        return {"dbt_invocation_id": None, "dbt_generated_at": None}
    return {
        "dbt_invocation_id": metadata.get("invocation_id"),
        "dbt_generated_at": metadata.get("generated_at"),
    }
