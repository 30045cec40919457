"""Local fake of Klaviyo's profile bulk import API: `Klaviyo-API-Key` auth, a required dated `revision` header,
JSON:API bodies (`application/vnd.api+json`), at most 10,000 profiles and 5 MB per job, jobs that stay queued /
processing for at least one poll before completing, invalid profiles reported as import errors, the job's
profiles, list membership and its removal, data privacy deletion jobs, and Klaviyo's fixed-window burst (1 s)
and steady (1 min) limits per endpoint, answered with a JSON:API `errors[]` 429 body and Retry-After."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import secrets
import threading
import uuid
from typing import Any
from urllib.parse import urlencode

from reverse_etl.sandbox.server import FakeService, Faults, HttpError, Request, Response, WindowRateLimiter

MAX_PROFILES = 10_000
MAX_JOB_BYTES = 5_000_000
MAX_PROFILE_BYTES = 100_000
MAX_LIST_REMOVALS = 1_000
MAX_PAGE_SIZE = 100
JSON_API = "application/vnd.api+json"
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
REVISION = re.compile(r"^\d{4}-\d{2}-\d{2}(\.[a-z0-9]+)?$")
IDENTIFIERS = ("external_id", "email", "phone_number")
# Endpoint -> (burst per second, steady per minute), as the API reference lists them.
LIMITS = {"import": (10, 150), "lists": (10, 150), "profiles": (75, 750), "privacy": (3, 60)}
FILTER = re.compile(r"^(any|equals)\((email|phone_number|external_id|id),(.+)\)$")
ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def error(status: int, code: str, title: str, detail: str, pointer: str | None = None) -> dict[str, Any]:
    """Klaviyo's JSON:API error body."""
    item: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "status": status,
        "code": code,
        "title": title,
        "detail": detail,
    }
    if pointer is not None:
        item["source"] = {"pointer": pointer}
    return {"errors": [item]}


def invalid(detail: str, pointer: str = "/data") -> HttpError:
    return HttpError(400, error(400, "invalid", "Invalid input.", detail, pointer))


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


