"""Meta (Facebook) Custom Audiences from customer data: hashed people added with `POST /{version}/{audience_id}/users`,
removed with `DELETE` on the same edge, and a whole audience replaced through a `usersreplace` session.

Each row is one person with every email and phone it has (plus optional first/last name, city, state, zip and
country). It is sent in the multi-key schema EMAIL, PHONE, FN, LN, CT, ST, ZIP, COUNTRY: one data row per
email/phone pair, each value normalized by Meta's written rules (reverse_etl.destinations.identifiers) and sent as
its lower-case SHA-256 hex digest; a missing key is an empty string. Meta matches on any combination of keys, so
each key is sent on its own: a value that is not valid once normalized is left out and counted in
BatchResult.dropped, and the row's other keys still go. A row is rejected only when no valid email or phone is
left. At most 10,000 data rows per request.

The answer names how many entries were invalid and samples them (`invalid_entry_samples`); sampled values are
mapped back to the rows that sent them. Throttling comes back as a Graph API error body (codes 4, 17, 32, 613,
80003) and is retried with backoff; any other error fails the request's rows, which the engine retries next run.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reverse_etl.destinations import identifiers as ids
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
from reverse_etl.errors import (
    ConfigError,
    DestinationAuthError,
    DestinationError,
    FatalDestinationError,
    SyncError,
)
from reverse_etl.http import HttpClient, HttpRequest

MAX_ROWS = 10_000
MAX_VALUES_PER_KEY = 10
SCHEMA = ["EMAIL", "PHONE", "FN", "LN", "CT", "ST", "ZIP", "COUNTRY"]
FIELDS = frozenset({"emails", "phones", "first_name", "last_name", "city", "state", "zip", "country"})
# Graph API error codes that mean "slow down": application, user, page and ad-account level throttling and the
# custom audience business use case limit.
THROTTLING_CODES = {4, 17, 32, 613, 80003}
API_VERSION = re.compile(r"^v\d+\.\d$")
AUDIENCE_ID = re.compile(r"^\d{1,20}$")
REGION = re.compile(r"^[A-Z]{2}$")


@dataclass(frozen=True)
class MetaConfig:
    base_url: str
    token: str
    audience_id: str
    api_version: str
    default_region: str | None

    @classmethod
    def parse(cls, options: Mapping[str, Any], secret: SecretLookup) -> MetaConfig:
        audience_id = str(options.get("audience_id") or "")
        if not AUDIENCE_ID.match(audience_id):
            raise ConfigError(
                f"meta option audience_id must be the numeric id of a customer list Custom Audience, got {audience_id!r}"
            )
        api_version = str(options.get("api_version", "v21.0"))
        if not API_VERSION.match(api_version):
            raise ConfigError(f"meta option api_version must look like v21.0, got {api_version!r}")
        region = options.get("default_region")
        if region is not None and not (isinstance(region, str) and REGION.match(region)):
            raise ConfigError(
                f"meta option default_region must be a two-letter ISO country code such as US, got {region!r}"
            )
        return cls(
            base_url=str(options.get("base_url", "https://graph.facebook.com")).rstrip("/"),
            token=secret(str(options.get("token_env", "META_ACCESS_TOKEN"))),
            audience_id=audience_id,
            api_version=api_version,
            default_region=region,
        )


@dataclass(frozen=True)
class Person:
    """One row's hashed keys: every email and phone, and the single-valued keys (absent: empty string)."""

    emails: tuple[str, ...]
    phones: tuple[str, ...]
    extra: tuple[tuple[str, str], ...] = ()

    def rows(self) -> list[list[str]]:
        """Multi-key data rows in SCHEMA order: one per email/phone pair position."""
        extra = dict(self.extra)
        tail = [extra.get(key, "") for key in SCHEMA[2:]]
        count = max(len(self.emails), len(self.phones))
        return [
            [
                self.emails[i] if i < len(self.emails) else "",
                self.phones[i] if i < len(self.phones) else "",
                *tail,
            ]
            for i in range(count)
        ]

    def encode(self) -> str:
        """A compact destination id holding the hashes, so a later remove can send the same rows."""
        parts = [f"EMAIL={','.join(self.emails)}", f"PHONE={','.join(self.phones)}"]
        parts += [f"{key}={value}" for key, value in self.extra]
        return ";".join(parts)

    @classmethod
    def decode(cls, text: str) -> Person:
        fields = dict(part.split("=", 1) for part in text.split(";"))
        emails = tuple(value for value in fields.pop("EMAIL", "").split(",") if value)
        phones = tuple(value for value in fields.pop("PHONE", "").split(",") if value)
        if not emails and not phones or not all(map(ids.is_sha256_hex, emails + phones)):
            raise ids.InvalidIdentifier(f"not a Meta destination id: {text[:80]!r}")
        return cls(emails, phones, tuple(fields.items()))


