"""Braze user profiles: `POST /users/track` with up to 75 attributes objects per request, each keyed by
external_id; minor errors inside a success answer name the failing object by `input_array` and `index`. A user
whose row's external_id changed is renamed first (`POST /users/external_ids/rename`, 50 per request), so the
sync keeps one user per row.
Mirror deletes through `POST /users/delete`, at most 50 external_ids per request. Bearer REST API key; the
REST endpoint is the one of the workspace's instance (e.g. https://rest.iad-01.braze.com)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reverse_etl.destinations.base import (
    BatchResult,
    Capabilities,
    Destination,
    Mode,
    Operation,
    RateLimit,
    Record,
    RecordResult,
    SecretLookup,
)
from reverse_etl.destinations.urls import url_option
from reverse_etl.errors import ConfigError, FatalDestinationError
from reverse_etl.http import HttpClient, HttpRequest

MAX_ATTRIBUTES = 75
MAX_DELETE_IDS = 50
MAX_RENAMES = 50


@dataclass(frozen=True)
class BrazeConfig:
    rest_endpoint: str
    api_key: str
    external_id_field: str

    @classmethod
    def parse(cls, options: Mapping[str, Any], secret: SecretLookup) -> BrazeConfig:
        if not options.get("rest_endpoint"):
            raise ConfigError(
                "braze option rest_endpoint is required: the REST endpoint of your Braze instance, "
                "e.g. https://rest.iad-01.braze.com"
            )
        rest_endpoint = url_option(
            "braze", "rest_endpoint", options["rest_endpoint"], "https://rest.iad-01.braze.com"
        )
        external_id_field = options.get("external_id_field", "external_id")
        if not isinstance(external_id_field, str) or not external_id_field:
            raise ConfigError(
                "braze option external_id_field must name the mapped field holding the user's external_id"
            )
        return cls(
            rest_endpoint=rest_endpoint,
            api_key=secret(str(options.get("api_key_env", "BRAZE_REST_API_KEY"))),
            external_id_field=external_id_field,
        )


class BrazeDestination(Destination):
    name = "braze"
    capabilities = Capabilities(
        max_batch_size=MAX_ATTRIBUTES,
        modes=frozenset({Mode.UPSERT, Mode.MIRROR}),
        # /users/track: 3,000 requests per 3 seconds per workspace. No burst: a burst followed by the steady
        # rate could exceed one window.
        rate_limit=RateLimit(requests=3000, per_seconds=3, burst=1),
        identifier_rules=(
            "users are keyed by external_id (the external_id_field value, sent as the model wrote it); "
            "every other mapped field is a profile attribute"
        ),
    )

    def __init__(self, options: Mapping[str, Any], secret: SecretLookup, http: HttpClient) -> None:
        super().__init__(options, secret, http)
        self.config = BrazeConfig.parse(options, secret)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.api_key}", "Content-Type": "application/json"}

    def _external_id(self, record: Record) -> str:
        value = record.fields.get(self.config.external_id_field)
        return "" if value is None else str(value)

    def _attributes(self, record: Record) -> dict[str, Any]:
        attributes = {
            name: value for name, value in record.fields.items() if name != self.config.external_id_field
        }
        return {"external_id": self._external_id(record), **attributes}

    def _track_request(self, records: Sequence[Record]) -> HttpRequest:
        return HttpRequest(
            "POST",
            f"{self.config.rest_endpoint}/users/track",
            headers=self._headers(),
            json={"attributes": [self._attributes(record) for record in records]},
        )

    def _delete_request(self, records: Sequence[Record]) -> HttpRequest:
        return HttpRequest(
            "POST",
            f"{self.config.rest_endpoint}/users/delete",
            headers=self._headers(),
            json={"external_ids": [record.destination_id for record in records]},
        )

    def _rename_request(self, records: Sequence[Record]) -> HttpRequest:
        return HttpRequest(
            "POST",
            f"{self.config.rest_endpoint}/users/external_ids/rename",
            headers=self._headers(),
            json={
                "external_id_renames": [
                    {"current_external_id": r.destination_id, "new_external_id": self._external_id(r)}
                    for r in records
                ]
            },
        )

    def _renamed(self, record: Record) -> bool:
        """Whether the row's external_id differs from the one its user was last confirmed with."""
        external_id = self._external_id(record)
        return bool(record.destination_id) and bool(external_id) and external_id != record.destination_id

    def _rename_chunks(self, records: Sequence[Record]) -> list[list[Record]]:
        renames = [r for r in records if self._renamed(r)]
        return [renames[start : start + MAX_RENAMES] for start in range(0, len(renames), MAX_RENAMES)]

    def _split(self, records: Sequence[Record]) -> tuple[list[Record], list[list[Record]]]:
        upserts = [r for r in records if r.operation not in (Operation.DELETE, Operation.REMOVE)]
        deletes = [
            r for r in records if r.operation in (Operation.DELETE, Operation.REMOVE) and r.destination_id
        ]
        chunks = [deletes[start : start + MAX_DELETE_IDS] for start in range(0, len(deletes), MAX_DELETE_IDS)]
        return upserts, chunks

    def plan_batch(self, records: Sequence[Record]) -> list[HttpRequest]:
        upserts, delete_chunks = self._split(records)
        sendable = [r for r in upserts if self._external_id(r)]
        return (
            [self._rename_request(chunk) for chunk in self._rename_chunks(upserts)]
            + ([self._track_request(sendable)] if sendable else [])
            + [self._delete_request(chunk) for chunk in delete_chunks]
        )

    def write_batch(self, records: Sequence[Record]) -> BatchResult:
        outcome = BatchResult()
        upserts, delete_chunks = self._split(records)
        for chunk in self._rename_chunks(upserts):
            # A user whose external_id changed is renamed first, so the attributes land on the same user.
            refused = self._rename(chunk).results
            outcome.results += refused
            keys = {result.key for result in refused}
            upserts = [r for r in upserts if r.key not in keys]
        if upserts:
            outcome.results += self._track(upserts).results
        # A removed row never confirmed has no Braze user of ours: nothing to delete.
        outcome.results += BatchResult.all_ok(
            [
                r
                for r in records
                if r.operation in (Operation.DELETE, Operation.REMOVE) and not r.destination_id
            ]
        ).results
        for chunk in delete_chunks:
            outcome.results += self._delete(chunk).results
        return outcome

    def _track(self, records: Sequence[Record]) -> BatchResult:
        sendable = [r for r in records if self._external_id(r)]
        outcome = BatchResult.all_failed(
            [r for r in records if not self._external_id(r)],
            f"no value for external_id_field {self.config.external_id_field}",
        )
        if not sendable:
            return outcome
        try:
            # Setting attributes by external_id is idempotent: a resent request sets the same values again.
            response = self.http.send(self._track_request(sendable), idempotent=True)
        except FatalDestinationError as error:
            outcome.results += BatchResult.all_failed(sendable, error.http_summary()).results
            return outcome
        body = response.json()
        # During maintenance Braze answers 202 {"message": "queued"}: received, and processed later.
        if not isinstance(body, dict) or body.get("message") not in ("success", "queued"):
            message = body.get("message") if isinstance(body, dict) else body
            outcome.results += BatchResult.all_failed(
                sendable, f"Braze did not report success: {str(message)[:300]}", retryable=True
            ).results
            return outcome
        failed: dict[int, str] = {}
        for minor in body.get("errors") or []:
            if not isinstance(minor, dict) or minor.get("input_array") != "attributes":
                continue
            index = minor.get("index")
            if isinstance(index, int) and 0 <= index < len(sendable):
                failed.setdefault(index, str(minor.get("type", "minor error")))
        for index, record in enumerate(sendable):
            if index in failed:
                outcome.results.append(RecordResult(record.key, ok=False, error=failed[index]))
            else:
                # The external_id is what later identifies the user (for deletes), so it is the destination id.
                outcome.results.append(
                    RecordResult(record.key, ok=True, destination_id=self._external_id(record))
                )
        return outcome

    def _rename(self, records: Sequence[Record]) -> BatchResult:
        """Rename each user to its row's new external_id; returns the rows refused. A rename Braze refuses (the
        old id is no longer a primary id: renamed already, or the user was deleted; or the new id is taken) is
        a reject carrying the new external_id as destination id: it is reported once, and the next run sends
        the row by its new external_id (the same user if it was renamed, else a user of that id)."""
        try:
            # A resent rename is refused, which the rule above turns into a resend by the new id: harmless.
            response = self.http.send(self._rename_request(records), idempotent=True)
        except FatalDestinationError as error:
            return BatchResult.all_failed(records, error.http_summary())
        body = response.json()
        refused = BatchResult()
        for problem in (body.get("rename_errors") if isinstance(body, dict) else None) or []:
            parts = problem if isinstance(problem, list) else [problem]
            index = next((part for part in parts if isinstance(part, int)), None)
            if index is None or not 0 <= index < len(records):
                continue
            record = records[index]
            message = "; ".join(str(part) for part in parts if not isinstance(part, int))
            refused.results.append(
                RecordResult(
                    record.key,
                    ok=False,
                    destination_id=self._external_id(record),
                    error=f"rename of external_id {record.destination_id} refused: {message}",
                    retryable=True,
                )
            )
        return refused

    def _delete(self, records: Sequence[Record]) -> BatchResult:
        try:
            # Deleting by external_id twice deletes nothing more: safe to resend.
            self.http.send(self._delete_request(records), idempotent=True)
        except FatalDestinationError as error:
            return BatchResult.all_failed(records, error.http_summary())
        return BatchResult.all_ok(records)