class KlaviyoFake(FakeService):
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
        super().__init__(faults)
        self.api_key = api_key
        self.polls_until_complete = polls_until_complete
        self.profiles: dict[str, dict[str, Any]] = {}
        self.lists: dict[str, set[str]] = {list_id: set() for list_id in list_ids}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.deletion_requests: list[dict[str, Any]] = []
        self.throttled = 0
        self.largest_body = 0
        self.limits = limits or LIMITS
        self.burst_window, self.steady_window = burst_window, steady_window
        self._by_endpoint: dict[str, tuple[WindowRateLimiter, WindowRateLimiter]] = {}
        self._rate_headers: dict[int, dict[str, str]] = {}
        self._index: dict[tuple[str, str], str] = {}
        self._state = threading.RLock()
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

    def _page(self, request: Request, items: list[dict[str, Any]]) -> Response:
        size_text = (request.query.get("page[size]") or ["20"])[0]
        if not size_text.isdigit() or not 1 <= int(size_text) <= MAX_PAGE_SIZE:
            raise HttpError(
                400,
                error(400, "invalid", "Invalid input.", f"page[size] must be 1..{MAX_PAGE_SIZE}.", None),
            )
        size = int(size_text)
        cursor = (request.query.get("page[cursor]") or ["0"])[0]
        start = int(cursor) if cursor.isdigit() else 0
        host = request.header("host") or "127.0.0.1"
        self_link = f"http://{host}{request.path}"
        links: dict[str, Any] = {"self": self_link, "prev": None, "next": None}
        if start + size < len(items):
            query = {name: values[0] for name, values in request.query.items()}
            query.update({"page[size]": str(size), "page[cursor]": str(start + size)})
            links["next"] = f"{self_link}?{urlencode(query)}"
        return Response(200, {"data": items[start : start + size], "links": links})

    # -- bulk import jobs -----------------------------------------------------------------------------------

    def create_job(self, request: Request) -> Response:
        if len(request.body) > MAX_JOB_BYTES:
            raise HttpError(
                413,
                error(
                    413,
                    "request_too_large",
                    "Request too large.",
                    f"The maximum allowed payload size is 5MB ({MAX_JOB_BYTES:,} bytes).",
                ),
            )
        body = request.json()
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or data.get("type") != "profile-bulk-import-job":
            raise invalid("'data.type' must be 'profile-bulk-import-job'.", "/data/type")
        profiles = ((data.get("attributes") or {}).get("profiles") or {}).get("data")
        if not isinstance(profiles, list) or not profiles:
            raise invalid("'profiles.data' must be a non-empty array.", "/data/attributes/profiles/data")
        if len(profiles) > MAX_PROFILES:
            raise invalid(
                f"A bulk import job accepts at most {MAX_PROFILES:,} profiles, got {len(profiles):,}.",
                "/data/attributes/profiles/data",
            )
        for position, profile in enumerate(profiles):
            pointer = f"/data/attributes/profiles/data/{position}"
            if not isinstance(profile, dict) or profile.get("type") != "profile":
                raise invalid("Each profile must have type 'profile'.", f"{pointer}/type")
            if not isinstance(profile.get("attributes"), dict):
                raise invalid("Each profile must have attributes.", f"{pointer}/attributes")
            if (
                len(request.body) > MAX_PROFILE_BYTES
                and len(json.dumps(profile).encode()) > MAX_PROFILE_BYTES
            ):
                raise invalid("The maximum allowed payload size per-profile is 100KB.", pointer)
        lists = ((data.get("relationships") or {}).get("lists") or {}).get("data") or []
        list_ids = []
        for item in lists:
            if not isinstance(item, dict) or item.get("type") != "list" or not item.get("id"):
                raise invalid(
                    "Each list relationship needs type 'list' and an id.", "/data/relationships/lists"
                )
            if item["id"] not in self.lists:
                raise HttpError(
                    404, error(404, "not_found", "Not found.", f"A list with id {item['id']} does not exist.")
                )
            list_ids.append(item["id"])
        job_id = f"{uuid.uuid4().hex}"
        job = {
            "id": job_id,
            "status": "queued",
            "created_at": _now(),
            "started_at": None,
            "completed_at": None,
            "polls": 0,
            "profiles": profiles,
            "lists": list_ids,
            "errors": [],
            "profile_ids": [],
        }
        with self._state:
            self.jobs[job_id] = job
            self.largest_body = max(self.largest_body, len(request.body))
        return Response(202, {"data": self._job_resource(job, request)})

    def _job(self, request: Request) -> dict[str, Any]:
        job = self.jobs.get(request.params["job_id"])
        if job is None:
            raise HttpError(
                404, error(404, "not_found", "Not found.", f"Job {request.params['job_id']} does not exist.")
            )
        return job

    def _job_resource(self, job: dict[str, Any], request: Request) -> dict[str, Any]:
        done = job["status"] == "complete"
        host = request.header("host") or "127.0.0.1"
        link = f"http://{host}/api/profile-bulk-import-jobs/{job['id']}"
        return {
            "type": "profile-bulk-import-job",
            "id": job["id"],
            "attributes": {
                "status": job["status"],
                "created_at": job["created_at"],
                "total_count": len(job["profiles"]),
                "completed_count": len(job["profile_ids"]) if done else 0,
                "failed_count": len(job["errors"]) if done else 0,
                "completed_at": job["completed_at"],
                "expires_at": None,
                "started_at": job["started_at"],
            },
            "relationships": {
                "lists": {"data": [{"type": "list", "id": list_id} for list_id in job["lists"]]},
            },
            "links": {"self": link},
        }

    def get_job(self, request: Request) -> Response:
        job = self._job(request)
        with self._state:
            job["polls"] += 1
            if job["status"] == "queued":
                job["status"], job["started_at"] = "processing", _now()
            elif job["status"] == "processing" and job["polls"] >= self.polls_until_complete:
                self._run(job)
        return Response(200, {"data": self._job_resource(job, request)})

    def _run(self, job: dict[str, Any]) -> None:
        """Apply the job: valid profiles are created or updated (and listed), invalid ones become import errors."""
        for position, profile in enumerate(job["profiles"]):
            attributes = dict(profile["attributes"])
            profile_id = profile.get("id")
            problem = self._problem(attributes) or self._conflict(profile_id, attributes)
            if problem is None:
                key = next((str(attributes[name]) for name in IDENTIFIERS if attributes.get(name)), "")
                if self.faults.reject_record(key.lower()):
                    problem = ("invalid", "email", "This profile could not be imported.")
            if problem is not None:
                code, field, detail = problem
                job["errors"].append(
                    {
                        "type": "import-error",
                        "id": str(uuid.uuid4()),
                        "attributes": {
                            "code": code,
                            "title": "Invalid input.",
                            "detail": detail,
                            "source": {
                                "pointer": f"/data/attributes/profiles/data/{position}/attributes/{field}"
                            },
                            "original_payload": attributes,
                        },
                    }
                )
                continue
            profile_id = self._upsert(attributes, profile_id)
            job["profile_ids"].append(profile_id)
            for list_id in job["lists"]:
                self.lists[list_id].add(profile_id)
        job["status"], job["completed_at"] = "complete", _now()

    @staticmethod
    def _problem(attributes: dict[str, Any]) -> tuple[str, str, str] | None:
        if not any(attributes.get(name) for name in IDENTIFIERS):
            return "invalid", "email", "A profile needs one of email, phone_number or external_id."
        email = attributes.get("email")
        if email and not EMAIL.match(str(email)):
            return "invalid", "email", f"Invalid email address: {email}."
        phone = attributes.get("phone_number")
        if phone and not E164.match(str(phone)):
            return "invalid", "phone_number", f"Invalid phone number format: {phone}. Use E.164."
        return None

    @staticmethod
    def _key(name: str, value: Any) -> tuple[str, str]:
        return name, str(value).strip().lower() if name == "email" else str(value).strip()

    def _find(self, attributes: dict[str, Any]) -> str | None:
        """The profile an import matches: by external_id, then email, then phone number."""
        for name in IDENTIFIERS:
            if attributes.get(name) and self._key(name, attributes[name]) in self._index:
                return self._index[self._key(name, attributes[name])]
        return None

    def _conflict(self, profile_id: str | None, attributes: dict[str, Any]) -> tuple[str, str, str] | None:
        """A profile named by id must exist, and the identifiers it is given must not be another profile's."""
        if profile_id is None:
            return None
        if profile_id not in self.profiles:
            return "not_found", "id", f"A profile with id {profile_id} does not exist."
        for name in IDENTIFIERS:
            holder = self._index.get(self._key(name, attributes[name])) if attributes.get(name) else None
            if holder is not None and holder != profile_id:
                return (
                    "duplicate_profile",
                    name,
                    f"A profile already exists with one of these identifiers ({name}).",
                )
        return None

    def _upsert(self, attributes: dict[str, Any], profile_id: str | None = None) -> str:
        """Update the profile named by id (its identifiers may change), else the one the identifiers match, else
        create one."""
        profile_id = profile_id or self._find(attributes)
        if profile_id is None:
            profile_id = "01" + "".join(secrets.choice(ID_ALPHABET) for _ in range(24))
            self.profiles[profile_id] = {"properties": {}, "location": {}, "created": _now()}
        stored = self.profiles[profile_id]
        for name, value in attributes.items():
            if name == "properties":
                stored["properties"].update(value or {})
            elif name == "location":
                stored["location"].update(value or {})
            else:
                if name in IDENTIFIERS and stored.get(name):
                    self._index.pop(self._key(name, stored[name]), None)
                stored[name] = str(value).strip().lower() if name == "email" else value
                if name in IDENTIFIERS:
                    self._index[self._key(name, value)] = profile_id
        stored["updated"] = _now()
        return profile_id

    def get_import_errors(self, request: Request) -> Response:
        job = self._job(request)
        return self._page(request, job["errors"] if job["status"] == "complete" else [])

    # -- profiles, lists and privacy ------------------------------------------------------------------------

    def get_profiles(self, request: Request) -> Response:
        """Profiles matching `filter=any(<identifier>,["a","b"])` or `equals(<identifier>,"a")`."""
        text = (request.query.get("filter") or [""])[0]
        match = FILTER.match(text)
        try:
            operand = json.loads(match.group(3)) if match else None
        except ValueError:
            operand = None
        values = operand if match and match.group(1) == "any" else [operand]
        if (
            match is None
            or not isinstance(values, list)
            or not values
            or len(values) > MAX_PAGE_SIZE
            or not all(isinstance(value, str) for value in values)
        ):
            raise HttpError(
                400,
                error(
                    400,
                    "invalid",
                    "Invalid input.",
                    f'Invalid filter {text!r}: use any(<field>,[...]) with 1..{MAX_PAGE_SIZE} strings or equals(<field>,"...").',
                ),
            )
        name = match.group(2)
        fields = (request.query.get("fields[profile]") or [""])[0].split(",")
        with self._state:
            if name == "id":
                ids = [value for value in values if value in self.profiles]
            else:
                ids = [
                    self._index[self._key(name, value)]
                    for value in values
                    if self._key(name, value) in self._index
                ]
            items = [
                {
                    "type": "profile",
                    "id": profile_id,
                    "attributes": {
                        key: value
                        for key, value in self.profiles[profile_id].items()
                        if fields == [""] or key in fields
                    },
                }
                for profile_id in dict.fromkeys(ids)
            ]
        return self._page(request, items)

    def remove_from_list(self, request: Request) -> Response:
        members = self.lists.get(request.params["list_id"])
        if members is None:
            raise HttpError(
                404,
                error(
                    404,
                    "not_found",
                    "Not found.",
                    f"A list with id {request.params['list_id']} does not exist.",
                ),
            )
        body = request.json()
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list) or not data:
            raise invalid("'data' must be a non-empty array of profile identifiers.")
        if len(data) > MAX_LIST_REMOVALS:
            raise invalid(
                f"At most {MAX_LIST_REMOVALS:,} profiles can be removed per call, got {len(data):,}."
            )
        if any(
            not isinstance(item, dict) or item.get("type") != "profile" or not item.get("id") for item in data
        ):
            raise invalid("Each item needs type 'profile' and an id.")
        with self._state:
            for item in data:
                members.discard(str(item["id"]))
        return Response(204, None)

    def request_deletion(self, request: Request) -> Response:
        body = request.json()
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or data.get("type") != "data-privacy-deletion-job":
            raise invalid("'data.type' must be 'data-privacy-deletion-job'.", "/data/type")
        profile = (((data.get("attributes") or {}).get("profile") or {}).get("data")) or {}
        attributes = profile.get("attributes") or {}
        given = [name for name in ("email", "phone_number") if attributes.get(name)] + (
            ["id"] if profile.get("id") else []
        )
        if len(given) != 1:
            raise invalid(
                "Provide exactly one of email, phone_number or id.", "/data/attributes/profile/data"
            )
        with self._state:
            self.deletion_requests.append(
                {"identifier": given[0], "value": attributes.get(given[0]) or profile.get("id")}
            )
            target = profile.get("id") or self._find(attributes)
            if target and target in self.profiles:
                stored = self.profiles.pop(target)
                for name in IDENTIFIERS:
                    if stored.get(name):
                        self._index.pop(self._key(name, stored[name]), None)
                for members in self.lists.values():
                    members.discard(target)
        return Response(202, None)