def _key(
    fields: Mapping[str, Any], name: str, normalize: Callable[[str], str], dropped: list[ids.Dropped]
) -> str | None:
    """One single-valued key normalized, or None when absent or left out (counted in `dropped`)."""
    value = fields.get(name)
    if value is None or not str(value).strip():
        return None
    try:
        return normalize(str(value))
    except ids.InvalidIdentifier as error:
        dropped.append((f"{name}: {error.problem}", str(error)))
        return None


def person_from_fields(
    fields: Mapping[str, Any], default_region: str | None, dropped: list[ids.Dropped]
) -> Person:
    """Normalize and hash one row's keys; values left out go to `dropped`. Raises InvalidIdentifier when no
    valid email or phone is left (Meta matches a person on one of them at least)."""
    unknown = sorted(set(fields) - FIELDS)
    if unknown:
        raise ConfigError(
            f"meta: mapped field(s) {', '.join(unknown)} are not Custom Audience keys; map only "
            f"{', '.join(sorted(FIELDS))}"
        )
    country = _key(fields, "country", ids.meta_country, dropped)
    keys = {
        "FN": _key(fields, "first_name", ids.meta_letters, dropped),
        "LN": _key(fields, "last_name", ids.meta_letters, dropped),
        "CT": _key(fields, "city", ids.meta_letters, dropped),
        "ST": _key(fields, "state", lambda value: ids.meta_state(value, country), dropped),
        "ZIP": _key(fields, "zip", lambda value: ids.meta_zip(value, country), dropped),
        "COUNTRY": country,
    }
    emails, phones = ids.hashed_contacts(
        fields,
        lambda value: ids.sha256_hex(ids.meta_email(value)),
        lambda value, region: ids.sha256_hex(ids.meta_phone(value, region)),
        default_region,
        MAX_VALUES_PER_KEY,
        dropped,
    )
    extra = tuple((key, ids.sha256_hex(value)) for key, value in keys.items() if value is not None)
    return Person(emails, phones, extra)


