"""Local fake of Braze's user data REST API: bearer REST API key with per-endpoint permissions (401 / 403),
`/users/track` with at most 75 attributes objects (minor errors by input_array and index inside a success
answer), `/users/delete` with at most 50 external_ids, Braze's per-workspace windows (3,000 track requests
per 3 seconds; 20,000 delete requests per minute) answered with 429 and X-RateLimit-* headers, and the
user profiles it holds."""

from __future__ import annotations

import time
from typing import Any

from reverse_etl.sandbox.server import (
    FakeService,
    Faults,
    HttpError,
    Request,
    Response,
    WindowRateLimiter,
)

MAX_ATTRIBUTES = 75
MAX_DELETE_IDS = 50
MAX_RENAMES = 50
PERMISSIONS = {
    "/users/track": "users.track",
    "/users/delete": "users.delete",
    "/users/external_ids/rename": "users.external_ids.rename",
}


def fatal(status: int, message: str) -> HttpError:
    """Braze's fatal error body: the message, and the minor errors (none here)."""
    return HttpError(status, {"message": message, "errors": []})


class BrazeFake(FakeService):
    name = "braze"

    def __init__(
        self,
        faults: Faults | None = None,
        api_key: str = "sandbox-braze-rest-key",
        permissions: frozenset[str] = frozenset(PERMISSIONS.values()),
        track_limit: int = 3000,
        track_window_seconds: float = 3.0,
        delete_limit: int = 20_000,
        delete_window_seconds: float = 60.0,
        rename_limit: int = 1_000,
        rename_window_seconds: float = 60.0,
    ) -> None:
        super().__init__(faults)
        self.api_key = api_key
        self.permissions = permissions
        self.windows = {
            "/users/track": WindowRateLimiter(track_limit, track_window_seconds),
            "/users/delete": WindowRateLimiter(delete_limit, delete_window_seconds),
            "/users/external_ids/rename": WindowRateLimiter(rename_limit, rename_window_seconds),
        }
        self.users: dict[str, dict[str, Any]] = {}
        # A renamed user's previous external_id -> its primary one: the user still answers to both.
        self.deprecated: dict[str, str] = {}
        self.deleted: list[str] = []
        self.throttled = 0
        # Maintenance: Braze accepts /users/track and answers 202 {"message": "queued"} (applied here at once).
        self.queued = False
        self.route("POST", "/users/track", self.track)
        self.route("POST", "/users/delete", self.delete)
        self.route("POST", "/users/external_ids/rename", self.rename)

    def environment(self, url: str) -> dict[str, str]:
        return {"CDP_BRAZE_REST_ENDPOINT": url, "CDP_BRAZE_API_KEY": self.api_key}

    def check_auth(self, request: Request) -> None:
        if request.header("authorization") != f"Bearer {self.api_key}":
            raise fatal(401, "Invalid API key")
        if PERMISSIONS[request.path] not in self.permissions:
            raise fatal(403, f"This API key does not have the {PERMISSIONS[request.path]} permission")

    def rate_limited(self, request: Request) -> Response | None:
        window = self.windows[request.path]
        allowed, reset, remaining = window.allow()
        headers = {
            "X-RateLimit-Limit": str(window.limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(int(time.time() + reset) + 1),
        }
        if allowed:
            return None
        with self.lock:
            self.throttled += 1
        return Response(429, {"message": "Rate limit exceeded", "errors": []}, headers)

    def track(self, request: Request) -> Response:
        body = request.json()
        if not isinstance(body, dict):
            raise fatal(400, "Bad Request")
        attributes = body.get("attributes", [])
        if not isinstance(attributes, list):
            raise fatal(400, "Bad Request: attributes must be an array")
        for name in ("attributes", "events", "purchases"):
            if len(body.get(name) or []) > MAX_ATTRIBUTES:
                raise fatal(400, "Max Input Length Exceeded")
        minor: list[dict[str, Any]] = []
        processed = 0
        for index, item in enumerate(attributes):
            if not isinstance(item, dict):
                minor.append(
                    {"type": "Attributes must be an object", "input_array": "attributes", "index": index}
                )
                continue
            external_id = item.get("external_id")
            if external_id in (None, "") and not item.get("braze_id") and not item.get("user_alias"):
                minor.append(
                    {
                        "type": "'external_id' or 'braze_id' or 'user_alias' is required",
                        "input_array": "attributes",
                        "index": index,
                    }
                )
                continue
            if self.faults.reject_record(str(external_id)):
                minor.append(
                    {
                        "type": f"Rejected by the sandbox: attributes for {external_id} were not accepted",
                        "input_array": "attributes",
                        "index": index,
                    }
                )
                continue
            values = {name: value for name, value in item.items() if name != "external_id"}
            with self.lock:
                primary = self.deprecated.get(str(external_id), str(external_id))
                self.users.setdefault(primary, {}).update(values)
            processed += 1
        if self.queued:
            return Response(202, {"message": "queued"})
        answer: dict[str, Any] = {"message": "success"}
        if attributes:
            answer["attributes_processed"] = processed
        if minor:
            answer["errors"] = minor
        return Response(201, answer)

    def delete(self, request: Request) -> Response:
        body = request.json()
        external_ids = body.get("external_ids") if isinstance(body, dict) else None
        if not isinstance(external_ids, list) or not external_ids:
            raise fatal(400, "No external_ids, user_aliases, braze_ids or email_addresses were provided")
        if len(external_ids) > MAX_DELETE_IDS:
            raise fatal(400, "The max number of external_ids and aliases per request was exceeded")
        deleted = 0
        with self.lock:
            for external_id in external_ids:
                primary = self.deprecated.get(str(external_id), str(external_id))
                if self.users.pop(primary, None) is not None:
                    deleted += 1
                    self.deleted.append(primary)
                    for old in [old for old, new in self.deprecated.items() if new == primary]:
                        del self.deprecated[old]
        return Response(201, {"deleted": deleted, "message": "success"})

    def rename(self, request: Request) -> Response:
        """Give users a new primary external_id; the old one becomes a deprecated alias of the same user. A
        current id that is not a primary id, or a new id already in use, is an entry of rename_errors naming
        the rename object's index."""
        body = request.json()
        renames = body.get("external_id_renames") if isinstance(body, dict) else None
        if not isinstance(renames, list) or not renames:
            raise fatal(400, "external_id_renames must be a non-empty array")
        if len(renames) > MAX_RENAMES:
            raise fatal(400, f"external_id_renames accepts at most {MAX_RENAMES} objects")
        renamed: list[str] = []
        rename_errors: list[list[Any]] = []
        with self.lock:
            for index, item in enumerate(renames):
                current = str((item or {}).get("current_external_id") or "")
                new = str((item or {}).get("new_external_id") or "")
                if current not in self.users:
                    rename_errors.append(
                        [index, f"current_external_id {current!r} is not a primary external ID"]
                    )
                elif not new or new == current or new in self.users or new in self.deprecated:
                    rename_errors.append([index, f"new_external_id {new!r} is already in use or invalid"])
                else:
                    self.users[new] = self.users.pop(current)
                    self.deprecated[current] = new
                    for old, primary in self.deprecated.items():
                        if primary == current:
                            self.deprecated[old] = new
                    renamed.append(new)
        return Response(201, {"message": "success", "external_ids": renamed, "rename_errors": rename_errors})
