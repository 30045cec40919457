"""The contract every destination implements.

A destination is one small module: a typed config, declared capabilities, request building and
per-record result parsing. Batching, diffing, retries of failed rows and state live in the engine;
HTTP retries and rate limiting live in reverse_etl.http.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from reverse_etl.http import HttpClient, HttpRequest


class Mode(enum.StrEnum):
    """How a sync applies the diff to its destination object."""

    UPSERT = "upsert"
    UPDATE = "update"
    INSERT = "insert"
    MIRROR = "mirror"
    AUDIENCE_ADD = "audience_add"
    AUDIENCE_REMOVE = "audience_remove"
    AUDIENCE_REPLACE = "audience_replace"


class Operation(enum.StrEnum):
    """What one record asks of the destination."""

    UPSERT = "upsert"
    INSERT = "insert"
    UPDATE = "update"
    DELETE = "delete"
    ADD = "add"
    REMOVE = "remove"


@dataclass(frozen=True)
class RateLimit:
    """At most `requests` calls per `per_seconds` for one destination account. `burst` caps how many may go
    at once: a vendor counting over a rolling window refuses a full burst followed by a steady rate."""

    requests: int
    per_seconds: float
    burst: int | None = None


@dataclass(frozen=True)
class Capabilities:
    max_batch_size: int
    modes: frozenset[Mode]
    rate_limit: RateLimit | None = None
    max_batch_bytes: int | None = None
    max_concurrency: int = 1
    identifier_rules: str = ""
    # Whether a repeated write of the same batch is harmless (upsert by external id): only then POSTs are retried.
    idempotent_writes: bool = True
    # Whether accepted writes take effect only when finish_run succeeds (an offline job that runs at the end, a
    # replace session closed at the end): the engine then records rows as synced only after finish_run.
    applies_at_finish: bool = False


# Records and their results are made a million at a time in a large sync: slots keep them to one object each.
@dataclass(frozen=True, slots=True)
class Record:
    """One row of the activation model, already mapped to destination field names."""

    key: str
    fields: Mapping[str, Any]
    operation: Operation
    # The id the destination assigned when this sync created the record, if any (for updates and deletes).
    destination_id: str | None = None


@dataclass(frozen=True, slots=True)
class RecordResult:
    key: str
    ok: bool
    destination_id: str | None = None
    error: str | None = None
    # A rejected row that may succeed unchanged later (e.g. a lock or a transient per-record error).
    retryable: bool = False


@dataclass
class BatchResult:
    results: list[RecordResult] = field(default_factory=list)
    # Identifier values a destination left out of this batch's rows (invalid once normalized, an incomplete
    # address, beyond a per-person limit), by reason: e.g. {"email: not an address": 3}. The rows themselves
    # are confirmed or rejected in `results` as usual.
    dropped: dict[str, int] = field(default_factory=dict)

    @property
    def confirmed(self) -> list[RecordResult]:
        return [result for result in self.results if result.ok]

    @property
    def rejected(self) -> list[RecordResult]:
        return [result for result in self.results if not result.ok]

    @classmethod
    def all_ok(cls, records: Sequence[Record]) -> BatchResult:
        return cls(
            [
                RecordResult(key=record.key, ok=True, destination_id=record.destination_id)
                for record in records
            ]
        )

    @classmethod
    def all_failed(cls, records: Sequence[Record], error: str, retryable: bool = False) -> BatchResult:
        return cls(
            [RecordResult(key=record.key, ok=False, error=error, retryable=retryable) for record in records]
        )


SecretLookup = Callable[[str], str]


class Destination(ABC):
    """Base class of every destination module; registered by `name` in reverse_etl.destinations.REGISTRY."""

    name: ClassVar[str]
    capabilities: ClassVar[Capabilities]

    def __init__(self, options: Mapping[str, Any], secret: SecretLookup, http: HttpClient) -> None:
        """`options` come from the sync YAML (validated here, errors raise ConfigError naming the key);
        `secret(NAME)` returns a credential from the environment or secrets file, or raises ConfigError."""
        self.http = http

    def begin_run(self, mode: Mode, previously_synced: int = 0) -> None:  # noqa: B027 - optional hook
        """Called once before the first batch (audience replace sessions, offline jobs). `previously_synced` is
        how many rows this sync had confirmed before the run: 0 means the sync knows nothing of what the
        destination object already holds, so an audience replace clears it first (the vendor's replace)."""

    def finish_run(self, mode: Mode, success: bool) -> None:  # noqa: B027 - optional hook
        """Called once after the last batch; `success` says whether every batch was sent."""

    @abstractmethod
    def plan_batch(self, records: Sequence[Record]) -> list[HttpRequest]:
        """The exact HTTP requests write_batch would send for these records (dry run, secrets masked by caller)."""

    @abstractmethod
    def write_batch(self, records: Sequence[Record]) -> BatchResult:
        """Send one batch (at most capabilities.max_batch_size records) and report every record's outcome."""

    def forget_batch(self, records: Sequence[Record]) -> BatchResult:
        """Erase these people at the destination (GDPR / CCPA forget requests; records carry only their key,
        destination id and a DELETE or REMOVE operation). By default the delete a mirror sends; a vendor with a
        privacy-deletion API overrides this."""
        return self.write_batch(records)