class MetaCustomAudienceDestination(Destination):
    name = "meta"
    capabilities = Capabilities(
        max_batch_size=MAX_ROWS,
        modes=frozenset({Mode.AUDIENCE_ADD, Mode.AUDIENCE_REMOVE, Mode.AUDIENCE_REPLACE}),
        rate_limit=RateLimit(requests=300, per_seconds=60),
        identifier_rules=(
            "emails and phones (lists or ';'-separated), optional first_name, last_name, city, state, zip, country; "
            "normalized by Meta's rules and sent as SHA-256 hex in the multi-key schema; invalid values are left out "
            "and counted"
        ),
        idempotent_writes=True,
        # A replace session's rows land when finish_run closes the session.
        applies_at_finish=True,
    )

    def __init__(self, options: Mapping[str, Any], secret: SecretLookup, http: HttpClient) -> None:
        super().__init__(options, secret, http)
        self.config = MetaConfig.parse(options, secret)
        self.throttled = 0
        self._session: dict[str, Any] | None = None
        self._last_row: list[str] | None = None

    # Requests

    def _url(self, edge: str) -> str:
        return f"{self.config.base_url}/{self.config.api_version}/{self.config.audience_id}/{edge}"

    def _request(
        self, method: str, edge: str, rows: list[list[str]], session: dict[str, Any] | None
    ) -> HttpRequest:
        body: dict[str, Any] = {"payload": {"schema": SCHEMA, "data": rows}}
        if session is not None:
            body["session"] = session
        # The access token goes in the Authorization header (Graph API accepts it there as well as in the
        # access_token parameter), so a printed plan masks it.
        return HttpRequest(
            method,
            self._url(edge),
            headers={"Authorization": f"Bearer {self.config.token}", "Content-Type": "application/json"},
            json=body,
        )

    def _prepare(self, records: Sequence[Record]) -> tuple[list[tuple[Record, Person]], BatchResult]:
        """Each sendable record with its hashed keys, and the rejects of rows that cannot be sent."""
        return ids.people_of(
            records,
            lambda fields, dropped: person_from_fields(fields, self.config.default_region, dropped),
            Person.decode,
        )

    @staticmethod
    def _chunks(people: list[tuple[Record, Person]]) -> list[list[tuple[Record, Person]]]:
        """Split so no request carries more than MAX_ROWS data rows."""
        chunks: list[list[tuple[Record, Person]]] = []
        current: list[tuple[Record, Person]] = []
        size = 0
        for item in people:
            rows = len(item[1].rows())
            if current and size + rows > MAX_ROWS:
                chunks.append(current)
                current, size = [], 0
            current.append(item)
            size += rows
        if current:
            chunks.append(current)
        return chunks

    def _operations(self, records: Sequence[Record]) -> tuple[list[Record], list[Record]]:
        adds = [r for r in records if r.operation not in (Operation.REMOVE, Operation.DELETE)]
        removes = [r for r in records if r.operation in (Operation.REMOVE, Operation.DELETE)]
        return adds, removes

    def plan_batch(self, records: Sequence[Record]) -> list[HttpRequest]:
        adds, removes = self._operations(records)
        planned = []
        seq = self._session["batch_seq"] if self._session else 0
        for operation_records, method in ((adds, "POST"), (removes, "DELETE")):
            if method == "DELETE" and self._session is not None:
                continue
            people, _ = self._prepare(operation_records)
            for chunk in self._chunks(people):
                rows = [row for _, person in chunk for row in person.rows()]
                if method == "POST" and self._session is not None:
                    seq += 1
                    session = {**self._session, "batch_seq": seq, "last_batch_flag": False}
                    planned.append(self._request("POST", "usersreplace", rows, session))
                else:
                    planned.append(self._request(method, "users", rows, None))
        return planned

    # Run hooks

    def begin_run(self, mode: Mode, previously_synced: int = 0) -> None:
        """An audience replace of a sync that has confirmed nothing yet opens a usersreplace session: everything
        this run adds replaces whatever the audience held. Later runs send adds and removes."""
        self._session = None
        self._last_row = None
        if mode is Mode.AUDIENCE_REPLACE and previously_synced == 0:
            self._session = {
                "session_id": secrets.randbelow(2**53 - 1) + 1,
                "batch_seq": 0,
                "last_batch_flag": False,
            }

    def finish_run(self, mode: Mode, success: bool) -> None:
        """Close the replace session: the last data row sent again (adding it twice is harmless) with
        last_batch_flag, so the audience becomes what this run confirmed. Also after an interrupted run, so the
        rows the engine recorded as confirmed are what the audience holds; the rest are added next run."""
        session, self._session = self._session, None
        if session is None or self._last_row is None:
            return
        final = {**session, "batch_seq": session["batch_seq"] + 1, "last_batch_flag": True}
        try:
            self._send(self._request("POST", "usersreplace", [self._last_row], final))
        except DestinationAuthError:
            raise
        except DestinationError as error:
            raise SyncError(
                f"meta: could not close replace session {session['session_id']} of audience "
                f"{self.config.audience_id} ({error}); the audience keeps its previous members while this run's rows "
                "are recorded as synced. Delete this sync's rows from cdp_sync.snapshots to replace it again"
            ) from error

    # Sending

    def write_batch(self, records: Sequence[Record]) -> BatchResult:
        adds, removes = self._operations(records)
        outcome = BatchResult()
        if adds:
            ids.merged(outcome, self._write(adds, remove=False))
        if removes:
            ids.merged(outcome, self._write(removes, remove=True))
        return outcome

    def _write(self, records: Sequence[Record], remove: bool) -> BatchResult:
        if remove and self._session is not None:
            # The replace session drops everyone it is not given: nothing to send (and Meta refuses removes
            # on an audience being replaced).
            return BatchResult.all_ok(records)
        people, outcome = self._prepare(records)
        for chunk in self._chunks(people):
            rows = [row for _, person in chunk for row in person.rows()]
            if remove:
                request = self._request("DELETE", "users", rows, None)
            elif self._session is not None:
                self._session["batch_seq"] += 1
                session = {**self._session, "last_batch_flag": False}
                request = self._request("POST", "usersreplace", rows, session)
            else:
                request = self._request("POST", "users", rows, None)
            try:
                body = self._send(request)
            except DestinationAuthError:
                raise
            except DestinationError as error:
                if self._session is not None and not remove:
                    # Not applied as far as we know: the next request reuses this batch_seq.
                    self._session["batch_seq"] -= 1
                detail = error.http_summary()
                outcome.results += BatchResult.all_failed(
                    [record for record, _ in chunk],
                    detail,
                    retryable=not isinstance(error, FatalDestinationError),
                ).results
                continue
            if not remove:
                self._last_row = rows[-1]
            outcome.results += self._results(chunk, body, remove).results
        return outcome

    def _results(
        self, chunk: list[tuple[Record, Person]], body: Mapping[str, Any], remove: bool
    ) -> BatchResult:
        samples = body.get("invalid_entry_samples") or {}
        invalid = (
            {str(value): str(reason) for value, reason in samples.items()}
            if isinstance(samples, dict)
            else {}
        )
        outcome = BatchResult()
        for record, person in chunk:
            bad = [value for row in person.rows() for value in row if value and value in invalid]
            if bad:
                outcome.results.append(
                    RecordResult(record.key, ok=False, error=f"Meta refused an entry: {invalid[bad[0]]}")
                )
            else:
                destination_id = record.destination_id if remove else person.encode()
                outcome.results.append(RecordResult(record.key, ok=True, destination_id=destination_id))
        return outcome

    def _send(self, request: HttpRequest) -> dict[str, Any]:
        """Send with the shared client; Graph API throttling errors (HTTP 400/403 with a throttling code) are
        retried here with the client's backoff, since only the body tells them from a bad request."""
        attempt = 0
        while True:
            try:
                response = self.http.send(request, idempotent=True)
            except (FatalDestinationError, DestinationAuthError) as error:
                code = graph_error_code(error.body)
                attempt += 1
                if code not in THROTTLING_CODES or attempt >= self.http.retry.max_attempts:
                    raise
                self.throttled += 1
                self.http.sleep(self.http.retry.backoff(attempt - 1, None))
                continue
            body = response.json()
            return body if isinstance(body, dict) else {}


def graph_error_code(body: str | None) -> int | None:
    """The `error.code` of a Graph API error body, if it is one."""
    import json

    try:
        error = json.loads(body or "").get("error")
    except (ValueError, AttributeError):
        return None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, int) else None
