"""Local fake of the Google Ads API's offline user data jobs for Customer Match (REST interface).

It enforces what Google documents: OAuth bearer token and `developer-token` headers (optional
`login-customer-id` of digits); the job lifecycle create -> addOperations -> run, nothing added after run;
CUSTOMER_MATCH_USER_LIST jobs on the customer's own user list, with consent; one identifier per UserIdentifier
(hashedEmail, hashedPhoneNumber or addressInfo), hashes as lower-case 64-digit SHA-256 hex; at most 20 identifiers
per operation and 100,000 per request; removeAll only as a job's first operation; no creates and removes in
one job; partial failures naming the operation index; RESOURCE_EXHAUSTED (429) beyond a request rate; Google's
JSON error shape. Running a job applies it to the user list's membership.

Membership is held compactly so a list of millions fits: each identifier is kept as a 64-bit key
(`member_key`), pending operations of a job as arrays of keys. Routes under /sandbox/ are the fake's own
inspection API (membership, pre-filling a list with strangers) for tests and benchmarks in other processes.
"""

from __future__ import annotations

import array
import hashlib
import itertools
import json
import random
import re
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reverse_etl.sandbox.server import FakeService, Faults, HttpError, Request, Response, WindowRateLimiter

MAX_IDENTIFIERS_PER_REQUEST = 100_000
MAX_IDENTIFIERS_PER_OPERATION = 20
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
COUNTRY = re.compile(r"^[A-Z]{2}$")
CONSENT = {"GRANTED", "DENIED", "UNSPECIFIED"}
IDENTIFIER_FIELDS = {"hashedEmail", "hashedPhoneNumber", "addressInfo", "mobileId", "thirdPartyUserId"}
ADDRESS_FIELDS = ("hashedFirstName", "hashedLastName", "countryCode", "postalCode")
CREATE, REMOVE, REMOVE_ALL = 0, 1, 2


def member_key(identifier: Mapping[str, Any]) -> int:
    """The 64-bit key the fake stores for one UserIdentifier (a collision needs ~4 billion members)."""
    if "hashedEmail" in identifier:
        text = f"e:{identifier['hashedEmail']}"
    elif "hashedPhoneNumber" in identifier:
        text = f"p:{identifier['hashedPhoneNumber']}"
    else:
        address = identifier["addressInfo"]
        text = "a:" + ":".join(str(address.get(name, "")) for name in ADDRESS_FIELDS)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True)


def google_error(
    status: int, code: str, message: str, errors: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Google's JSON error body: error.code / status / message, and a GoogleAdsFailure in details."""
    body: dict[str, Any] = {"code": status, "message": message, "status": code}
    if errors is not None:
        body["details"] = [failure_detail(errors)]
    return {"error": body}


def failure_detail(errors: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "@type": "type.googleapis.com/google.ads.googleads.v26.errors.GoogleAdsFailure",
        "errors": errors,
        "requestId": uuid.uuid4().hex[:22],
    }


def ads_error(kind: str, code: str, message: str, path: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"errorCode": {kind: code}, "message": message}
    if path:
        error["location"] = {"fieldPathElements": path}
    return error


def invalid_argument(errors: list[dict[str, Any]]) -> HttpError:
    return HttpError(
        400, google_error(400, "INVALID_ARGUMENT", "Request contains an invalid argument.", errors)
    )


def bad_json(field_path: str, description: str) -> HttpError:
    """How Google's JSON front end refuses a body that does not fit the proto (before any GoogleAdsFailure)."""
    return HttpError(
        400,
        {
            "error": {
                "code": 400,
                "message": f"Invalid JSON payload received. {description}",
                "status": "INVALID_ARGUMENT",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.rpc.BadRequest",
                        "fieldViolations": [{"field": field_path, "description": description}],
                    }
                ],
            }
        },
    )


@dataclass
class Job:
    job_id: int
    customer_id: str
    user_list_id: str
    consent: dict[str, str]
    status: str = "PENDING"
    operations: int = 0
    has_create: bool = False
    has_remove: bool = False
    # One entry per identifier: what to do (CREATE / REMOVE / REMOVE_ALL) and its member key.
    actions: array.array = field(default_factory=lambda: array.array("b"))
    keys: array.array = field(default_factory=lambda: array.array("q"))


