"""Local fake of Klaviyo's profile bulk import API: `Klaviyo-API-Key` auth, a required dated `revision` header,
JSON:API bodies (`application/vnd.api+json`), at most 10,000 profiles and 5 MB per job, jobs that stay queued /
processing for at least one poll before completing, invalid profiles reported as import errors, the job's
profiles, list membership and its removal, data privacy deletion jobs, and Klaviyo's fixed-window burst (1 s)
and steady (1 min) limits per endpoint, answered with a JSON:API `errors[]` 429 body and Retry-After.

This module is the fake's protocol (auth, limits, faults, headers) and its routes; the endpoints live in
klaviyo_jobs and klaviyo_profiles, the data and profile rules in klaviyo_state, the answer shapes in
klaviyo_bodies."""

from __future__ import annotations

import math
import re

from reverse_etl.sandbox.klaviyo_bodies import JSON_API, error
from reverse_etl.sandbox.klaviyo_jobs import KlaviyoImportJobs
from reverse_etl.sandbox.klaviyo_profiles import KlaviyoProfileRoutes
from reverse_etl.sandbox.server import Faults, HttpError, Request, Response, WindowRateLimiter

REVISION = re.compile(r"^\d{4}-\d{2}-\d{2}(\.[a-z0-9]+)?$")
# Endpoint -> (burst per second, steady per minute), as the API reference lists them.
LIMITS = {"import": (10, 150), "lists": (10, 150), "profiles": (75, 750), "privacy": (3, 60)}


class KlaviyoFake(KlaviyoImportJobs, KlaviyoProfileRoutes):
    name = "klaviyo"

    def __init__(
        self,
        faults: Faults | None = None,
        api_key: str = "pk_sandbox_klaviyo",
        list_ids: tuple[str, ...] = ("SbxLst",),
        polls_until_complete: int = 2,
        burst_window: float = 1.0,
        steady_window: float = 60.0,
        limits: dict[str, tuple[int, int]] | None = None,
    ) -> None:
        super().__init__(faults, list_ids, polls_until_complete)
        self.api_key = api_key
        self.throttled = 0
        self.limits = limits or LIMITS
        self.burst_window, self.steady_window = burst_window, steady_window
        self._by_endpoint: dict[str, tuple[WindowRateLimiter, WindowRateLimiter]] = {}
        self._rate_headers: dict[int, dict[str, str]] = {}
        self.route("POST", "/api/profile-bulk-import-jobs", self.create_job)
        self.route("GET", "/api/profile-bulk-import-jobs/{job_id}", self.get_job)
        self.route("GET", "/api/profile-bulk-import-jobs/{job_id}/import-errors", self.get_import_errors)
        self.route("GET", "/api/profiles", self.get_profiles)
        self.route("DELETE", "/api/lists/{list_id}/relationships/profiles", self.remove_from_list)
        self.route("POST", "/api/data-privacy-deletion-jobs", self.request_deletion)

    def environment(self, url: str) -> dict[str, str]:
        return {
            "CDP_KLAVIYO_BASE_URL": url,
            "CDP_KLAVIYO_API_KEY": self.api_key,
            "CDP_KLAVIYO_LIST_ID": next(iter(self.lists)),
        }

    # -- protocol -------------------------------------------------------------------------------------------

    def check_auth(self, request: Request) -> None:
        header = request.header("authorization") or ""
        if header != f"Klaviyo-API-Key {self.api_key}":
            raise HttpError(
                401,
                error(
                    401,
                    "not_authenticated",
                    "Authentication credentials were not provided.",
                    "Missing or invalid private key.",
                    "/data/",
                ),
            )
        revision = request.header("revision")
        if not revision:
            raise HttpError(
                400,
                error(400, "missing_revision", "Missing revision header.", "A revision header is required."),
            )
        if not REVISION.match(revision):
            raise HttpError(
                400,
                error(
                    400,
                    "invalid_revision",
                    "Invalid revision.",
                    f"{revision!r} is not a valid revision (YYYY-MM-DD).",
                ),
            )
        if request.body and (request.header("content-type") or "").split(";")[0].strip() != JSON_API:
            raise HttpError(
                415,
                error(
                    415, "unsupported_media_type", "Unsupported media type.", f"Send bodies as {JSON_API}."
                ),
            )

    @staticmethod
    def _group(request: Request) -> str:
        if request.path.startswith("/api/lists/"):
            return "lists"
        if request.path.startswith("/api/data-privacy-deletion-jobs"):
            return "privacy"
        if request.path == "/api/profiles":
            return "profiles"
        return "import"

    def _endpoint(self, request: Request) -> tuple[WindowRateLimiter, WindowRateLimiter]:
        """Limits count per endpoint (method and route), each with a burst and a steady window."""
        path = re.sub(r"^/api/(profile-bulk-import-jobs|lists)/[^/]+", r"/api/\1/{id}", request.path)
        key = f"{request.method} {path}"
        with self._state:
            if key not in self._by_endpoint:
                burst, steady = self.limits[self._group(request)]
                self._by_endpoint[key] = (
                    WindowRateLimiter(burst, self.burst_window),
                    WindowRateLimiter(steady, self.steady_window),
                )
            return self._by_endpoint[key]

    def rate_limited(self, request: Request) -> Response | None:
        burst, steady = self._endpoint(request)
        allowed_steady, reset_steady, remaining = steady.allow()
        allowed_burst, reset_burst, _ = burst.allow() if allowed_steady else (False, reset_steady, 0)
        if allowed_steady and allowed_burst:
            with self._state:
                self._rate_headers[id(request)] = {
                    "RateLimit-Limit": str(steady.limit),
                    "RateLimit-Remaining": str(remaining),
                    "RateLimit-Reset": str(math.ceil(reset_steady)),
                }
            return None
        wait = math.ceil(reset_steady if not allowed_steady else reset_burst)
        with self._state:
            self.throttled += 1
        return Response(
            429,
            error(
                429,
                "throttled",
                "Request was throttled.",
                f"Request was throttled. Expected available in {wait} second{'s' if wait != 1 else ''}.",
            ),
            {"Retry-After": str(wait), "Content-Type": JSON_API},
        )

    def injected_fault(self, request: Request) -> Response | None:
        fault = super().injected_fault(request)
        if fault is None:
            return None
        if fault.status == 429:
            return Response(
                429,
                error(
                    429,
                    "throttled",
                    "Request was throttled.",
                    "Request was throttled. Expected available in 0 seconds.",
                ),
                {"Retry-After": "0", "Content-Type": JSON_API},
            )
        return Response(
            fault.status,
            error(fault.status, "error", "A server error occurred.", "Service unavailable (injected)."),
            {"Content-Type": JSON_API},
        )

    def handle(self, request: Request) -> Response:
        try:
            response = super().handle(request)
        finally:
            with self._state:
                passed = self._rate_headers.pop(id(request), {})
        # Every answer that passed the limiter (not a 429) carries the state of the steady window.
        response.headers.update(passed)
        response.headers.setdefault("Content-Type", JSON_API)
        return response
