"""Salesforce sObjects (Contact by default) through sObject Collections: upsert of at most 200 records per
request by an external id field (`PATCH .../composite/sobjects/{sObject}/{externalIdField}`, allOrNone false)
for rows new to the sync, update by record id (`PATCH .../composite/sobjects`) for rows it created, so a
changed external id value updates that record instead of creating a second; one result per record in order; collections delete of the ids this sync created for mirror deletes.
Bearer access token. Limits are a daily allocation of API requests answered with 403 REQUEST_LIMIT_EXCEEDED."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reverse_etl.destinations.base import (
    BatchResult,
    Capabilities,
    Mode,
    Record,
    RecordResult,
    SecretLookup,
)
from reverse_etl.destinations.crm_objects import CrmObjectsDestination
from reverse_etl.destinations.urls import url_option
from reverse_etl.errors import (
    ConfigError,
    DestinationAuthError,
    FatalDestinationError,
    RetryableDestinationError,
)
from reverse_etl.http import HttpClient, HttpRequest

MAX_RECORDS = 200
# sObject Collections upsert exists from API version 46.0.
MIN_API_VERSION = 46
API_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
# Per-record errors that succeed unchanged on a later attempt (a record lock held by another transaction).
RETRYABLE_STATUS_CODES = {"UNABLE_TO_LOCK_ROW"}
# A delete of a record that is already gone has nothing left to do.
ALREADY_DELETED = {"ENTITY_IS_DELETED"}
# An update of a record that is gone (deleted in Salesforce since): the row is upserted by external id again.
GONE = {"ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY", "NOT_FOUND"}


@dataclass(frozen=True)
class SalesforceConfig:
    instance_url: str
    token: str
    api_version: str
    sobject: str
    external_id_field: str

    @classmethod
    def parse(cls, options: Mapping[str, Any], secret: SecretLookup) -> SalesforceConfig:
        if not options.get("instance_url"):
            raise ConfigError(
                "salesforce option instance_url is required: the org's URL, e.g. https://acme.my.salesforce.com"
            )
        instance_url = url_option(
            "salesforce", "instance_url", options["instance_url"], "https://acme.my.salesforce.com"
        )
        version = str(options.get("api_version", "62.0"))
        match = re.fullmatch(r"v?(\d{2,3})\.0", version)
        if match is None or int(match.group(1)) < MIN_API_VERSION:
            raise ConfigError(
                f"salesforce option api_version must be {MIN_API_VERSION}.0 or later "
                f"(sObject Collections upsert), e.g. 62.0; got {version!r}"
            )
        sobject = options.get("sobject", "Contact")
        if not isinstance(sobject, str) or not API_NAME.match(sobject):
            raise ConfigError(
                f"salesforce option sobject must be an sObject API name such as Contact or Lead, got {sobject!r}"
            )
        external_id_field = options.get("external_id_field")
        if not isinstance(external_id_field, str) or not API_NAME.match(external_id_field):
            raise ConfigError(
                "salesforce option external_id_field is required: the API name of an External ID field of "
                f"{sobject} (e.g. Customer_Id__c) whose value is among the mapped fields; got {external_id_field!r}"
            )
        return cls(
            instance_url=instance_url,
            token=secret(str(options.get("token_env", "SALESFORCE_ACCESS_TOKEN"))),
            api_version=f"{match.group(1)}.0",
            sobject=sobject,
            external_id_field=external_id_field,
        )


def describe_errors(errors: Sequence[Mapping[str, Any]]) -> str:
    """`STATUS_CODE: message (fields)` for each error of one record."""
    parts = []
    for error in errors:
        fields = error.get("fields") or []
        suffix = f" ({', '.join(map(str, fields))})" if fields else ""
        parts.append(f"{error.get('statusCode', 'ERROR')}: {error.get('message', '')}{suffix}")
    return "; ".join(parts) or "Salesforce reported a failure without errors"


def limit_exceeded(error: FatalDestinationError | DestinationAuthError) -> bool:
    return error.status == 403 and "REQUEST_LIMIT_EXCEEDED" in (error.body or "")


class SalesforceDestination(CrmObjectsDestination):
    name = "salesforce"
    capabilities = Capabilities(
        max_batch_size=MAX_RECORDS,
        modes=frozenset({Mode.UPSERT, Mode.MIRROR}),
        # Salesforce counts API requests per rolling 24 hours per org, not per second: there is nothing to pace.
        rate_limit=None,
        identifier_rules=(
            "records are matched on external_id_field (an External ID field, sent as the model wrote it); "
            "mirror deletes use the 18-character record ids Salesforce returned"
        ),
    )

    def __init__(self, options: Mapping[str, Any], secret: SecretLookup, http: HttpClient) -> None:
        super().__init__(options, secret, http)
        self.config = SalesforceConfig.parse(options, secret)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.token}", "Content-Type": "application/json"}

    def _collections_url(self) -> str:
        return f"{self.config.instance_url}/services/data/v{self.config.api_version}/composite/sobjects"

    def _upsert_request(self, records: Sequence[Record]) -> HttpRequest:
        return HttpRequest(
            "PATCH",
            f"{self._collections_url()}/{self.config.sobject}/{self.config.external_id_field}",
            headers=self._headers(),
            json={
                "allOrNone": False,
                "records": [
                    {"attributes": {"type": self.config.sobject}, **record.fields} for record in records
                ],
            },
        )

    def _update_request(self, records: Sequence[Record]) -> HttpRequest:
        """Update by record id: the record this sync created, whatever its external id value is now."""
        return HttpRequest(
            "PATCH",
            self._collections_url(),
            headers=self._headers(),
            json={
                "allOrNone": False,
                "records": [
                    {
                        "attributes": {"type": self.config.sobject},
                        "id": record.destination_id,
                        **record.fields,
                    }
                    for record in records
                ],
            },
        )

    def _remove_request(self, records: Sequence[Record]) -> HttpRequest:
        return HttpRequest(
            "DELETE",
            self._collections_url(),
            headers=self._headers(),
            params={"ids": ",".join(str(r.destination_id) for r in records), "allOrNone": "false"},
        )

    def _plannable(self, record: Record) -> bool:
        return self._has_external_id(record)

    def _has_external_id(self, record: Record) -> bool:
        return record.fields.get(self.config.external_id_field) not in (None, "")

    def _send(self, request: HttpRequest, records: Sequence[Record]) -> list[Any] | BatchResult:
        """The per-record results array, or every record failed with the refusal of the whole request."""
        try:
            # Upsert by external id and delete by id are idempotent: a resent request changes nothing more.
            response = self.http.send(request, idempotent=True)
        except (FatalDestinationError, DestinationAuthError) as error:
            if limit_exceeded(error):
                # The org's daily API allocation is spent: every further request fails the same way until the
                # rolling window frees some. Stop the run; unconfirmed rows are sent by the next one.
                raise RetryableDestinationError(
                    f"Salesforce API request limit exceeded ({(error.body or '')[:200]}); the run stops and "
                    "unsent rows are sent next run",
                    status=error.status,
                    body=error.body,
                ) from error
            if isinstance(error, DestinationAuthError):
                raise
            return BatchResult.all_failed(records, error.http_summary())
        body = response.json()
        if not isinstance(body, list):
            return BatchResult.all_failed(
                records, "Salesforce answered without a results array", retryable=True
            )
        return body

    def _sendable(self, records: Sequence[Record]) -> tuple[list[Record], BatchResult]:
        """Rows with a value for the external id field, and the rest rejected (it would clear the field)."""
        return [r for r in records if self._has_external_id(r)], BatchResult.all_failed(
            [r for r in records if not self._has_external_id(r)],
            f"no value for external_id_field {self.config.external_id_field}",
        )

    def _update(self, records: Sequence[Record]) -> tuple[BatchResult, list[Record]]:
        """Update each row's record by its id (a changed external id value included); returns the outcome and
        the rows whose record is gone."""
        sendable, outcome = self._sendable(records)
        if not sendable:
            return outcome, []
        answer = self._send(self._update_request(sendable), sendable)
        if isinstance(answer, BatchResult):
            outcome.results += answer.results
            return outcome, []
        gone: list[Record] = []
        for index, record in enumerate(sendable):
            result = answer[index] if index < len(answer) and isinstance(answer[index], dict) else None
            codes = {e.get("statusCode") for e in (result or {}).get("errors") or []}
            if result is not None and not result.get("success") and codes and codes <= GONE:
                gone.append(record)
            else:
                outcome.results.append(self._record_result(record, result))
        return outcome, gone

    def _upsert(self, records: Sequence[Record]) -> BatchResult:
        sendable, outcome = self._sendable(records)
        if not sendable:
            return outcome
        answer = self._send(self._upsert_request(sendable), sendable)
        if isinstance(answer, BatchResult):
            outcome.results += answer.results
            return outcome
        # Results come back in the order the records were sent.
        for index, record in enumerate(sendable):
            result = answer[index] if index < len(answer) and isinstance(answer[index], dict) else None
            outcome.results.append(self._record_result(record, result))
        return outcome

    @staticmethod
    def _record_result(record: Record, result: Mapping[str, Any] | None) -> RecordResult:
        """One row's outcome from its SaveResult / UpsertResult (its record id, or the errors)."""
        if result is None:
            return RecordResult(
                record.key, ok=False, error="Salesforce returned no result for this record", retryable=True
            )
        if result.get("success"):
            return RecordResult(record.key, ok=True, destination_id=str(result.get("id")))
        errors = result.get("errors") or []
        return RecordResult(
            record.key,
            ok=False,
            error=describe_errors(errors),
            retryable=bool(errors) and all(e.get("statusCode") in RETRYABLE_STATUS_CODES for e in errors),
        )

    def _remove(self, records: Sequence[Record]) -> BatchResult:
        outcome = BatchResult()
        answer = self._send(self._remove_request(records), records)
        if isinstance(answer, BatchResult):
            outcome.results += answer.results
            return outcome
        for index, record in enumerate(records):
            result = answer[index] if index < len(answer) and isinstance(answer[index], dict) else None
            errors = (result or {}).get("errors") or []
            if result is not None and (
                result.get("success")
                or (errors and all(e.get("statusCode") in ALREADY_DELETED for e in errors))
            ):
                outcome.results.append(
                    RecordResult(record.key, ok=True, destination_id=record.destination_id)
                )
            elif result is None:
                outcome.results.append(
                    RecordResult(
                        record.key,
                        ok=False,
                        error="Salesforce returned no result for this id",
                        retryable=True,
                    )
                )
            else:
                outcome.results.append(
                    RecordResult(
                        record.key,
                        ok=False,
                        error=describe_errors(errors),
                        retryable=all(e.get("statusCode") in RETRYABLE_STATUS_CODES for e in errors),
                    )
                )
        return outcome
