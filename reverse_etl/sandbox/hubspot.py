"""Local fake of HubSpot's CRM object batch API: bearer auth, at most 100 inputs, 207 Multi-Status with
errors[] (context.ids) for invalid inputs, a rolling 190-requests-per-10-seconds limit answered with
HubSpot's 429 body and X-HubSpot-RateLimit-* headers, and the records it holds."""

from __future__ import annotations

import collections
import itertools
import re
import threading
import time
import uuid
from typing import Any

from reverse_etl.sandbox.server import FakeService, Faults, HttpError, Request, Response

MAX_INPUTS = 100
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")


class RollingWindow:
    """At most `limit` requests in any `seconds`-long window (HubSpot's TEN_SECONDLY_ROLLING policy)."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit, self.seconds = limit, seconds
        self._times: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def allow(self) -> tuple[bool, int]:
        with self._lock:
            now = time.monotonic()
            while self._times and now - self._times[0] >= self.seconds:
                self._times.popleft()
            if len(self._times) >= self.limit:
                return False, 0
            self._times.append(now)
            return True, self.limit - len(self._times)


def validation_error(message: str) -> HttpError:
    """HubSpot's 400 body for a request it refuses as a whole."""
    return HttpError(
        400,
        {
            "status": "error",
            "message": message,
            "category": "VALIDATION_ERROR",
            "correlationId": str(uuid.uuid4()),
        },
    )


