"""A generic JSON webhook: POSTs batches of records to a URL with a bearer token and reads one result per
record. The simplest destination, and the one the engine's own tests run against."""

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

MAX_RECORDS = 500


@dataclass(frozen=True)
class WebhookConfig:
    url: str
    token: str
    batch_size: int = MAX_RECORDS

    @classmethod
    def parse(cls, options: Mapping[str, Any], secret: SecretLookup) -> WebhookConfig:
        url = url_option("webhook", "url", options.get("url"), "https://hooks.example.com/cdp", secure=False)
        token_variable = options.get("token_env", "WEBHOOK_TOKEN")
        batch_size = options.get("batch_size", MAX_RECORDS)
        if not isinstance(batch_size, int) or not 1 <= batch_size <= MAX_RECORDS:
            raise ConfigError(f"webhook option batch_size must be 1..{MAX_RECORDS}, got {batch_size!r}")
        return cls(url=url, token=secret(str(token_variable)), batch_size=batch_size)


class WebhookDestination(Destination):
    name = "webhook"
    capabilities = Capabilities(
        max_batch_size=MAX_RECORDS,
        modes=frozenset({Mode.UPSERT, Mode.UPDATE, Mode.INSERT, Mode.MIRROR}),
        rate_limit=RateLimit(requests=1000, per_seconds=1),
        identifier_rules="records are keyed by the sync's primary key; fields are sent as they are",
    )

    def __init__(self, options: Mapping[str, Any], secret: SecretLookup, http: HttpClient) -> None:
        super().__init__(options, secret, http)
        self.config = WebhookConfig.parse(options, secret)

    def batch_size(self) -> int:
        return self.config.batch_size

    def _requests(self, records: Sequence[Record]) -> list[tuple[HttpRequest, list[Record]]]:
        by_operation: dict[str, list[Record]] = {}
        operations = {record.operation for record in records}
        if len(operations) == 1:
            # The engine's batches mostly hold one kind of change: one request, no grouping record by record.
            by_operation[_wire_operation(operations.pop())] = list(records)
        else:
            for record in records:
                by_operation.setdefault(_wire_operation(record.operation), []).append(record)
        return [
            (
                HttpRequest(
                    method="POST",
                    url=self.config.url,
                    headers={
                        "Authorization": f"Bearer {self.config.token}",
                        "Content-Type": "application/json",
                    },
                    json={
                        "operation": operation,
                        # Fields as they are when already a dict (the engine's are): a copy per record is
                        # measurable at a million records a run.
                        "records": [
                            {
                                "key": r.key,
                                "fields": r.fields if r.fields.__class__ is dict else dict(r.fields),
                            }
                            for r in group
                        ],
                    },
                ),
                group,
            )
            for operation, group in by_operation.items()
        ]

    def plan_batch(self, records: Sequence[Record]) -> list[HttpRequest]:
        return [request for request, _ in self._requests(records)]

    def write_batch(self, records: Sequence[Record]) -> BatchResult:
        outcome = BatchResult()
        for request, group in self._requests(records):
            operation = request.json["operation"]
            try:
                # Upserts and deletes by key are idempotent; a plain insert is not retried after a 5xx.
                response = self.http.send(request, idempotent=operation != "insert")
            except FatalDestinationError as error:
                outcome.results += BatchResult.all_failed(group, f"HTTP {error.status}: {error.body}").results
                continue
            answers = {answer.get("key"): answer for answer in response.json().get("results", [])}
            outcome.results += [
                RecordResult(record.key, True, answer.get("id"))
                if (answer := answers.get(record.key)) is not None and answer.get("status") == "ok"
                else _not_ok(record.key, answer)
                for record in group
            ]
        return outcome


def _wire_operation(operation: Operation) -> str:
    return "delete" if operation in (Operation.DELETE, Operation.REMOVE) else operation.value


def _not_ok(key: str, answer: dict[str, Any] | None) -> RecordResult:
    if answer is None:
        return RecordResult(key, ok=False, error="no result for this record", retryable=True)
    return RecordResult(key, ok=False, error=str(answer.get("error")))
