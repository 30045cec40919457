"""Local fake of the generic webhook: bearer auth, at most 500 records a request, per-record results,
a request budget, and state (records by key, and how many times each key was created)."""

from __future__ import annotations

import itertools
import time
from typing import Any

from reverse_etl.sandbox.server import FakeService, Faults, HttpError, Request, Response, WindowRateLimiter

MAX_RECORDS = 500
OPERATIONS = {"upsert", "insert", "update", "delete"}


class WebhookFake(FakeService):
    name = "webhook"

    def __init__(
        self,
        faults: Faults | None = None,
        token: str = "sandbox-token",
        requests_per_second: int = 100_000,
        latency_seconds: float = 0.0,
    ) -> None:
        super().__init__(faults)
        self.latency_seconds = latency_seconds
        self.token = token
        self.records: dict[str, dict[str, Any]] = {}
        self.ids: dict[str, str] = {}
        self.creates: dict[str, int] = {}
        self.deletes: dict[str, int] = {}
        self._next_id = itertools.count(1)
        self.limiter = WindowRateLimiter(requests_per_second, 1.0)
        self.route("POST", "/records", self.receive)

    def environment(self, url: str) -> dict[str, str]:
        return {"CDP_WEBHOOK_URL": f"{url}/records", "CDP_WEBHOOK_TOKEN": self.token}

    def check_auth(self, request: Request) -> None:
        if request.header("authorization") != f"Bearer {self.token}":
            raise HttpError(401, {"error": "missing or wrong bearer token"})

    def rate_limited(self, request: Request) -> Response | None:
        allowed, reset, _ = self.limiter.allow()
        if allowed:
            return None
        return Response(429, {"error": "too many requests"}, {"Retry-After": f"{max(reset, 0.01):.2f}"})

    def receive(self, request: Request) -> Response:
        body = request.json()
        operation = body.get("operation") if isinstance(body, dict) else None
        records = body.get("records") if isinstance(body, dict) else None
        if operation not in OPERATIONS or not isinstance(records, list) or not records:
            raise HttpError(
                400, {"error": "body must be {operation: upsert|insert|update|delete, records: [...]}"}
            )
        if len(records) > MAX_RECORDS:
            raise HttpError(413, {"error": f"at most {MAX_RECORDS} records per request, got {len(records)}"})
        if self.latency_seconds:
            time.sleep(self.latency_seconds)
        results = []
        with self.lock:
            for record in records:
                key = record.get("key") if isinstance(record, dict) else None
                if not isinstance(key, str) or not key:
                    raise HttpError(400, {"error": "every record needs a string key"})
                results.append(self._apply(operation, key, record.get("fields") or {}))
        return Response(200, {"results": results})

    def _apply(self, operation: str, key: str, fields: dict[str, Any]) -> dict[str, Any]:
        if operation != "delete" and self.faults.reject_record(key):
            return {"key": key, "status": "error", "error": "invalid record (rejected by the sandbox)"}
        if operation == "delete":
            if key in self.records:
                del self.records[key]
                self.deletes[key] = self.deletes.get(key, 0) + 1
            return {"key": key, "status": "ok"}
        exists = key in self.records
        if operation == "insert" and exists:
            return {"key": key, "status": "error", "error": "duplicate key"}
        if operation == "update" and not exists:
            return {"key": key, "status": "error", "error": "not found"}
        if not exists:
            self.creates[key] = self.creates.get(key, 0) + 1
            self.ids.setdefault(key, f"wh_{next(self._next_id)}")
        self.records[key] = dict(fields)
        return {"key": key, "status": "ok", "id": self.ids[key]}