class HubSpotFake(FakeService):
    name = "hubspot"

    def __init__(
        self,
        faults: Faults | None = None,
        token: str = "sandbox-hubspot-token",
        limit: int = 190,
        window_seconds: float = 10.0,
    ) -> None:
        super().__init__(faults)
        self.token = token
        self.window = RollingWindow(limit, window_seconds)
        self.limit, self.window_seconds = limit, window_seconds
        self.objects: dict[str, dict[str, dict[str, Any]]] = collections.defaultdict(dict)
        # object type -> HubSpot id -> the object's key in `objects` (its unique property value, lower-cased).
        self._keys: dict[str, dict[str, str]] = collections.defaultdict(dict)
        self.throttled = 0
        self._ids = itertools.count(1001)
        self.route("POST", "/crm/v3/objects/{object_type}/batch/upsert", self.batch_upsert)
        self.route("POST", "/crm/v3/objects/{object_type}/batch/update", self.batch_update)
        self.route("POST", "/crm/v3/objects/{object_type}/batch/archive", self.batch_archive)

    def environment(self, url: str) -> dict[str, str]:
        return {"CDP_HUBSPOT_BASE_URL": url, "CDP_HUBSPOT_TOKEN": self.token}

    def check_auth(self, request: Request) -> None:
        if request.header("authorization") != f"Bearer {self.token}":
            raise HttpError(
                401,
                {
                    "status": "error",
                    "message": "Authentication credentials not found. This API supports OAuth 2.0 authentication.",
                    "correlationId": str(uuid.uuid4()),
                    "category": "INVALID_AUTHENTICATION",
                },
            )

    def rate_limited(self, request: Request) -> Response | None:
        allowed, remaining = self.window.allow()
        headers = {
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(self.window_seconds * 1000)),
            "X-HubSpot-RateLimit-Max": str(self.limit),
            "X-HubSpot-RateLimit-Remaining": str(remaining),
        }
        if allowed:
            return None
        with self.lock:
            self.throttled += 1
        return Response(
            429,
            {
                "status": "error",
                "message": "You have reached your secondly limit.",
                "errorType": "RATE_LIMIT",
                "correlationId": str(uuid.uuid4()),
                "policyName": "TEN_SECONDLY_ROLLING",
            },
            headers,
        )

    def _inputs(self, request: Request) -> list[Any]:
        body = request.json()
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list) or not inputs:
            raise validation_error("Invalid input JSON: 'inputs' must be a non-empty array")
        if len(inputs) > MAX_INPUTS:
            raise validation_error(f"Batch input of size {len(inputs)} exceeds the limit of {MAX_INPUTS}")
        return inputs

    def batch_upsert(self, request: Request) -> Response:
        started = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        store = self.objects[request.params["object_type"]]
        results, errors = [], []
        for item in self._inputs(request):
            if (
                not isinstance(item, dict)
                or not isinstance(item.get("properties"), dict)
                or not item.get("idProperty")
                or "id" not in item
            ):
                raise validation_error("Each input needs idProperty, id and properties")
            properties = item["properties"]
            if any(not isinstance(value, str | int | float | bool) for value in properties.values()):
                raise validation_error("Property values must be strings")
            key = str(item["id"])
            if item["idProperty"] == "email" and not EMAIL.match(key):
                errors.append(
                    {
                        "status": "error",
                        "category": "VALIDATION_ERROR",
                        "message": f"Email address {key} is invalid",
                        "context": {"ids": [key]},
                        "subCategory": "INVALID_EMAIL",
                    }
                )
                continue
            if self.faults.reject_record(key):
                errors.append(
                    {
                        "status": "error",
                        "category": "VALIDATION_ERROR",
                        "message": "Property values were not valid",
                        "context": {"ids": [key]},
                    }
                )
                continue
            with self.lock:
                existing = store.get(key.lower())
                is_new = existing is None
                record = existing or {
                    "id": str(next(self._ids)),
                    "properties": {},
                    "createdAt": started,
                    "key_property": item["idProperty"],
                }
                record["properties"].update({name: str(value) for name, value in properties.items()})
                record["properties"][item["idProperty"]] = key
                store[key.lower()] = record
                self._keys[request.params["object_type"]][record["id"]] = key.lower()
            results.append({**self._result(record, started), "new": is_new})
        return self._answer(results, errors, started)

    def batch_update(self, request: Request) -> Response:
        """Update by HubSpot id: the properties change, the unique property (email) included; an unknown id is
        an OBJECT_NOT_FOUND error and a value another object holds a CONFLICT, both in a 207 errors[]."""
        started = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        store = self.objects[request.params["object_type"]]
        keys = self._keys[request.params["object_type"]]
        results, errors = [], []
        for item in self._inputs(request):
            if (
                not isinstance(item, dict)
                or not isinstance(item.get("properties"), dict)
                or not item.get("id")
            ):
                raise validation_error("Each input needs id and properties")
            if "idProperty" in item:
                raise validation_error("This fake updates by HubSpot id only")
            object_id = str(item["id"])
            with self.lock:
                key = keys.get(object_id, "")
                record = store.get(key)
                if record is None:
                    errors.append(self._error("OBJECT_NOT_FOUND", "Object not found", object_id))
                    continue
                properties = {name: str(value) for name, value in item["properties"].items()}
                new_key = properties.get(record["key_property"], record["properties"][record["key_property"]])
                holder = store.get(new_key.lower())
                if record["key_property"] == "email" and not EMAIL.match(new_key):
                    errors.append(
                        self._error("VALIDATION_ERROR", f"Email address {new_key} is invalid", object_id)
                    )
                    continue
                if holder is not None and holder is not record:
                    errors.append(
                        self._error(
                            "CONFLICT", f"Contact already exists. Existing ID: {holder['id']}", object_id
                        )
                    )
                    continue
                record["properties"].update(properties)
                del store[key]
                store[new_key.lower()] = record
                keys[object_id] = new_key.lower()
            results.append(self._result(record, started))
        return self._answer(results, errors, started)

    @staticmethod
    def _error(category: str, message: str, identifier: str) -> dict[str, Any]:
        return {"status": "error", "category": category, "message": message, "context": {"ids": [identifier]}}

    @staticmethod
    def _result(record: dict[str, Any], started: str) -> dict[str, Any]:
        return {
            "id": record["id"],
            "properties": dict(record["properties"]),
            "createdAt": record["createdAt"],
            "updatedAt": started,
            "archived": False,
        }

    @staticmethod
    def _answer(results: list[Any], errors: list[Any], started: str) -> Response:
        body: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": started,
            "completedAt": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        }
        if errors:
            body["errors"] = errors
            body["numErrors"] = len(errors)
            return Response(207, body)
        return Response(200, body)

    def batch_archive(self, request: Request) -> Response:
        store = self.objects[request.params["object_type"]]
        ids = {str(item.get("id")) for item in self._inputs(request) if isinstance(item, dict)}
        keys = self._keys[request.params["object_type"]]
        with self.lock:
            for object_id in ids:
                key = keys.pop(object_id, None)
                if key is not None:
                    store.pop(key, None)
        return Response(204, None)
