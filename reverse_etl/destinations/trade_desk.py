"""The Trade Desk CRM data segments (first-party audiences matched through UID2): each upload is a drop. A drop is
asked for with `POST /v3/crmdata/segment/{advertiser_id}/{crm_data_id}` and `{"PiiType", "MergeMode",
"RetentionEnabled"}` (header TTD-Auth), answered with `{"ReferenceId", "Url"}`; the identifiers are then `PUT` to
that Url as text, one per line.

Each row is one person with every email and phone it has. Emails and phones are normalized by the UID2 rules
(reverse_etl.destinations.identifiers.ttd_email / ttd_phone) and sent as the Base64 of their SHA-256 digest, one
drop per PiiType (EmailHashedUnifiedId2, PhoneNumberHashedUnifiedId2) and at most 10,000 lines per drop. MergeMode
Add adds, Remove removes, Replace makes the segment equal to the drop: the first drop of an audience replace that
knows nothing of the segment uses it, every later drop adds. A drop has no per-line answer: a row is confirmed when
its drops are accepted. A value that is not an identifier once normalized is left out and counted in
BatchResult.dropped; a row is rejected (before sending, with the values named) only when no valid email or phone is
left. UID2 has no name or address identifiers: a sync mapping any is refused (ConfigError), never silently cut.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
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
from reverse_etl.errors import ConfigError, DestinationAuthError, DestinationError, FatalDestinationError
from reverse_etl.http import HttpClient, HttpRequest

MAX_LINES = 10_000
MAX_VALUES_PER_KEY = 10
# Emails and phones are matched; the country only reads national phone numbers.
FIELDS = frozenset({"emails", "phones", "country"})
EMAIL_PII = "EmailHashedUnifiedId2"
PHONE_PII = "PhoneNumberHashedUnifiedId2"
ACCOUNT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
REGION = re.compile(r"^[A-Z]{2}$")
PLANNED_URL = "<Url from the drop answer>"


@dataclass(frozen=True)
class TradeDeskConfig:
    base_url: str
    token: str
    advertiser_id: str
    crm_data_id: str
    default_region: str | None

    @classmethod
    def parse(cls, options: Mapping[str, Any], secret: SecretLookup) -> TradeDeskConfig:
        values = {}
        for key in ("advertiser_id", "crm_data_id"):
            value = str(options.get(key) or "")
            if not ACCOUNT_ID.match(value):
                raise ConfigError(
                    f"trade_desk option {key} must be the id The Trade Desk shows for it (letters, digits, '-', '_'), "
                    f"got {value!r}"
                )
            values[key] = value
        region = options.get("default_region")
        if region is not None and not (isinstance(region, str) and REGION.match(region)):
            raise ConfigError(
                f"trade_desk option default_region must be a two-letter ISO country code such as US, got {region!r}"
            )
        return cls(
            base_url=str(options.get("base_url", "https://api.thetradedesk.com")).rstrip("/"),
            token=secret(str(options.get("token_env", "TTD_AUTH_TOKEN"))),
            advertiser_id=values["advertiser_id"],
            crm_data_id=values["crm_data_id"],
            default_region=region,
        )


@dataclass(frozen=True)
class Person:
    """One row's identifiers as UID2 hashes (Base64 SHA-256), by PiiType."""

    emails: tuple[str, ...]
    phones: tuple[str, ...]

    def lines(self, pii_type: str) -> tuple[str, ...]:
        return self.emails if pii_type == EMAIL_PII else self.phones

    def encode(self) -> str:
        """Destination id: the hashes, so a later remove can send them ('|' and ',' never occur in Base64)."""
        return f"{','.join(self.emails)}|{','.join(self.phones)}"

    @classmethod
    def decode(cls, text: str) -> Person:
        emails, _, phones = text.partition("|")
        person = cls(tuple(v for v in emails.split(",") if v), tuple(v for v in phones.split(",") if v))
        if not (person.emails or person.phones) or not all(
            map(ids.is_sha256_base64, person.emails + person.phones)
        ):
            raise ids.InvalidIdentifier(f"not a Trade Desk destination id: {text[:80]!r}")
        return person


def person_from_fields(
    fields: Mapping[str, Any], default_region: str | None, dropped: list[ids.Dropped]
) -> Person:
    unknown = sorted(set(fields) - FIELDS)
    if unknown:
        raise ConfigError(
            f"trade_desk: mapped field(s) {', '.join(unknown)} are not UID2 identifiers (UID2 matches emails and "
            f"phones only); map only {', '.join(sorted(FIELDS))}"
        )
    emails, phones = ids.hashed_contacts(
        fields,
        lambda value: ids.sha256_base64(ids.ttd_email(value)),
        lambda value, region: ids.sha256_base64(ids.ttd_phone(value, region)),
        default_region,
        MAX_VALUES_PER_KEY,
        dropped,
    )
    return Person(emails, phones)


