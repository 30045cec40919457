"""Klaviyo profiles: asynchronous bulk import jobs (create or update, optionally adding to a list), at most
10,000 profiles and 5 MB per job; the job is polled until complete and its import errors are mapped back to
rows. A row whose identifier changed is imported with the id of the profile found by its old value, so that
profile is updated rather than a second created. Mirror removals take profiles off the list (`DELETE /api/lists/{id}/relationships/profiles`, 1,000 per
call); with `action: forget` each row becomes a GDPR data privacy deletion job. JSON:API bodies,
`Authorization: Klaviyo-API-Key <key>` and a dated `revision` header on every call."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Mapping, Sequence
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
from reverse_etl.errors import ConfigError, DestinationError, FatalDestinationError
from reverse_etl.http import HttpClient, HttpRequest, TokenBucket, shared_bucket

DEFAULT_BASE_URL = "https://a.klaviyo.com"
MAX_PROFILES = 10_000
MAX_JOB_BYTES = 5_000_000
MAX_PROFILE_BYTES = 100_000
MAX_LIST_REMOVALS = 1_000
PAGE_SIZE = 100
REVISION = "2026-07-15"
JSON_API = "application/vnd.api+json"
IDENTIFIERS = ("external_id", "email", "phone_number")
FORGET_IDENTIFIERS = ("email", "phone_number")
ATTRIBUTES = {"first_name", "last_name", "organization", "locale", "title", "image"}
LOCATION = {
    "address1",
    "address2",
    "city",
    "country",
    "region",
    "zip",
    "timezone",
    "latitude",
    "longitude",
    "ip",
}
E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
REVISION_FORMAT = re.compile(r"^\d{4}-\d{2}-\d{2}(\.[a-z0-9]+)?$")


def _number(options: Mapping[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ConfigError(
            f"klaviyo option {key} must be a number of seconds in {low:g}..{high:g}, got {value!r}"
        )
    return float(value)


@dataclass(frozen=True)
class KlaviyoConfig:
    base_url: str
    api_key: str
    list_id: str | None
    identifier: str
    action: str
    revision: str
    poll_interval: float
    job_timeout: float

    @classmethod
    def parse(cls, options: Mapping[str, Any], secret: SecretLookup) -> KlaviyoConfig:
        action = options.get("action", "import")
        if action not in ("import", "forget"):
            raise ConfigError(f"klaviyo option action must be import or forget, got {action!r}")
        identifier = options.get("identifier", "email")
        allowed = FORGET_IDENTIFIERS if action == "forget" else IDENTIFIERS
        if identifier not in allowed:
            raise ConfigError(
                f"klaviyo option identifier must be one of {', '.join(allowed)} for action {action}, got {identifier!r}"
            )
        list_id = options.get("list_id")
        if list_id is not None and (not isinstance(list_id, str) or not list_id.strip()):
            raise ConfigError(
                "klaviyo option list_id must be a Klaviyo list id such as 'Y6nRLr', or be left out"
            )
        revision = str(options.get("revision", REVISION))
        if not REVISION_FORMAT.match(revision):
            raise ConfigError(
                f"klaviyo option revision must be a dated API revision like {REVISION} (YYYY-MM-DD[.suffix]), got {revision!r}"
            )
        base_url = url_option(
            "klaviyo", "base_url", options.get("base_url", DEFAULT_BASE_URL), DEFAULT_BASE_URL
        )
        api_key = secret(str(options.get("api_key_env", "KLAVIYO_API_KEY")))
        return cls(
            base_url=base_url,
            api_key=api_key,
            list_id=list_id.strip() if list_id else None,
            identifier=identifier,
            action=action,
            revision=revision,
            poll_interval=_number(options, "poll_interval_seconds", 2.0, 0.01, 60),
            job_timeout=_number(options, "job_timeout_seconds", 900.0, 0.1, 86_400),
        )


def _size(value: Any) -> int:
    """Bytes of `value` as the HTTP layer serializes a JSON body (json.dumps defaults, UTF-8)."""
    return len(json.dumps(value, allow_nan=False).encode("utf-8"))


def profile_attributes(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Mapped fields as Klaviyo profile attributes: identifiers and standard attributes at the top, location
    fields under `location`, everything else under `properties`. Nulls are left out (they change nothing)."""
    attributes: dict[str, Any] = {}
    location: dict[str, Any] = {}
    properties: dict[str, Any] = {}
    for name, value in fields.items():
        if value is None:
            continue
        if name in IDENTIFIERS or name in ATTRIBUTES:
            attributes[name] = str(value)
        elif name in LOCATION:
            location[name] = value
        else:
            properties[name] = value
    if location:
        attributes["location"] = location
    if properties:
        attributes["properties"] = properties
    return attributes


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

    # -- requests ---------------------------------------------------------------------------------------------

    def _headers(self, body: bool = True) -> dict[str, str]:
        headers = {
            "Authorization": f"Klaviyo-API-Key {self.config.api_key}",
            "revision": self.config.revision,
            "accept": JSON_API,
        }
        if body:
            headers["content-type"] = JSON_API
        return headers

    def _envelope(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": "profile-bulk-import-job", "attributes": {"profiles": {"data": []}}}
        if self.config.list_id:
            data["relationships"] = {"lists": {"data": [{"type": "list", "id": self.config.list_id}]}}
        return {"data": data}

    def _import_request(self, profiles: list[dict[str, Any]]) -> HttpRequest:
        body = self._envelope()
        body["data"]["attributes"]["profiles"]["data"] = profiles
        return HttpRequest(
            "POST", f"{self.config.base_url}/api/profile-bulk-import-jobs", headers=self._headers(), json=body
        )

    def _remove_request(self, profile_ids: list[str]) -> HttpRequest:
        return HttpRequest(
            "DELETE",
            f"{self.config.base_url}/api/lists/{self.config.list_id}/relationships/profiles",
            headers=self._headers(),
            json={"data": [{"type": "profile", "id": profile_id} for profile_id in profile_ids]},
        )

    def _forget_request(self, record: Record, identifier: str | None = None) -> HttpRequest:
        identifier = identifier or self.config.identifier
        profile = {"type": "profile", "attributes": {identifier: str(record.fields[identifier])}}
        return HttpRequest(
            "POST",
            f"{self.config.base_url}/api/data-privacy-deletion-jobs",
            headers=self._headers(),
            json={
                "data": {"type": "data-privacy-deletion-job", "attributes": {"profile": {"data": profile}}}
            },
        )

    # -- batching ---------------------------------------------------------------------------------------------

    def _problem(self, record: Record) -> str | None:
        """Why a row cannot be sent as it is, or None."""
        identifier = self.config.identifier
        if record.fields.get(identifier) in (None, ""):
            return f"no value for identifier {identifier}"
        phone = record.fields.get("phone_number")
        if phone not in (None, "") and not E164.match(str(phone)):
            return (
                f"phone_number {str(phone)!r} is not E.164 (a + then country code and number, at most 15 digits, "
                "e.g. +14155550123); Klaviyo rejects other formats"
            )
        return None

    def _jobs(
        self, records: Sequence[Record], profile_ids: Mapping[str, str] | None = None
    ) -> tuple[list[list[tuple[Record, dict[str, Any]]]], BatchResult]:
        """Sendable rows grouped into jobs of at most 10,000 profiles and 5 MB; unsendable rows rejected. A row
        in `profile_ids` (row key -> Klaviyo profile id) names its profile by id: that profile is updated."""
        rejected = BatchResult()
        jobs: list[list[tuple[Record, dict[str, Any]]]] = []
        base = _size(self._envelope())
        current: list[tuple[Record, dict[str, Any]]] = []
        current_bytes = base
        for record in records:
            problem = self._problem(record)
            profile: dict[str, Any] = {"type": "profile", "attributes": profile_attributes(record.fields)}
            if profile_ids and record.key in profile_ids:
                profile["id"] = profile_ids[record.key]
            size = _size(profile)
            if problem is None and size > MAX_PROFILE_BYTES:
                problem = (
                    f"profile is {size:,} bytes; Klaviyo accepts at most {MAX_PROFILE_BYTES:,} per profile"
                )
            if problem:
                rejected.results.append(RecordResult(record.key, ok=False, error=problem))
                continue
            added = size + (2 if current else 0)  # ", " between array items
            if current and (len(current) >= MAX_PROFILES or current_bytes + added > MAX_JOB_BYTES):
                jobs.append(current)
                current, current_bytes, added = [], base, size
            current.append((record, profile))
            current_bytes += added
        if current:
            jobs.append(current)
        return jobs, rejected

    @staticmethod
    def _split(records: Sequence[Record]) -> tuple[list[Record], list[Record]]:
        removing = (Operation.DELETE, Operation.REMOVE)
        return [r for r in records if r.operation not in removing], [
            r for r in records if r.operation in removing
        ]

    def plan_batch(self, records: Sequence[Record]) -> list[HttpRequest]:
        """The exact requests that start the work: one import job per 10,000 profiles / 5 MB, and for mirror
        removals the profile lookups (100 identifiers each); forget: one deletion job per row. What follows
        depends on the answers: job polls and error reads (the job id), list removals (the profile ids found)."""
        writes, removals = self._split(records)
        if self.config.action == "forget":
            return [self._forget_request(r) for r in writes if self._problem(r) is None]
        jobs, _ = self._jobs(writes)
        requests = [self._import_request([profile for _, profile in job]) for job in jobs]
        # Rows whose identifier changed: the lookup of their profile by the old value (its id then goes in the
        # import). Removals: the profile lookups; the list removal (DELETE) that follows names the ids found.
        moved = [(record, reference) for record in writes if (reference := self._moved(record)) is not None]
        return self._lookup_plan(_by_identifier(moved)[0]) + requests + self._removal_plan(removals)

    def write_batch(self, records: Sequence[Record]) -> BatchResult:
        writes, removals = self._split(records)
        outcome = BatchResult()
        if self.config.action == "forget":
            outcome.results += [self._forget(record) for record in writes]
            # A forgotten person leaving the model asks nothing more of Klaviyo.
            outcome.results += BatchResult.all_ok(removals).results
            return outcome
        profile_ids, refused = self._previous_profiles(writes)
        outcome.results += refused.results
        failed = {result.key for result in refused.results}
        jobs, rejected = self._jobs([r for r in writes if r.key not in failed], profile_ids)
        outcome.results += rejected.results
        for job in jobs:
            outcome.results += self._import(job).results
        if removals:
            outcome.results += self._remove(removals).results
        return outcome

    # -- import jobs ------------------------------------------------------------------------------------------

    @staticmethod
    def _failure(error: DestinationError) -> str:
        """One line from a JSON:API error body: the first error's code, title and detail."""
        try:
            first = (json.loads(error.body or "") or {}).get("errors", [])[0]
            return f"HTTP {error.status} {first.get('code')}: {first.get('detail') or first.get('title')}"
        except (ValueError, IndexError, AttributeError, TypeError):
            return error.http_summary()

    def _get(self, url: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.http.send(
            HttpRequest("GET", url, headers=self._headers(body=False), params=params)
        ).json()

    def _pages(self, url: str, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """Every resource of a cursor-paginated collection, following links.next."""
        next_url: str | None = url
        next_params: Mapping[str, Any] | None = params
        while next_url:
            page = self._get(next_url, next_params)
            yield from page.get("data") or []
            next_url, next_params = (page.get("links") or {}).get("next"), None

    def _wait(self, job_id: str) -> dict[str, Any]:
        """Poll the job until it is complete or cancelled; raises TimeoutError past job_timeout."""
        deadline = time.monotonic() + self.config.job_timeout
        url = f"{self.config.base_url}/api/profile-bulk-import-jobs/{job_id}"
        while True:
            job = self._get(url)["data"]
            if job["attributes"]["status"] in ("complete", "cancelled"):
                return job
            if time.monotonic() >= deadline:
                raise TimeoutError(job_id)
            self.http.sleep(self.config.poll_interval)

    def _import(self, job: list[tuple[Record, dict[str, Any]]]) -> BatchResult:
        records = [record for record, _ in job]
        try:
            # A bulk import creates or updates by identifier: a resent job changes nothing more.
            response = self.http.send(self._import_request([profile for _, profile in job]), idempotent=True)
            job_id = str(response.json()["data"]["id"])
            finished = self._wait(job_id)
            if finished["attributes"]["status"] == "cancelled":
                return BatchResult.all_failed(records, f"import job {job_id} was cancelled", retryable=True)
            errors: dict[str, str] = {}
            unmatched = 0
            if finished["attributes"].get("failed_count"):
                errors, unmatched = self._import_errors(job_id, records)
        except FatalDestinationError as error:
            return BatchResult.all_failed(records, self._failure(error))
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
                reference = f"{name}:{_normal(name, record.fields[name])}"
                outcome.results.append(RecordResult(record.key, ok=True, destination_id=reference))
        return outcome

    def _matcher(self, records: Sequence[Record]) -> dict[tuple[str, str], Record]:
        """Rows by every identifier they carry (emails compared lower-cased)."""
        index: dict[tuple[str, str], Record] = {}
        for record in records:
            for name in IDENTIFIERS:
                value = record.fields.get(name)
                if value not in (None, ""):
                    index.setdefault((name, _normal(name, value)), record)
        return index

    def _match(self, index: dict[tuple[str, str], Record], attributes: Mapping[str, Any]) -> Record | None:
        for name in IDENTIFIERS:
            value = attributes.get(name)
            if value not in (None, "") and (name, _normal(name, value)) in index:
                return index[(name, _normal(name, value))]
        return None

    def _import_errors(self, job_id: str, records: Sequence[Record]) -> tuple[dict[str, str], int]:
        """Each import error mapped to its row by the identifiers in its original_payload; returns the errors by
        row key and how many errors matched no row (then no row of the job can be called confirmed)."""
        index = self._matcher(records)
        errors: dict[str, str] = {}
        unmatched = 0
        url = f"{self.config.base_url}/api/profile-bulk-import-jobs/{job_id}/import-errors"
        for item in self._pages(url, {"page[size]": PAGE_SIZE}):
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

    # -- removals and deletions -------------------------------------------------------------------------------

    def _lookup_request(self, name: str, values: list[str]) -> HttpRequest:
        return HttpRequest(
            "GET",
            f"{self.config.base_url}/api/profiles",
            headers=self._headers(body=False),
            params={
                "filter": f"any({name},{json.dumps(values, separators=(',', ':'))})",
                "fields[profile]": name,
                "page[size]": PAGE_SIZE,
            },
        )

    @staticmethod
    def _references(records: Sequence[Record]) -> tuple[dict[str, list[tuple[Record, str]]], list[Record]]:
        """Rows to take off the list, by identifier name with their value; and rows never confirmed."""
        return _by_identifier([(record, record.destination_id or "") for record in records])

    def _removal_plan(self, records: Sequence[Record]) -> list[HttpRequest]:
        return self._lookup_plan(self._references(records)[0])

    def _lookup_plan(self, by_name: Mapping[str, Sequence[tuple[Record, str]]]) -> list[HttpRequest]:
        """The profile lookups for rows by identifier name with their value, 100 values a lookup."""
        return [
            self._lookup_request(name, [value for _, value in chunk[start : start + PAGE_SIZE]])
            for name, chunk in by_name.items()
            for start in range(0, len(chunk), PAGE_SIZE)
        ]

    def _lookup(self, name: str, values: list[str]) -> dict[str, list[str]]:
        """Profile ids by the normalized value of identifier `name`; raises FatalDestinationError."""
        request = self._lookup_request(name, values)
        ids: dict[str, list[str]] = {}
        for profile in self._pages(request.url, request.params or {}):
            value = (profile.get("attributes") or {}).get(name)
            ids.setdefault(_normal(name, value), []).append(str(profile["id"]))
        return ids

    def _moved(self, record: Record) -> str | None:
        """The reference (`name:value`) a row was last confirmed with, when its identifier's value changed."""
        name, _, value = (record.destination_id or "").partition(":")
        current = record.fields.get(name) if name == self.config.identifier else None
        if value and current not in (None, "") and _normal(name, current) != value:
            return record.destination_id
        return None

    def _previous_profiles(self, records: Sequence[Record]) -> tuple[dict[str, str], BatchResult]:
        """For rows whose identifier changed: the id of the profile the sync imported them as (found by the old
        value), so the import updates that profile (its identifier included) instead of creating a second.
        A row whose old profile is gone is imported afresh; a failed lookup rejects the row."""
        moved = [(record, reference) for record in records if (reference := self._moved(record)) is not None]
        by_name, _ = _by_identifier(moved)
        profile_ids: dict[str, str] = {}
        refused = BatchResult()
        for name, named in by_name.items():
            for start in range(0, len(named), PAGE_SIZE):
                chunk = named[start : start + PAGE_SIZE]
                try:
                    found = self._lookup(name, [value for _, value in chunk])
                except FatalDestinationError as error:
                    refused.results += BatchResult.all_failed(
                        [r for r, _ in chunk], self._failure(error)
                    ).results
                    continue
                profile_ids.update((r.key, found[value][0]) for r, value in chunk if found.get(value))
        return profile_ids, refused

    def _remove(self, records: Sequence[Record]) -> BatchResult:
        """Find each row's profiles by the identifier it was imported with (100 a lookup), then take them off
        the list, 1,000 profile ids a call. A row never confirmed, or whose profile is gone, has nothing to remove."""
        if not self.config.list_id:
            return BatchResult.all_failed(records, "klaviyo removals need option list_id (the list to leave)")
        by_name, unknown = self._references(records)
        outcome = BatchResult.all_ok(unknown)
        found: list[tuple[Record, list[str]]] = []
        for name, rows in by_name.items():
            for start in range(0, len(rows), PAGE_SIZE):
                chunk = rows[start : start + PAGE_SIZE]
                try:
                    ids = self._lookup(name, [value for _, value in chunk])
                except FatalDestinationError as error:
                    outcome.results += BatchResult.all_failed(
                        [r for r, _ in chunk], self._failure(error)
                    ).results
                    continue
                for record, value in chunk:
                    if ids.get(value):
                        found.append((record, ids[value]))
                    else:
                        outcome.results.append(RecordResult(record.key, ok=True))
        group: list[tuple[Record, list[str]]] = []
        for item in [*found, None]:
            if item is not None and sum(len(ids) for _, ids in group) + len(item[1]) <= MAX_LIST_REMOVALS:
                group.append(item)
                continue
            if group:
                outcome.results += self._remove_group(group).results
            group = [item] if item is not None else []
        return outcome

    def _remove_group(self, group: list[tuple[Record, list[str]]]) -> BatchResult:
        records = [record for record, _ in group]
        try:
            # Removing a profile that is no longer on the list is harmless: the call may be repeated.
            self.http.send(self._remove_request([i for _, ids in group for i in ids]), idempotent=True)
        except FatalDestinationError as error:
            return BatchResult.all_failed(records, self._failure(error))
        return BatchResult.all_ok(records)

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
            problem = self._problem(record)
            if problem:
                return RecordResult(record.key, ok=False, error=problem)
        self.privacy_bucket.acquire(self.http.sleep)
        try:
            # Deleting an already deleted person is harmless, so the request may be repeated.
            self.http.send(self._forget_request(record, identifier), idempotent=True)
        except FatalDestinationError as error:
            return RecordResult(record.key, ok=False, error=self._failure(error))
        return RecordResult(record.key, ok=True)


def _by_identifier(
    rows: Sequence[tuple[Record, str]],
) -> tuple[dict[str, list[tuple[Record, str]]], list[Record]]:
    """Rows by identifier name with their value, from references `name:value`; and the rows without one."""
    by_name: dict[str, list[tuple[Record, str]]] = {}
    unknown: list[Record] = []
    for record, reference in rows:
        name, _, value = reference.partition(":")
        if name in IDENTIFIERS and value:
            by_name.setdefault(name, []).append((record, value))
        else:
            unknown.append(record)
    return by_name, unknown


def _normal(name: str, value: Any) -> str:
    text = str(value).strip()
    return text.lower() if name == "email" else text
