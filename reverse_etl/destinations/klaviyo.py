"""Klaviyo profiles: asynchronous bulk import jobs (create or update, optionally adding to a list), at most
10,000 profiles and 5 MB per job; the job is polled until complete and its import errors are mapped back to
rows. A row whose identifier changed is imported with the id of the profile found by its old value, so that
profile is updated rather than a second created. Mirror removals take profiles off the list (`DELETE /api/lists/{id}/relationships/profiles`, 1,000 per
call); with `action: forget` each row becomes a GDPR data privacy deletion job. JSON:API bodies,
`Authorization: Klaviyo-API-Key <key>` and a dated `revision` header on every call.

This module is the destination: its capabilities, the run's checks and what a batch becomes. The parts live
beside it: klaviyo_config (options and limits), klaviyo_client (requests and answers), klaviyo_rows (row checks,
job grouping, references), klaviyo_jobs (running an import job) and klaviyo_profiles (profile lookups, list
removals)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
from reverse_etl.destinations.klaviyo_client import KlaviyoClient, failure
from reverse_etl.destinations.klaviyo_config import (
    FORGET_IDENTIFIERS,
    MAX_JOB_BYTES,
    MAX_PROFILES,
    KlaviyoConfig,
)
from reverse_etl.destinations.klaviyo_jobs import ImportJobs
from reverse_etl.destinations.klaviyo_profiles import ProfileLookups
from reverse_etl.destinations.klaviyo_rows import import_jobs, problem, split
from reverse_etl.errors import ConfigError, FatalDestinationError
from reverse_etl.http import HttpClient, HttpRequest, TokenBucket, shared_bucket

__all__ = ["MAX_JOB_BYTES", "KlaviyoConfig", "KlaviyoDestination"]


class KlaviyoDestination(Destination):
    name = "klaviyo"
    capabilities = Capabilities(
        max_batch_size=MAX_PROFILES,
        max_batch_bytes=MAX_JOB_BYTES,
        modes=frozenset({Mode.UPSERT, Mode.MIRROR, Mode.INSERT}),
        # The bulk import, job, import-error and list endpoints are all 10/s burst, 150/m steady per account.
        rate_limit=RateLimit(requests=150, per_seconds=60, burst=10),
        identifier_rules=(
            "profiles are matched on identifier (email, phone_number or external_id); phone numbers must be E.164 "
            "(+ and country code), other formats are rejected per row before sending"
        ),
    )

    def __init__(self, options: Mapping[str, Any], secret: SecretLookup, http: HttpClient) -> None:
        super().__init__(options, secret, http)
        self.config = KlaviyoConfig.parse(options, secret)
        self.client = KlaviyoClient(self.config, http)
        self.imports = ImportJobs(self.client)
        self.lookups = ProfileLookups(self.client)
        # Data privacy deletion jobs have their own, smaller limit (3/s burst, 60/m steady).
        self.privacy_bucket: TokenBucket = shared_bucket(
            f"klaviyo-privacy:{self.config.base_url}", 60, 60, burst=3
        )

    def begin_run(self, mode: Mode, previously_synced: int = 0) -> None:
        if self.config.action == "forget" and mode is Mode.MIRROR:
            raise ConfigError(
                "klaviyo action forget sends one deletion per row: use mode insert or upsert, not mirror"
            )
        if self.config.action == "import" and mode is Mode.INSERT:
            raise ConfigError(
                "klaviyo bulk import always creates or updates: use mode upsert (or mirror), not insert"
            )
        if mode is Mode.MIRROR and not self.config.list_id:
            raise ConfigError("klaviyo mode mirror removes profiles from a list: set option list_id")

    def _import_request(self, profiles: list[dict[str, Any]]) -> HttpRequest:
        """The request that starts one import job of these profiles."""
        return self.client.import_request(profiles)

    def plan_batch(self, records: Sequence[Record]) -> list[HttpRequest]:
        """The exact requests that start the work: one import job per 10,000 profiles / 5 MB, and for mirror
        removals the profile lookups (100 identifiers each); forget: one deletion job per row. What follows
        depends on the answers: job polls and error reads (the job id), list removals (the profile ids found)."""
        writes, removals = split(records)
        identifier = self.config.identifier
        if self.config.action == "forget":
            return [self.client.forget_request(r) for r in writes if problem(r, identifier) is None]
        jobs, _ = import_jobs(writes, identifier, self.client.envelope())
        requests = [self._import_request([profile for _, profile in job]) for job in jobs]
        # Rows whose identifier changed: the lookup of their profile by the old value (its id then goes in the
        # import). Removals: the profile lookups; the list removal (DELETE) that follows names the ids found.
        return self.lookups.moved_plan(writes) + requests + self.lookups.removal_plan(removals)

    def write_batch(self, records: Sequence[Record]) -> BatchResult:
        writes, removals = split(records)
        outcome = BatchResult()
        if self.config.action == "forget":
            outcome.results += [self._forget(record) for record in writes]
            # A forgotten person leaving the model asks nothing more of Klaviyo.
            outcome.results += BatchResult.all_ok(removals).results
            return outcome
        profile_ids, refused = self.lookups.previous_profiles(writes)
        outcome.results += refused.results
        failed = {result.key for result in refused.results}
        jobs, rejected = import_jobs(
            [r for r in writes if r.key not in failed],
            self.config.identifier,
            self.client.envelope(),
            profile_ids,
        )
        outcome.results += rejected.results
        for job in jobs:
            outcome.results += self.imports.run(job).results
        if removals:
            outcome.results += self.lookups.remove(removals).results
        return outcome

    def forget_batch(self, records: Sequence[Record]) -> BatchResult:
        """A forget request of an import sync erases the person (a data privacy deletion job by the email or
        phone number the row was imported with), not just their list membership. A row imported by
        external_id, which a deletion job cannot name, is taken off the list as a mirror would."""
        if self.config.action == "forget":
            return self.write_batch(records)
        outcome, by_list = BatchResult(), []
        for record in records:
            identifier, _, value = (record.destination_id or "").partition(":")
            if identifier in FORGET_IDENTIFIERS and value:
                named = Record(record.key, {identifier: value}, Operation.UPSERT)
                outcome.results.append(self._forget(named, identifier))
            else:
                by_list.append(record)
        if by_list:
            outcome.results += self.write_batch(by_list).results
        return outcome

    def _forget(self, record: Record, identifier: str | None = None) -> RecordResult:
        if identifier is None:
            reason = problem(record, self.config.identifier)
            if reason:
                return RecordResult(record.key, ok=False, error=reason)
        self.privacy_bucket.acquire(self.http.sleep)
        try:
            # Deleting an already deleted person is harmless, so the request may be repeated.
            self.http.send(self.client.forget_request(record, identifier), idempotent=True)
        except FatalDestinationError as error:
            return RecordResult(record.key, ok=False, error=failure(error))
        return RecordResult(record.key, ok=True)