class TradeDeskDestination(Destination):
    name = "trade_desk"
    capabilities = Capabilities(
        max_batch_size=MAX_LINES,
        modes=frozenset({Mode.AUDIENCE_ADD, Mode.AUDIENCE_REMOVE, Mode.AUDIENCE_REPLACE}),
        rate_limit=RateLimit(requests=100, per_seconds=60),
        identifier_rules=(
            "emails and phones (lists or ';'-separated), optional country for national phone numbers; UID2 "
            "normalization, sent as Base64 SHA-256, one drop per PiiType; invalid values are left out and counted"
        ),
        idempotent_writes=True,
    )

    def __init__(self, options: Mapping[str, Any], secret: SecretLookup, http: HttpClient) -> None:
        super().__init__(options, secret, http)
        self.config = TradeDeskConfig.parse(options, secret)
        self._replace_pending = False

    def begin_run(self, mode: Mode, previously_synced: int = 0) -> None:
        # Replace until one Replace drop is accepted: a failed first drop must not turn the run into plain adds.
        self._replace_pending = mode is Mode.AUDIENCE_REPLACE and previously_synced == 0

    def finish_run(self, mode: Mode, success: bool) -> None:
        self._replace_pending = False

    def _drop_request(self, pii_type: str, merge_mode: str) -> HttpRequest:
        return HttpRequest(
            "POST",
            f"{self.config.base_url}/v3/crmdata/segment/{self.config.advertiser_id}/{self.config.crm_data_id}",
            headers={"TTD-Auth": self.config.token, "Content-Type": "application/json"},
            json={"PiiType": pii_type, "MergeMode": merge_mode, "RetentionEnabled": True},
        )

    @staticmethod
    def _upload_request(url: str, lines: list[str]) -> HttpRequest:
        return HttpRequest("PUT", url, headers={"Content-Type": "text/plain"}, data="\n".join(lines) + "\n")

    def _prepare(self, records: Sequence[Record]) -> tuple[list[tuple[Record, Person]], BatchResult]:
        """Each sendable record with its hashed keys, and the rejects of rows that cannot be sent."""
        return ids.people_of(
            records,
            lambda fields, dropped: person_from_fields(fields, self.config.default_region, dropped),
            Person.decode,
        )

    @staticmethod
    def _drops(people: list[tuple[Record, Person]]) -> list[tuple[str, list[str], set[str]]]:
        """(PiiType, lines, record keys) per drop: at most MAX_LINES lines, a person's lines kept in one drop."""
        drops: list[tuple[str, list[str], set[str]]] = []
        for pii_type in (EMAIL_PII, PHONE_PII):
            lines: list[str] = []
            keys: set[str] = set()
            for record, person in people:
                values = person.lines(pii_type)
                if not values:
                    continue
                if lines and len(lines) + len(values) > MAX_LINES:
                    drops.append((pii_type, lines, keys))
                    lines, keys = [], set()
                lines.extend(values)
                keys.add(record.key)
            if lines:
                drops.append((pii_type, lines, keys))
        return drops

    @staticmethod
    def _split(records: Sequence[Record]) -> tuple[list[Record], list[Record]]:
        adds = [r for r in records if r.operation not in (Operation.REMOVE, Operation.DELETE)]
        removes = [r for r in records if r.operation in (Operation.REMOVE, Operation.DELETE)]
        return adds, removes

    def plan_batch(self, records: Sequence[Record]) -> list[HttpRequest]:
        planned = []
        replace = self._replace_pending
        for group, remove in zip(self._split(records), (False, True), strict=True):
            people, _ = self._prepare(group)
            for pii_type, lines, _ in self._drops(people):
                mode = "Remove" if remove else ("Replace" if replace else "Add")
                replace = replace and remove
                planned += [self._drop_request(pii_type, mode), self._upload_request(PLANNED_URL, lines)]
        return planned

    def write_batch(self, records: Sequence[Record]) -> BatchResult:
        outcome = BatchResult()
        for group, remove in zip(self._split(records), (False, True), strict=True):
            if group:
                ids.merged(outcome, self._write(group, remove))
        return outcome

    def _write(self, records: Sequence[Record], remove: bool) -> BatchResult:
        people, outcome = self._prepare(records)
        failed: dict[str, tuple[str, bool]] = {}
        for pii_type, lines, keys in self._drops(people):
            mode = "Remove" if remove else ("Replace" if self._replace_pending else "Add")
            try:
                answer = self.http.send(self._drop_request(pii_type, mode), idempotent=True).json()
                url = answer.get("Url") if isinstance(answer, dict) else None
                if not isinstance(url, str) or not url:
                    raise FatalDestinationError(f"drop answer without a Url: {str(answer)[:200]}", status=200)
                self.http.send(self._upload_request(url, lines), idempotent=True)
            except DestinationAuthError:
                raise
            except DestinationError as error:
                detail = error.http_summary()
                retryable = not isinstance(error, FatalDestinationError)
                for key in keys:
                    failed.setdefault(key, (detail, retryable))
                continue
            if mode == "Replace":
                self._replace_pending = False
        for record, person in people:
            if record.key in failed:
                message, retryable = failed[record.key]
                outcome.results.append(RecordResult(record.key, ok=False, error=message, retryable=retryable))
            else:
                destination_id = record.destination_id if remove else person.encode()
                outcome.results.append(RecordResult(record.key, ok=True, destination_id=destination_id))
        return outcome
