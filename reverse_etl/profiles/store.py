"""The contract every profile store keeps, whatever its backend.

A profile is one JSON document per customer_id, found by its id or by any of its identifiers (type and
normalized value). Writes come a batch at a time from the sync; a reader sees each profile either as it was
before the batch or as it is after it, never half of one, and an identifier key never points at a profile that
is gone. Removing a profile removes every identifier key it owns."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Profile:
    """What the store keeps for one customer."""

    customer_id: str
    # The model's columns other than identifiers (golden record, traits, segments, consent).
    attributes: Mapping[str, Any]
    # Identifier type -> its normalized values (as the identity layer wrote them).
    identifiers: Mapping[str, Sequence[str]]
    # Which write produced it: written_at (UTC, ISO 8601), write_id, dbt_invocation_id, dbt_generated_at.
    freshness: Mapping[str, Any] = field(default_factory=dict)

    def document(self) -> str:
        """The stored form: one JSON text, read back whole by a lookup."""
        return json.dumps(
            {
                "customer_id": self.customer_id,
                "profile": dict(self.attributes),
                "identifiers": {kind: list(values) for kind, values in self.identifiers.items()},
                "freshness": dict(self.freshness),
            },
            separators=(",", ":"),
            default=str,
        )

    @classmethod
    def from_document(cls, text: str | bytes) -> Profile:
        data = json.loads(text)
        return cls(data["customer_id"], data["profile"], data["identifiers"], data.get("freshness", {}))

    def identifier_pairs(self) -> list[tuple[str, str]]:
        return sorted({(kind, value) for kind, values in self.identifiers.items() for value in values})


class ProfileStoreError(Exception):
    """The store could not be reached or written (the destination turns it into a failed send)."""


class ProfileStore(ABC):
    """Both backends: see reverse_etl.profiles.sqlite and reverse_etl.profiles.redis."""

    # Where the store is, safe to print (no password).
    description: str

    @abstractmethod
    def apply(self, upserts: Sequence[Profile], deletes: Sequence[str]) -> None:
        """Write one batch: each upsert replaces the customer's profile and identifier keys (keys it no longer
        has are removed); each delete removes the profile and every identifier key it owns. Atomic per batch
        (SQLite) or per call (Redis): no reader sees a profile half written."""

    @abstractmethod
    def get(self, customer_id: str) -> Profile | None:
        """The profile of one customer_id, or None."""

    @abstractmethod
    def lookup(self, identifier_type: str, value: str) -> Profile | None:
        """The profile owning an identifier (its value already normalized), or None."""

    @abstractmethod
    def count(self) -> int:
        """How many profiles are stored."""

    @abstractmethod
    def identifier_count(self) -> int:
        """How many identifier keys are stored (tests: nothing is left behind)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
