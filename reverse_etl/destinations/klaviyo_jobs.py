"""One Klaviyo bulk import job run to its end: started, polled until complete or cancelled (at most
job_timeout_seconds), and its import errors mapped back to the rows that sent them, so each row of the job is
confirmed (with its reference), rejected, or left to be sent again next run."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from reverse_etl.destinations.base import BatchResult, Record, RecordResult
from reverse_etl.destinations.klaviyo_client import KlaviyoClient, failure
from reverse_etl.destinations.klaviyo_config import IDENTIFIERS, PAGE_SIZE
from reverse_etl.destinations.klaviyo_rows import Job, normal
from reverse_etl.errors import FatalDestinationError


class ImportJobs:
    """Runs the import jobs of one sync's configuration through its client."""

    def __init__(self, client: KlaviyoClient) -> None:
        self.client = client
        self.config = client.config
        self.http = client.http

    def _wait(self, job_id: str) -> dict[str, Any]:
        """Poll the job until it is complete or cancelled; raises TimeoutError past job_timeout."""
        deadline = time.monotonic() + self.config.job_timeout
        url = f"{self.config.base_url}/api/profile-bulk-import-jobs/{job_id}"
        while True:
            job = self.client.get(url)["data"]
            if job["attributes"]["status"] in ("complete", "cancelled"):
                return job
            if time.monotonic() >= deadline:
                raise TimeoutError(job_id)
            self.http.sleep(self.config.poll_interval)

    def run(self, job: Job) -> BatchResult:
        records = [record for record, _ in job]
        try:
            # A bulk import creates or updates by identifier: a resent job changes nothing more.
            response = self.http.send(
                self.client.import_request([profile for _, profile in job]), idempotent=True
            )
            job_id = str(response.json()["data"]["id"])
            finished = self._wait(job_id)
            if finished["attributes"]["status"] == "cancelled":
                return BatchResult.all_failed(records, f"import job {job_id} was cancelled", retryable=True)
            errors: dict[str, str] = {}
            unmatched = 0
            if finished["attributes"].get("failed_count"):
                errors, unmatched = self._import_errors(job_id, records)
        except FatalDestinationError as error:
            return BatchResult.all_failed(records, failure(error))
        except TimeoutError as error:
            return BatchResult.all_failed(
                records,
                f"import job {error} still running after {self.config.job_timeout:g} s (job_timeout_seconds); "
                "the rows are sent again next run",
                retryable=True,
            )
        outcome = BatchResult()
        for record in records:
            if record.key in errors:
                outcome.results.append(RecordResult(record.key, ok=False, error=errors[record.key]))
            elif unmatched:
                outcome.results.append(
                    RecordResult(
                        record.key,
                        ok=False,
                        error=f"import job {job_id} reported {unmatched} error(s) that name no row; sent again next run",
                        retryable=True,
                    )
                )
            else:
                # What finds the profile again when the row leaves the model: `<identifier>:<value>`.
                name = self.config.identifier
                reference = f"{name}:{normal(name, record.fields[name])}"
                outcome.results.append(RecordResult(record.key, ok=True, destination_id=reference))
        return outcome

    @staticmethod
    def _matcher(records: Sequence[Record]) -> dict[tuple[str, str], Record]:
        """Rows by every identifier they carry (emails compared lower-cased)."""
        index: dict[tuple[str, str], Record] = {}
        for record in records:
            for name in IDENTIFIERS:
                value = record.fields.get(name)
                if value not in (None, ""):
                    index.setdefault((name, normal(name, value)), record)
        return index

    @staticmethod
    def _match(index: dict[tuple[str, str], Record], attributes: Mapping[str, Any]) -> Record | None:
        for name in IDENTIFIERS:
            value = attributes.get(name)
            if value not in (None, "") and (name, normal(name, value)) in index:
                return index[(name, normal(name, value))]
        return None

    def _import_errors(self, job_id: str, records: Sequence[Record]) -> tuple[dict[str, str], int]:
        """Each import error mapped to its row by the identifiers in its original_payload; returns the errors by
        row key and how many errors matched no row (then no row of the job can be called confirmed)."""
        index = self._matcher(records)
        errors: dict[str, str] = {}
        unmatched = 0
        url = f"{self.config.base_url}/api/profile-bulk-import-jobs/{job_id}/import-errors"
        for item in self.client.pages(url, {"page[size]": PAGE_SIZE}):
            attributes = item.get("attributes") or {}
            record = self._match(index, attributes.get("original_payload") or {})
            if record is None:
                unmatched += 1
                continue
            message = (
                f"{attributes.get('code', 'invalid')}: {attributes.get('detail') or attributes.get('title')}"
            )
            errors[record.key] = f"{errors[record.key]}; {message}" if record.key in errors else message
        return errors, unmatched
