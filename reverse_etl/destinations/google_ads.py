"""Google Ads Customer Match user lists through offline user data jobs (REST interface).

A run creates a job (`POST /vN/customers/{customer_id}/offlineUserDataJobs:create`, type CUSTOMER_MATCH_USER_LIST
with the user list and the consent of the upload), adds one operation per row to it
(`POST /vN/{job}:addOperations` with `enablePartialFailure`, at most 100,000 user identifiers per request and 20
per operation) and runs it once at the end (`POST /vN/{job}:run`). Google refuses creates and removes in one job
(CONFLICTING_OPERATION), so removals go to a job of their own. Partial failures name the failing operation by its
index, which maps back to the row. An audience replace that knows nothing of the list (previously_synced == 0)
starts its job with `removeAll`, so the list ends equal to the model.

A row is one person: every email and phone it carries becomes its own UserIdentifier (normalized and SHA-256
hashed by reverse_etl.destinations.identifiers), plus one address identifier when first name, last name, country
code and postal code are all there (Customer Match takes an AddressInfo only with all four). A value that is not
valid once normalized, each part of an incomplete address, and identifiers beyond 20 are left out and counted in
BatchResult.dropped; the row's other identifiers are still sent. A row is rejected only when none is left.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
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
from reverse_etl.destinations.customer_match import FIELDS, user_identifiers
from reverse_etl.destinations.google_ads_config import MAX_ROWS, GoogleAdsConfig
from reverse_etl.destinations.google_ads_errors import google_error, partial_failures
from reverse_etl.destinations.identifiers import Dropped, InvalidIdentifier
from reverse_etl.errors import ConfigError, DestinationAuthError, DestinationError, FatalDestinationError
from reverse_etl.http import HttpClient, HttpRequest

__all__ = ["GoogleAdsConfig", "GoogleAdsDestination", "google_error"]

MAX_IDENTIFIERS_PER_REQUEST = 100_000


@dataclass
class _Job:
    resource_name: str
    operations: int = 0


@dataclass(frozen=True)
class _Row:
    record: Record
    identifiers: list[dict[str, Any]]


class GoogleAdsDestination(Destination):
    name = "google_ads"
    capabilities = Capabilities(
        max_batch_size=MAX_ROWS,
        modes=frozenset({Mode.AUDIENCE_ADD, Mode.AUDIENCE_REMOVE, Mode.AUDIENCE_REPLACE}),
        identifier_rules=(
            "fields emails and phones (lists, or strings separated by , ; or newlines) and first_name, last_name, "
            "country_code, postal_code; normalized by Google's rules and SHA-256 hex hashed; values already hashed "
            "(64 hex digits) are sent as they are"
        ),
        # Adding or removing the same member twice leaves the list the same.
        idempotent_writes=True,
        # Operations land when the job runs (finish_run).
        applies_at_finish=True,
    )

    def __init__(self, options: Mapping[str, Any], secret: SecretLookup, http: HttpClient) -> None:
        super().__init__(options, secret, http)
        self.config = GoogleAdsConfig.parse(options, secret)
        self.mode = Mode.AUDIENCE_ADD
        self.clear_first = False
        self.jobs: dict[str, _Job] = {}
        self._planned: set[str] = set()

    def batch_size(self) -> int:
        return self.config.batch_size

    # Requests

    def _headers(self) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {self.config.token}",
            "developer-token": self.config.developer_token,
            "Content-Type": "application/json",
        }
        if self.config.login_customer_id:
            headers["login-customer-id"] = self.config.login_customer_id
        return headers

    def _url(self, path: str) -> str:
        return f"{self.config.base_url}/{self.config.api_version}/{path}"

    def create_request(self) -> HttpRequest:
        customer = self.config.customer_id
        return HttpRequest(
            "POST",
            self._url(f"customers/{customer}/offlineUserDataJobs:create"),
            headers=self._headers(),
            json={
                "job": {
                    "type": "CUSTOMER_MATCH_USER_LIST",
                    "customerMatchUserListMetadata": {
                        "userList": f"customers/{customer}/userLists/{self.config.user_list_id}",
                        "consent": {
                            "adUserData": self.config.ad_user_data,
                            "adPersonalization": self.config.ad_personalization,
                        },
                    },
                }
            },
        )

    def add_operations_request(self, job: str, operations: list[dict[str, Any]]) -> HttpRequest:
        return HttpRequest(
            "POST",
            self._url(f"{job}:addOperations"),
            headers=self._headers(),
            json={"enablePartialFailure": True, "operations": operations},
        )

    def run_request(self, job: str) -> HttpRequest:
        return HttpRequest("POST", self._url(f"{job}:run"), headers=self._headers(), json={})

    # Rows -> operations

    def _rows(self, records: Sequence[Record]) -> tuple[list[_Row], BatchResult]:
        """Sendable rows with their identifiers, and the results of rows settled without a request with the
        count of values left out, by reason."""
        rows: list[_Row] = []
        settled = BatchResult()
        counts: Counter[str] = Counter()
        for record in records:
            unknown = sorted(set(record.fields) - FIELDS)
            if unknown:
                raise ConfigError(
                    f"google_ads: mapped field(s) {', '.join(unknown)} are not Customer Match identifiers; "
                    f"map only {', '.join(sorted(FIELDS))}"
                )
            if record.operation == Operation.REMOVE and not record.fields:
                # A row that left the model: remove the identifiers this sync confirmed for it, if any.
                if not record.destination_id:
                    settled.results.append(RecordResult(record.key, ok=True))
                    continue
                rows.append(_Row(record, json.loads(record.destination_id)))
                continue
            dropped: list[Dropped] = []
            try:
                rows.append(
                    _Row(record, user_identifiers(record.fields, self.config.default_region, dropped))
                )
            except InvalidIdentifier as error:
                settled.results.append(
                    RecordResult(record.key, ok=False, error=f"invalid identifier: {error}")
                )
            counts.update(reason for reason, _ in dropped)
        settled.dropped = dict(counts)
        return rows, settled

    @staticmethod
    def _chunks(rows: list[_Row], first_budget: int) -> Iterator[list[_Row]]:
        """Consecutive rows whose identifiers fit one request (at most 100,000)."""
        chunk: list[_Row] = []
        budget = first_budget
        for row in rows:
            if chunk and len(row.identifiers) > budget:
                yield chunk
                chunk, budget = [], MAX_IDENTIFIERS_PER_REQUEST
            chunk.append(row)
            budget -= len(row.identifiers)
        if chunk:
            yield chunk

    @staticmethod
    def _kind(operation: Operation) -> str:
        return "remove" if operation in (Operation.REMOVE, Operation.DELETE) else "create"

    def plan_batch(self, records: Sequence[Record]) -> list[HttpRequest]:
        rows, _ = self._rows(records)
        requests: list[HttpRequest] = []
        for kind in ("remove", "create"):
            selected = [row for row in rows if self._kind(row.record.operation) == kind]
            if not selected:
                continue
            if kind not in self._planned:
                self._planned.add(kind)
                requests.append(self.create_request())
            job = f"customers/{self.config.customer_id}/offlineUserDataJobs/<{kind} job created by the run>"
            for chunk in self._chunks(selected, MAX_IDENTIFIERS_PER_REQUEST):
                operations = [{kind: {"userIdentifiers": row.identifiers}} for row in chunk]
                requests.append(self.add_operations_request(job, operations))
        return requests

    # Run protocol

    def begin_run(self, mode: Mode, previously_synced: int = 0) -> None:
        self.mode = mode
        self.jobs = {}
        # The vendor's replace: a list this sync knows nothing of is cleared by the job that adds the model.
        self.clear_first = mode == Mode.AUDIENCE_REPLACE and previously_synced == 0

    def _job(self, kind: str) -> _Job:
        job = self.jobs.get(kind)
        if job is None:
            response = self.http.send(self.create_request())
            job = self.jobs[kind] = _Job(str(response.json()["resourceName"]))
        return job

    def write_batch(self, records: Sequence[Record]) -> BatchResult:
        rows, outcome = self._rows(records)
        for kind in ("remove", "create"):
            selected = [row for row in rows if self._kind(row.record.operation) == kind]
            if selected:
                outcome.results += self._send(kind, selected)
        return outcome

    def _send(self, kind: str, rows: list[_Row]) -> list[RecordResult]:
        try:
            job = self._job(kind)
        except DestinationAuthError:
            raise
        except DestinationError as error:
            reason, retryable = google_error(error)
            return BatchResult.all_failed([row.record for row in rows], reason, retryable).results
        results: list[RecordResult] = []
        for chunk in self._chunks(rows, MAX_IDENTIFIERS_PER_REQUEST):
            operations: list[dict[str, Any]] = [{kind: {"userIdentifiers": row.identifiers}} for row in chunk]
            offset = 0
            if kind == "create" and self.clear_first and job.operations == 0:
                operations.insert(0, {"removeAll": True})
                offset = 1
            try:
                # Adding or removing the same members again is harmless, so a resend after a 5xx is safe.
                response = self.http.send(
                    self.add_operations_request(job.resource_name, operations), idempotent=True
                )
            except DestinationAuthError:
                raise
            except DestinationError as error:
                reason, retryable = google_error(error)
                results += BatchResult.all_failed([row.record for row in chunk], reason, retryable).results
                continue
            job.operations += len(operations)
            failures = partial_failures(response.json() if response.content else {})
            for index, row in enumerate(chunk):
                failure = failures.get(index + offset)
                if failure is None:
                    # The identifiers are what later removes this row from the list.
                    destination_id = json.dumps(row.identifiers, separators=(",", ":"))
                    results.append(RecordResult(row.record.key, ok=True, destination_id=destination_id))
                else:
                    results.append(
                        RecordResult(row.record.key, ok=False, error=failure[0], retryable=failure[1])
                    )
            if offset and 0 in failures:
                raise FatalDestinationError(f"Google refused removeAll on the user list: {failures[0][0]}")
        return results

    def finish_run(self, mode: Mode, success: bool) -> None:
        """Run the jobs once, removals first. Jobs holding confirmed rows run even after an interruption, so what
        the engine recorded as synced does land; a replace that never sent a row clears the list only on success."""
        if self.clear_first and success and "create" not in self.jobs:
            clearing = self._job("create")
            self.http.send(
                self.add_operations_request(clearing.resource_name, [{"removeAll": True}]), idempotent=True
            )
            clearing.operations += 1
        for kind in ("remove", "create"):
            job = self.jobs.get(kind)
            if job is None or job.operations == 0:
                continue
            try:
                self.http.send(self.run_request(job.resource_name), idempotent=True)
            except FatalDestinationError as error:
                # A resent run whose first attempt went through: the job is already running.
                if "JOB_ALREADY_STARTED" not in (error.body or ""):
                    reason, _ = google_error(error)
                    raise FatalDestinationError(
                        f"Google did not run {job.resource_name}: {reason}",
                        status=error.status,
                        body=error.body,
                    ) from error
        self.jobs = {}
