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

This module is the fake's protocol (auth, limits, faults) and its routes; the job endpoints live in
google_ads_jobs, identifier rules in google_ads_identifiers, the data in google_ads_state, the error shapes in
google_ads_errors.
"""

from __future__ import annotations

from reverse_etl.sandbox.google_ads_errors import ads_error, google_error, invalid_argument
from reverse_etl.sandbox.google_ads_identifiers import member_key
from reverse_etl.sandbox.google_ads_jobs import GoogleAdsJobRoutes
from reverse_etl.sandbox.server import Faults, HttpError, Request, Response, WindowRateLimiter

__all__ = ["GoogleAdsFake", "member_key"]


class GoogleAdsFake(GoogleAdsJobRoutes):
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
        self.throttled = 0
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

    # Sandbox inspection (not Google endpoints)

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
