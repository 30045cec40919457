"""The Google Ads fake's offline user data job endpoints: create (a CUSTOMER_MATCH_USER_LIST job on the
customer's own user list, with consent), addOperations (at most 100,000 identifiers a request and 20 an
operation, removeAll only first, no creates and removes in one job, partial failures by operation index) and
run, which applies the job to the user list's membership; nothing is added after run."""

from __future__ import annotations

import array
import re
from typing import Any

from reverse_etl.sandbox.google_ads_errors import ads_error, bad_json, failure_detail, invalid_argument
from reverse_etl.sandbox.google_ads_identifiers import identifier_errors
from reverse_etl.sandbox.google_ads_state import CREATE, REMOVE, REMOVE_ALL, GoogleAdsState, Job
from reverse_etl.sandbox.server import Request, Response

MAX_IDENTIFIERS_PER_REQUEST = 100_000
MAX_IDENTIFIERS_PER_OPERATION = 20
CONSENT = {"GRANTED", "DENIED", "UNSPECIFIED"}


class GoogleAdsJobRoutes(GoogleAdsState):
    """Routes of `/{version}/customers/{customer_id}/offlineUserDataJobs`."""

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
                problems, key = identifier_errors(
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