class GoogleAdsFake(FakeService):
    name = "google_ads"

    def __init__(
        self,
        faults: Faults | None = None,
        token: str = "sandbox-google-ads-token",
        developer_token: str = "sandbox-developer-token",
        requests_per_window: int | None = None,
        window_seconds: float = 1.0,
    ) -> None:
        super().__init__(faults)
        self.token = token
        self.developer_token = developer_token
        self.limiter = WindowRateLimiter(requests_per_window, window_seconds) if requests_per_window else None
        self.jobs: dict[str, Job] = {}
        self.lists: dict[tuple[str, str], set[int]] = {}
        self.throttled = 0
        self.add_requests = 0
        self._ids = itertools.count(1001)
        self._apply = threading.Lock()
        base = "/{version}/customers/{customer_id}/offlineUserDataJobs"
        self.route("POST", base + ":create", self.create_job)
        self.route("POST", base + "/{job_id}:addOperations", self.add_operations)
        self.route("POST", base + "/{job_id}:run", self.run_job)
        self.route(
            "GET", "/sandbox/customers/{customer_id}/userLists/{user_list_id}/members", self.list_members
        )
        self.route(
            "POST", "/sandbox/customers/{customer_id}/userLists/{user_list_id}:prefill", self.prefill_route
        )

    def environment(self, url: str) -> dict[str, str]:
        return {
            "CDP_GOOGLE_ADS_BASE_URL": url,
            "CDP_GOOGLE_ADS_TOKEN": self.token,
            "CDP_GOOGLE_ADS_DEVELOPER_TOKEN": self.developer_token,
        }

    # State, for tests

    def members(self, customer_id: str, user_list_id: str) -> set[int]:
        return self.lists.setdefault((customer_id, user_list_id), set())

    def prefill(self, customer_id: str, user_list_id: str, count: int, seed: int = 0) -> None:
        """Put `count` strangers (random identifiers nobody syncs) on a user list."""
        strangers = random.Random(seed)
        members = self.members(customer_id, user_list_id)
        with self._apply:
            members.update(strangers.getrandbits(64) - 2**63 for _ in range(count))

    def would_reject(self, identifier: Mapping[str, Any]) -> bool:
        """The seeded per-record fault: an operation is refused when its first identifier draws a reject."""
        return self.faults.reject_record(json.dumps(identifier, sort_keys=True))

    # Auth, limits, faults

    def check_auth(self, request: Request) -> None:
        if request.path.startswith("/sandbox/"):
            return
        authorization = request.header("authorization")
        if authorization != f"Bearer {self.token}":
            message = (
                "Request is missing required authentication credential. Expected OAuth 2 access token."
                if not authorization
                else "Request had invalid authentication credentials. Expected OAuth 2 access token."
            )
            raise HttpError(401, google_error(401, "UNAUTHENTICATED", message))
        developer_token = request.header("developer-token")
        if not developer_token:
            raise invalid_argument(
                [
                    ads_error(
                        "requestError",
                        "DEVELOPER_TOKEN_PARAMETER_MISSING",
                        "developer-token parameter is missing.",
                    )
                ]
            )
        if developer_token != self.developer_token:
            raise HttpError(
                401,
                google_error(
                    401,
                    "UNAUTHENTICATED",
                    "Request is missing required authentication credential.",
                    [
                        ads_error(
                            "authenticationError",
                            "DEVELOPER_TOKEN_INVALID",
                            "The developer token is invalid.",
                        )
                    ],
                ),
            )
        login = request.header("login-customer-id")
        if login is not None and not login.isdigit():
            raise invalid_argument(
                [
                    ads_error(
                        "headerError",
                        "INVALID_LOGIN_CUSTOMER_ID",
                        "The login customer ID could not be validated.",
                    )
                ]
            )

    def _exhausted(self, retry_seconds: float) -> Response:
        with self.lock:
            self.throttled += 1
        return Response(
            429,
            google_error(
                429,
                "RESOURCE_EXHAUSTED",
                "Resource has been exhausted (e.g. check quota).",
                [
                    {
                        "errorCode": {"quotaError": "RESOURCE_TEMPORARILY_EXHAUSTED"},
                        "message": "Too many requests. Retry in a moment.",
                        "details": {
                            "quotaErrorDetails": {
                                "rateScope": "DEVELOPER",
                                "rateName": "Number of operations for basic access",
                                "retryDelay": f"{max(retry_seconds, 0.001):.3f}s",
                            }
                        },
                    }
                ],
            ),
        )

    def rate_limited(self, request: Request) -> Response | None:
        if self.limiter is None or request.path.startswith("/sandbox/"):
            return None
        allowed, reset, _ = self.limiter.allow()
        return None if allowed else self._exhausted(reset)

    def injected_fault(self, request: Request) -> Response | None:
        faults = self.faults
        if (
            request.path.startswith("/sandbox/")
            or faults.throttle_rate == faults.server_error_rate == faults.timeout_rate == 0
        ):
            return None
        draw = faults.draw()
        if draw < faults.throttle_rate:
            return self._exhausted(0.0)
        if draw < faults.throttle_rate + faults.server_error_rate:
            return Response(
                503,
                google_error(
                    503,
                    "UNAVAILABLE",
                    "The service is currently unavailable.",
                    [
                        ads_error(
                            "internalError", "TRANSIENT_ERROR", "The service encountered a transient error."
                        )
                    ],
                ),
            )
        if draw < faults.throttle_rate + faults.server_error_rate + faults.timeout_rate:
            import time

            time.sleep(faults.timeout_seconds)
            return Response(504, google_error(504, "DEADLINE_EXCEEDED", "The request deadline was exceeded."))
        return None

    # Routes

    def create_job(self, request: Request) -> Response:
        customer_id = request.params["customer_id"]
        if not customer_id.isdigit():
            raise invalid_argument([ads_error("requestError", "INVALID_CUSTOMER_ID", "Invalid customer ID.")])
        body = request.json()
        job = body.get("job") if isinstance(body, dict) else None
        if not isinstance(job, dict):
            raise invalid_argument(
                [
                    ads_error(
                        "fieldError",
                        "REQUIRED",
                        "The required field was not present.",
                        [{"fieldName": "job"}],
                    )
                ]
            )
        if job.get("type") != "CUSTOMER_MATCH_USER_LIST":
            raise invalid_argument(
                [
                    ads_error(
                        "offlineUserDataJobError",
                        "INVALID_USER_LIST_TYPE",
                        "Type of the user list is not applicable for the job.",
                    )
                ]
            )
        metadata = job.get("customerMatchUserListMetadata") or {}
        match = re.match(rf"^customers/{customer_id}/userLists/(\d+)$", str(metadata.get("userList", "")))
        if match is None:
            raise invalid_argument(
                [
                    ads_error(
                        "offlineUserDataJobError",
                        "INVALID_USER_LIST_ID",
                        "The user list ID provided for the job is invalid.",
                    )
                ]
            )
        consent = metadata.get("consent")
        if not isinstance(consent, dict) or not {"adUserData", "adPersonalization"} <= set(consent):
            raise invalid_argument(
                [
                    ads_error(
                        "fieldError",
                        "REQUIRED",
                        "The required field was not present: consent.adUserData and consent.adPersonalization.",
                        [
                            {"fieldName": "job"},
                            {"fieldName": "customer_match_user_list_metadata"},
                            {"fieldName": "consent"},
                        ],
                    )
                ]
            )
        for name in ("adUserData", "adPersonalization"):
            if consent[name] not in CONSENT:
                raise bad_json(
                    f"job.customer_match_user_list_metadata.consent.{name}",
                    f"Invalid value at '{name}', {consent[name]!r}",
                )
        with self.lock:
            job_id = next(self._ids)
            resource = f"customers/{customer_id}/offlineUserDataJobs/{job_id}"
            self.jobs[resource] = Job(job_id, customer_id, match.group(1), dict(consent))
        return Response(200, {"resourceName": resource})

    def _find_job(self, request: Request) -> Job:
        resource = f"customers/{request.params['customer_id']}/offlineUserDataJobs/{request.params['job_id']}"
        job = self.jobs.get(resource)
        if job is None:
            raise invalid_argument(
                [ads_error("mutateError", "RESOURCE_NOT_FOUND", f"Resource was not found: {resource}.")]
            )
        return job

    def _identifier_errors(
        self, identifier: Any, path: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], int | None]:
        """(errors, member key) of one UserIdentifier; a body that breaks the proto raises at once."""
        where = "".join(
            f"{e['fieldName']}[{e['index']}]." if "index" in e else f"{e['fieldName']}." for e in path
        )
        if not isinstance(identifier, dict):
            raise bad_json(where.rstrip("."), "A UserIdentifier must be an object.")
        unknown = set(identifier) - IDENTIFIER_FIELDS - {"userIdentifierSource"}
        if unknown:
            raise bad_json(where.rstrip("."), f"Unknown name {sorted(unknown)[0]!r}: Cannot find field.")
        present = [name for name in identifier if name in IDENTIFIER_FIELDS]
        if len(present) > 1:
            raise bad_json(
                where.rstrip("."),
                f"Oneof field 'identifier' is already set. Cannot set '{present[1]}'. One identifier per UserIdentifier.",
            )
        if not present:
            return [
                ads_error(
                    "offlineUserDataJobError",
                    "MISSING_USER_IDENTIFIER",
                    "The user identifier is missing valid data.",
                    path,
                )
            ], None
        name = present[0]
        if name in ("mobileId", "thirdPartyUserId"):
            return [
                ads_error(
                    "offlineUserDataJobError",
                    "INCOMPATIBLE_UPLOAD_KEY_TYPE",
                    "Upload data is not compatible with the upload key type of the associated user list.",
                    [*path, {"fieldName": name}],
                )
            ], None
        errors: list[dict[str, Any]] = []
        if name == "addressInfo":
            address = identifier[name]
            if not isinstance(address, dict):
                raise bad_json(where + "address_info", "addressInfo must be an object.")
            for part in ADDRESS_FIELDS:
                value = address.get(part)
                if not value:
                    errors.append(
                        ads_error(
                            "fieldError",
                            "REQUIRED",
                            "The required field was not present.",
                            [*path, {"fieldName": "address_info"}, {"fieldName": part}],
                        )
                    )
                elif part.startswith("hashed") and not SHA256_HEX.match(str(value)):
                    errors.append(
                        ads_error(
                            "offlineUserDataJobError",
                            "INVALID_SHA256_FORMAT",
                            "The SHA256 encoded value is malformed.",
                            [*path, {"fieldName": "address_info"}, {"fieldName": part}],
                        )
                    )
                elif part == "countryCode" and not COUNTRY.match(str(value)):
                    errors.append(
                        ads_error(
                            "offlineUserDataJobError",
                            "INVALID_COUNTRY_CODE",
                            "The country code is invalid.",
                            [*path, {"fieldName": "address_info"}, {"fieldName": part}],
                        )
                    )
        elif not SHA256_HEX.match(str(identifier[name])):
            errors.append(
                ads_error(
                    "offlineUserDataJobError",
                    "INVALID_SHA256_FORMAT",
                    "The SHA256 encoded value is malformed.",
                    [*path, {"fieldName": name}],
                )
            )
        return errors, (None if errors else member_key(identifier))

    def add_operations(self, request: Request) -> Response:
        job = self._find_job(request)
        body = request.json()
        operations = body.get("operations") if isinstance(body, dict) else None
        if not isinstance(operations, list) or not operations:
            raise invalid_argument(
                [
                    ads_error(
                        "fieldError",
                        "REQUIRED",
                        "The required field was not present.",
                        [{"fieldName": "operations"}],
                    )
                ]
            )
        unknown = set(body) - {"operations", "enablePartialFailure", "enableWarnings", "validateOnly"}
        if unknown:
            raise bad_json("", f"Unknown name {sorted(unknown)[0]!r}: Cannot find field.")
        total = 0
        for index, operation in enumerate(operations):
            if not isinstance(operation, dict):
                raise bad_json(f"operations[{index}]", "An operation must be an object.")
            kinds = [name for name in operation if name in ("create", "remove", "removeAll")]
            if len(kinds) != 1 or len(operation) != 1:
                raise bad_json(
                    f"operations[{index}]", "Exactly one of create, remove, removeAll must be set."
                )
            data = operation[kinds[0]]
            if kinds[0] != "removeAll":
                identifiers = data.get("userIdentifiers") if isinstance(data, dict) else None
                if not isinstance(identifiers, list):
                    raise bad_json(f"operations[{index}].{kinds[0]}", "userIdentifiers must be a list.")
                total += len(identifiers)
        if total > MAX_IDENTIFIERS_PER_REQUEST:
            raise invalid_argument(
                [
                    ads_error(
                        "offlineUserDataJobError",
                        "TOO_MANY_USER_IDENTIFIERS",
                        f"Maximum number of user identifiers allowed per request is 100,000 and per operation is 20; this request has {total:,}.",
                    )
                ]
            )
        with self._apply:
            if job.status != "PENDING":
                raise invalid_argument(
                    [
                        ads_error(
                            "offlineUserDataJobError",
                            "JOB_ALREADY_STARTED",
                            "The job has already been started; no operations can be added.",
                        )
                    ]
                )
            return self._add(job, operations, bool(body.get("enablePartialFailure")))

    def _add(self, job: Job, operations: list[dict[str, Any]], partial: bool) -> Response:
        errors: list[dict[str, Any]] = []
        accepted: list[tuple[int, list[int]]] = []
        has_create, has_remove, position = job.has_create, job.has_remove, job.operations
        for index, operation in enumerate(operations):
            kind = next(iter(operation))
            path = [{"fieldName": "operations", "index": index}]
            if kind == "removeAll":
                if operation[kind] is not True:
                    raise bad_json(f"operations[{index}].remove_all", "removeAll must be true.")
                if position != 0:
                    errors.append(
                        ads_error(
                            "offlineUserDataJobError",
                            "INVALID_OPERATION_ORDER",
                            "When a remove-all operation is provided, it has to be the first operation of the operation list.",
                            [*path, {"fieldName": "remove_all"}],
                        )
                    )
                    continue
                accepted.append((REMOVE_ALL, [0]))
                position += 1
                continue
            identifiers = operation[kind]["userIdentifiers"]
            path.append({"fieldName": kind})
            found: list[dict[str, Any]] = []
            keys: list[int] = []
            if not identifiers:
                found.append(
                    ads_error(
                        "offlineUserDataJobError",
                        "MISSING_USER_IDENTIFIER",
                        "The user identifier is missing valid data.",
                        path,
                    )
                )
            if len(identifiers) > MAX_IDENTIFIERS_PER_OPERATION:
                found.append(
                    ads_error(
                        "offlineUserDataJobError",
                        "TOO_MANY_USER_IDENTIFIERS",
                        "Maximum number of user identifiers allowed per request is 100,000 and per operation is 20.",
                        path,
                    )
                )
            for number, identifier in enumerate(identifiers):
                problems, key = self._identifier_errors(
                    identifier, [*path, {"fieldName": "user_identifiers", "index": number}]
                )
                found += problems
                if key is not None:
                    keys.append(key)
            if (kind == "create" and has_remove) or (kind == "remove" and has_create):
                found.append(
                    ads_error(
                        "offlineUserDataJobError",
                        "CONFLICTING_OPERATION",
                        "Mixing creation and removal of offline data in the same job is not allowed.",
                        path,
                    )
                )
            if not found and keys and self.would_reject(identifiers[0]):
                found.append(
                    ads_error(
                        "databaseError",
                        "CONCURRENT_MODIFICATION",
                        "Multiple requests were attempting to modify the same resource at once. Retry the request.",
                        path,
                    )
                )
            if found:
                errors += found
                continue
            has_create, has_remove = has_create or kind == "create", has_remove or kind == "remove"
            accepted.append((CREATE if kind == "create" else REMOVE, keys))
            position += 1
        if errors and not partial:
            raise invalid_argument(errors)
        for action, keys in accepted:
            job.actions.extend([action] * len(keys))
            job.keys.extend(keys)
        job.operations, job.has_create, job.has_remove = position, has_create, has_remove
        self.add_requests += 1
        if not errors:
            return Response(200, {})
        return Response(
            200,
            {
                "partialFailureError": {
                    "code": 3,
                    "message": f"Multiple errors in ‘details’. First error: {errors[0]['message']}",
                    "details": [failure_detail(errors)],
                }
            },
        )

    def run_job(self, request: Request) -> Response:
        job = self._find_job(request)
        with self._apply:
            if job.status != "PENDING":
                raise invalid_argument(
                    [
                        ads_error(
                            "offlineUserDataJobError",
                            "JOB_ALREADY_STARTED",
                            "The job has already been started.",
                        )
                    ]
                )
            job.status = "RUNNING"
            members = self.members(job.customer_id, job.user_list_id)
            for action, key in zip(job.actions, job.keys, strict=True):
                if action == CREATE:
                    members.add(key)
                elif action == REMOVE:
                    members.discard(key)
                else:
                    members.clear()
            job.actions, job.keys = array.array("b"), array.array("q")
            job.status = "SUCCESS"
        return Response(
            200,
            {
                "name": f"customers/{job.customer_id}/operations/{job.job_id}",
                "metadata": {
                    "@type": "type.googleapis.com/google.ads.googleads.v26.resources.OfflineUserDataJobMetadata",
                },
            },
        )

    def list_members(self, request: Request) -> Response:
        members = self.members(request.params["customer_id"], request.params["user_list_id"])
        with self._apply:
            keys = sorted(members)
        return Response(200, {"count": len(keys), "keys": keys})

    def prefill_route(self, request: Request) -> Response:
        body = request.json()
        count = int(body.get("count", 0))
        self.prefill(
            request.params["customer_id"], request.params["user_list_id"], count, int(body.get("seed", 0))
        )
        return Response(
            200, {"count": len(self.members(request.params["customer_id"], request.params["user_list_id"]))}
        )
