"""The Klaviyo fake's profile bulk import job endpoints: a job is created (at most 10,000 profiles and 5 MB,
100 KB a profile, lists that exist), stays queued / processing for at least one poll, then completes: valid
profiles are created or updated (and listed), invalid ones become import errors read page by page."""

from __future__ import annotations

import json
import uuid
from typing import Any

from reverse_etl.sandbox.klaviyo_bodies import error, invalid, page
from reverse_etl.sandbox.klaviyo_state import IDENTIFIERS, KlaviyoState, now
from reverse_etl.sandbox.server import HttpError, Request, Response

MAX_PROFILES = 10_000
MAX_JOB_BYTES = 5_000_000
MAX_PROFILE_BYTES = 100_000


class KlaviyoImportJobs(KlaviyoState):
    """Routes of `/api/profile-bulk-import-jobs`."""

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
            "created_at": now(),
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
                job["status"], job["started_at"] = "processing", now()
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
        job["status"], job["completed_at"] = "complete", now()

    def get_import_errors(self, request: Request) -> Response:
        job = self._job(request)
        return page(request, job["errors"] if job["status"] == "complete" else [])
