"""Mailchimp audience (list) members: batch subscribe / update with `update_existing`, at most 500 members
per request, per-member errors inside a 200 answer; a member whose row's email changed is moved to the new
email (PATCH at the old subscriber hash) rather than subscribed twice; archive of members by subscriber hash
(MD5 of the lower-cased email) for mirror deletes. Basic auth with the API key, whose `-usX` suffix names the data center."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
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
from reverse_etl.destinations.urls import url_option
from reverse_etl.errors import ConfigError, FatalDestinationError
from reverse_etl.http import HttpClient, HttpRequest

MAX_MEMBERS = 500
STATUSES = {"subscribed", "unsubscribed", "cleaned", "pending", "transactional"}


def subscriber_hash(email: str) -> str:
    """Mailchimp's member id: the MD5 hex digest of the lower-cased email address."""
    return hashlib.md5(email.strip().lower().encode("utf-8"), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class MailchimpConfig:
    base_url: str
    api_key: str
    list_id: str
    status_if_new: str

    @classmethod
    def parse(cls, options: Mapping[str, Any], secret: SecretLookup) -> MailchimpConfig:
        api_key = secret(str(options.get("api_key_env", "MAILCHIMP_API_KEY")))
        list_id = options.get("list_id")
        if not isinstance(list_id, str) or not list_id:
            raise ConfigError("mailchimp option list_id (the audience id) is required")
        status = options.get("status_if_new", "subscribed")
        if status not in STATUSES:
            raise ConfigError(
                f"mailchimp option status_if_new must be one of {', '.join(sorted(STATUSES))}, got {status!r}"
            )
        base_url = options.get("base_url")
        if not base_url:
            if "-" not in api_key:
                raise ConfigError(
                    "the Mailchimp API key must end with its data center (e.g. -us6), or set option base_url"
                )
            base_url = f"https://{api_key.rsplit('-', 1)[1]}.api.mailchimp.com"
        base_url = url_option("mailchimp", "base_url", base_url, "https://us6.api.mailchimp.com")
        return cls(base_url=base_url, api_key=api_key, list_id=list_id, status_if_new=status)


class MailchimpDestination(Destination):
    name = "mailchimp"
    capabilities = Capabilities(
        max_batch_size=MAX_MEMBERS,
        modes=frozenset({Mode.UPSERT, Mode.MIRROR}),
        max_concurrency=10,
        identifier_rules="members are keyed by email_address; the subscriber hash is MD5 of the lower-cased email",
    )

    def __init__(self, options: Mapping[str, Any], secret: SecretLookup, http: HttpClient) -> None:
        super().__init__(options, secret, http)
        self.config = MailchimpConfig.parse(options, secret)

    def _auth(self) -> dict[str, str]:
        import base64

        token = base64.b64encode(f"cdp:{self.config.api_key}".encode()).decode()
        return {"Authorization": f"Basic {token}", "Content-Type": "application/json"}

    def _member(self, record: Record) -> dict[str, Any]:
        fields = dict(record.fields)
        email = str(fields.pop("email_address", "") or "")
        return {
            "email_address": email,
            "status_if_new": self.config.status_if_new,
            "merge_fields": {k: "" if v is None else v for k, v in fields.items()},
        }

    def _subscribe_request(self, records: Sequence[Record]) -> HttpRequest:
        return HttpRequest(
            "POST",
            f"{self.config.base_url}/3.0/lists/{self.config.list_id}",
            headers=self._auth(),
            json={"members": [self._member(record) for record in records], "update_existing": True},
        )

    def _archive_request(self, email: str) -> HttpRequest:
        return HttpRequest(
            "DELETE",
            f"{self.config.base_url}/3.0/lists/{self.config.list_id}/members/{subscriber_hash(email)}",
            headers=self._auth(),
        )

    def _move_request(self, record: Record) -> HttpRequest:
        """The member this sync added under its previous email, given its new email (and merge fields)."""
        member = self._member(record)
        return HttpRequest(
            "PATCH",
            f"{self.config.base_url}/3.0/lists/{self.config.list_id}/members/{subscriber_hash(record.destination_id or '')}",
            headers=self._auth(),
            json={"email_address": member["email_address"], "merge_fields": member["merge_fields"]},
        )

    @staticmethod
    def _moved(record: Record) -> bool:
        """Whether the row's email differs from the one its member was last confirmed with."""
        email = str(record.fields.get("email_address") or "").strip().lower()
        return bool(record.destination_id) and bool(email) and email != record.destination_id

    def _split(self, records: Sequence[Record]) -> tuple[list[Record], list[Record], list[Record]]:
        """Rows to batch subscribe, rows whose email changed (moved one by one), removals."""
        removing = (Operation.DELETE, Operation.REMOVE)
        writes = [r for r in records if r.operation not in removing]
        return (
            [r for r in writes if not self._moved(r)],
            [r for r in writes if self._moved(r)],
            [r for r in records if r.operation in removing],
        )

    def plan_batch(self, records: Sequence[Record]) -> list[HttpRequest]:
        upserts, moves, deletes = self._split(records)
        return (
            [self._move_request(r) for r in moves]
            + ([self._subscribe_request(upserts)] if upserts else [])
            + [self._archive_request(r.destination_id) for r in deletes if r.destination_id]
        )

    def write_batch(self, records: Sequence[Record]) -> BatchResult:
        outcome = BatchResult()
        upserts, moves, deletes = self._split(records)
        for record in moves:
            moved = self._move(record)
            if moved is None:
                # The member is gone from the audience: subscribed afresh under the new email.
                upserts.append(record)
            else:
                outcome.results.append(moved)
        if upserts:
            outcome.results += self._subscribe(upserts).results
        for record in deletes:
            outcome.results.append(self._archive(record))
        return outcome

    def _move(self, record: Record) -> RecordResult | None:
        """Change the email of the member this sync added (PATCH at the old subscriber hash), so the audience
        keeps one member per row; None when that member no longer exists."""
        try:
            # Resent after it applied, the old hash answers 404 and the row is subscribed by its new email,
            # which updates the moved member: safe to resend.
            response = self.http.send(self._move_request(record), idempotent=True)
        except FatalDestinationError as error:
            if error.status == 404:
                return None
            return RecordResult(record.key, ok=False, error=error.http_summary())
        email = str(response.json().get("email_address") or record.fields["email_address"])
        return RecordResult(record.key, ok=True, destination_id=email.strip().lower())

    def _subscribe(self, records: Sequence[Record]) -> BatchResult:
        try:
            # Batch subscribe with update_existing is idempotent per email address.
            response = self.http.send(self._subscribe_request(records), idempotent=True)
        except FatalDestinationError as error:
            return BatchResult.all_failed(records, error.http_summary())
        body = response.json()
        by_email = {str(r.fields.get("email_address", "")).strip().lower(): r for r in records}
        outcome = BatchResult()
        answered: set[str] = set()
        for member in [*body.get("new_members", []), *body.get("updated_members", [])]:
            record = by_email.get(str(member.get("email_address", "")).lower())
            if record is not None and record.key not in answered:
                answered.add(record.key)
                # The email is what later identifies the member (its subscriber hash), so it is the destination id.
                outcome.results.append(
                    RecordResult(record.key, ok=True, destination_id=str(member.get("email_address")).lower())
                )
        for problem in body.get("errors", []):
            record = by_email.get(str(problem.get("email_address", "")).lower())
            if record is not None and record.key not in answered:
                answered.add(record.key)
                outcome.results.append(
                    RecordResult(
                        record.key, ok=False, error=f"{problem.get('error_code')}: {problem.get('error')}"
                    )
                )
        for record in records:
            if record.key not in answered:
                outcome.results.append(
                    RecordResult(
                        record.key,
                        ok=False,
                        error="Mailchimp returned no result for this member",
                        retryable=True,
                    )
                )
        return outcome

    def _archive(self, record: Record) -> RecordResult:
        if not record.destination_id:
            return RecordResult(record.key, ok=True)
        try:
            self.http.send(self._archive_request(record.destination_id), idempotent=True)
        except FatalDestinationError as error:
            if error.status == 404:
                return RecordResult(record.key, ok=True)
            return RecordResult(record.key, ok=False, error=error.http_summary())
        return RecordResult(record.key, ok=True)
