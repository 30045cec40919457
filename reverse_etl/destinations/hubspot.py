"""HubSpot CRM objects (contacts by default): batch upsert by a unique property (idProperty) for rows new to
the sync, batch update by HubSpot id for rows it created (so a changed email updates that contact rather than
creating a second one), batch archive by id for mirror deletes. 100 inputs per request; 190 requests per rolling 10 seconds (private apps); partial
failures come back as 207 Multi-Status with `errors[]` naming the failing ids in `context.ids`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reverse_etl.destinations.base import (
    BatchResult,
    Capabilities,
    Mode,
    RateLimit,
    Record,
    RecordResult,
    SecretLookup,
)
from reverse_etl.destinations.crm_objects import CrmObjectsDestination
from reverse_etl.destinations.urls import url_option
from reverse_etl.errors import ConfigError, FatalDestinationError
from reverse_etl.http import HttpClient, HttpRequest

DEFAULT_BASE_URL = "https://api.hubapi.com"
MAX_INPUTS = 100
OBJECT_TYPES = {"contacts", "companies", "deals", "tickets"}


@dataclass(frozen=True)
class HubSpotConfig:
    base_url: str
    token: str
    object_type: str
    id_property: str

    @classmethod
    def parse(cls, options: Mapping[str, Any], secret: SecretLookup) -> HubSpotConfig:
        object_type = options.get("object_type", "contacts")
        if object_type not in OBJECT_TYPES:
            raise ConfigError(
                f"hubspot option object_type must be one of {', '.join(sorted(OBJECT_TYPES))}, got {object_type!r}"
            )
        id_property = options.get("id_property", "email")
        if not isinstance(id_property, str) or not id_property:
            raise ConfigError("hubspot option id_property must name a unique property, e.g. email")
        return cls(
            base_url=url_option(
                "hubspot", "base_url", options.get("base_url", DEFAULT_BASE_URL), DEFAULT_BASE_URL
            ),
            token=secret(str(options.get("token_env", "HUBSPOT_ACCESS_TOKEN"))),
            object_type=object_type,
            id_property=id_property,
        )


def property_value(value: Any) -> str:
    """HubSpot property values are strings; booleans are 'true' / 'false', nulls clear the property."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class HubSpotDestination(CrmObjectsDestination):
    name = "hubspot"
    capabilities = Capabilities(
        max_batch_size=MAX_INPUTS,
        modes=frozenset({Mode.UPSERT, Mode.MIRROR}),
        rate_limit=RateLimit(requests=190, per_seconds=10, burst=1),
        identifier_rules="records are matched on id_property (default email, sent as the model wrote it)",
    )

    def __init__(self, options: Mapping[str, Any], secret: SecretLookup, http: HttpClient) -> None:
        super().__init__(options, secret, http)
        self.config = HubSpotConfig.parse(options, secret)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.token}", "Content-Type": "application/json"}

    def _upsert_request(self, records: Sequence[Record]) -> HttpRequest:
        inputs = []
        for record in records:
            identifier = record.fields.get(self.config.id_property)
            inputs.append(
                {
                    "idProperty": self.config.id_property,
                    "id": property_value(identifier),
                    "properties": {name: property_value(value) for name, value in record.fields.items()},
                }
            )
        return HttpRequest(
            "POST",
            f"{self.config.base_url}/crm/v3/objects/{self.config.object_type}/batch/upsert",
            headers=self._headers(),
            json={"inputs": inputs},
        )

    def _update_request(self, records: Sequence[Record]) -> HttpRequest:
        """Batch update by HubSpot id: the object this sync created, whatever its id_property value is now."""
        return HttpRequest(
            "POST",
            f"{self.config.base_url}/crm/v3/objects/{self.config.object_type}/batch/update",
            headers=self._headers(),
            json={
                "inputs": [
                    {
                        "id": record.destination_id,
                        "properties": {name: property_value(value) for name, value in record.fields.items()},
                    }
                    for record in records
                ]
            },
        )

    def _remove_request(self, records: Sequence[Record]) -> HttpRequest:
        return HttpRequest(
            "POST",
            f"{self.config.base_url}/crm/v3/objects/{self.config.object_type}/batch/archive",
            headers=self._headers(),
            json={"inputs": [{"id": record.destination_id} for record in records]},
        )

    def _missing_key(self, records: Sequence[Record]) -> tuple[list[Record], BatchResult]:
        """Rows with a value for id_property, and the rest rejected (HubSpot would clear the property)."""
        sendable = [r for r in records if r.fields.get(self.config.id_property)]
        missing = [r for r in records if not r.fields.get(self.config.id_property)]
        return sendable, BatchResult.all_failed(
            missing, f"no value for id_property {self.config.id_property}"
        )

    def _update(self, records: Sequence[Record]) -> tuple[BatchResult, list[Record]]:
        """Update each row's object by its HubSpot id (a changed email or other id_property value included);
        returns the outcome and the rows whose object no longer exists."""
        sendable, outcome = self._missing_key(records)
        if not sendable:
            return outcome, []
        try:
            # An update by id sets the same values when resent: idempotent.
            response = self.http.send(self._update_request(sendable), idempotent=True)
        except FatalDestinationError as error:
            if error.status == 404:
                return outcome, list(sendable)
            outcome.results += BatchResult.all_failed(sendable, error.http_summary()).results
            return outcome, []
        body = response.json()
        by_id = {str(r.destination_id): r for r in sendable}
        answered: set[str] = set()
        gone: list[Record] = []
        for result in body.get("results", []):
            record = by_id.get(str(result.get("id")))
            if record is not None and record.key not in answered:
                answered.add(record.key)
                outcome.results.append(
                    RecordResult(record.key, ok=True, destination_id=record.destination_id)
                )
        for problem in body.get("errors", []):
            message = f"{problem.get('category', 'ERROR')}: {problem.get('message', '')}"
            for identifier in (problem.get("context") or {}).get("ids", []):
                record = by_id.get(str(identifier))
                if record is None or record.key in answered:
                    continue
                answered.add(record.key)
                if problem.get("category") == "OBJECT_NOT_FOUND":
                    gone.append(record)
                else:
                    outcome.results.append(RecordResult(record.key, ok=False, error=message))
        outcome.results += [
            RecordResult(r.key, ok=False, error="HubSpot returned no result for this record", retryable=True)
            for r in sendable
            if r.key not in answered
        ]
        return outcome, gone

    def _upsert(self, records: Sequence[Record]) -> BatchResult:
        sendable, outcome = self._missing_key(records)
        if not sendable:
            return outcome
        try:
            # Upsert by a unique property is idempotent: a resent batch updates the same records.
            response = self.http.send(self._upsert_request(sendable), idempotent=True)
        except FatalDestinationError as error:
            outcome.results += BatchResult.all_failed(sendable, error.http_summary()).results
            return outcome
        body = response.json()
        by_identifier = {property_value(r.fields[self.config.id_property]).lower(): r for r in sendable}
        answered: set[str] = set()
        for result in body.get("results", []):
            identifier = str((result.get("properties") or {}).get(self.config.id_property, "")).lower()
            record = by_identifier.get(identifier)
            if record is not None:
                answered.add(record.key)
                outcome.results.append(
                    RecordResult(record.key, ok=True, destination_id=str(result.get("id")))
                )
        for problem in body.get("errors", []):
            message = f"{problem.get('category', 'ERROR')}: {problem.get('message', '')}"
            for identifier in (problem.get("context") or {}).get("ids", []):
                record = by_identifier.get(str(identifier).lower())
                if record is not None and record.key not in answered:
                    answered.add(record.key)
                    outcome.results.append(RecordResult(record.key, ok=False, error=message))
        for record in sendable:
            if record.key not in answered:
                outcome.results.append(
                    RecordResult(
                        record.key,
                        ok=False,
                        error="HubSpot returned no result for this record",
                        retryable=True,
                    )
                )
        return outcome

    def _remove(self, records: Sequence[Record]) -> BatchResult:
        try:
            self.http.send(self._remove_request(records), idempotent=True)
        except FatalDestinationError as error:
            return BatchResult.all_failed(records, error.http_summary())
        return BatchResult.all_ok(records)
