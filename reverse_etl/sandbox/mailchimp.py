"""Local fake of Mailchimp's Marketing API for audience members: Basic auth with the API key, batch
subscribe of at most 500 members with per-member errors inside a 200 answer, archive by subscriber hash,
at most 10 simultaneous connections (429 problem+json beyond), and the members it holds."""

from __future__ import annotations

import re
import threading
import time
import uuid
from typing import Any

from reverse_etl.destinations.mailchimp import subscriber_hash
from reverse_etl.sandbox.server import FakeService, Faults, HttpError, Request, Response

MAX_MEMBERS = 500
MAX_CONNECTIONS = 10
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")


def problem(status: int, title: str, detail: str) -> dict[str, Any]:
    """Mailchimp's problem+json error body."""
    return {
        "type": "https://mailchimp.com/developer/marketing/docs/errors/",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": str(uuid.uuid4()),
    }


class MailchimpFake(FakeService):
    name = "mailchimp"

    def __init__(
        self, faults: Faults | None = None, api_key: str = "sandboxkey-us1", latency_seconds: float = 0.0
    ) -> None:
        super().__init__(faults)
        self.api_key = api_key
        self.latency_seconds = latency_seconds
        self.members: dict[str, dict[str, dict[str, Any]]] = {}
        self.concurrent = 0
        self.most_concurrent = 0
        self._slots = threading.Lock()
        self.route("POST", "/3.0/lists/{list_id}", self.batch_subscribe)
        self.route("PATCH", "/3.0/lists/{list_id}/members/{subscriber_hash}", self.update_member)
        self.route("DELETE", "/3.0/lists/{list_id}/members/{subscriber_hash}", self.archive)

    def environment(self, url: str) -> dict[str, str]:
        return {"CDP_MAILCHIMP_BASE_URL": url, "CDP_MAILCHIMP_API_KEY": self.api_key}

    def check_auth(self, request: Request) -> None:
        import base64

        header = request.header("authorization") or ""
        try:
            _, key = base64.b64decode(header.removeprefix("Basic ")).decode().split(":", 1)
        except (ValueError, UnicodeDecodeError):
            key = ""
        if not header.startswith("Basic ") or key != self.api_key:
            raise HttpError(
                401,
                problem(
                    401,
                    "API Key Invalid",
                    "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
                ),
            )

    def handle(self, request: Request) -> Response:
        with self._slots:
            if self.concurrent >= MAX_CONNECTIONS:
                return Response(
                    429,
                    problem(
                        429,
                        "Too Many Requests",
                        "You have exceeded the limit of 10 simultaneous connections.",
                    ),
                )
            self.concurrent += 1
            self.most_concurrent = max(self.most_concurrent, self.concurrent)
        try:
            if self.latency_seconds:
                time.sleep(self.latency_seconds)
            return super().handle(request)
        finally:
            with self._slots:
                self.concurrent -= 1

    def batch_subscribe(self, request: Request) -> Response:
        body = request.json()
        members = body.get("members") if isinstance(body, dict) else None
        if not isinstance(members, list) or not members:
            raise HttpError(
                400,
                problem(
                    400,
                    "Invalid Resource",
                    "The resource submitted could not be validated: members is required.",
                ),
            )
        if len(members) > MAX_MEMBERS:
            raise HttpError(
                400,
                problem(
                    400,
                    "Invalid Resource",
                    f"Batch subscribe accepts at most {MAX_MEMBERS} members, got {len(members)}.",
                ),
            )
        update_existing = bool(body.get("update_existing"))
        audience = self.members.setdefault(request.params["list_id"], {})
        created: list[dict[str, Any]] = []
        updated: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for member in members:
            email = str((member or {}).get("email_address", "")).strip()
            if not EMAIL.match(email):
                errors.append(
                    {
                        "email_address": email,
                        "error": f"{email} looks fake or invalid, please enter a real email address.",
                        "error_code": "ERROR_GENERIC",
                        "field": "email_address",
                        "field_message": "Invalid email address",
                    }
                )
                continue
            if self.faults.reject_record(email.lower()):
                errors.append(
                    {
                        "email_address": email,
                        "error": f"{email} has signed up to a lot of lists very recently; we're not allowing more signups for now",
                        "error_code": "ERROR_GENERIC",
                    }
                )
                continue
            key = subscriber_hash(email)
            with self.lock:
                existing = audience.get(key)
                if existing is not None and not update_existing:
                    errors.append(
                        {
                            "email_address": email,
                            "error": f"{email} is already a list member.",
                            "error_code": "ERROR_CONTACT_EXISTS",
                        }
                    )
                    continue
                record = existing or {
                    "id": key,
                    "email_address": email.lower(),
                    "status": member.get("status_if_new") or member.get("status") or "subscribed",
                    "merge_fields": {},
                }
                record["merge_fields"].update(member.get("merge_fields") or {})
                audience[key] = record
            (updated if existing else created).append(dict(record))
        return Response(
            200,
            {
                "new_members": created,
                "updated_members": updated,
                "errors": errors,
                "total_created": len(created),
                "total_updated": len(updated),
                "error_count": len(errors),
            },
        )

    def update_member(self, request: Request) -> Response:
        """Update one member: merge fields, and its email address (the member moves to the new subscriber hash;
        an address another member holds is refused with 400 Member Exists)."""
        audience = self.members.setdefault(request.params["list_id"], {})
        body = request.json()
        if not isinstance(body, dict):
            raise HttpError(400, problem(400, "Invalid Resource", "The request body must be a JSON object."))
        with self.lock:
            member = audience.get(request.params["subscriber_hash"])
            if member is None:
                raise HttpError(
                    404, problem(404, "Resource Not Found", "The requested resource could not be found.")
                )
            email = str(body.get("email_address") or member["email_address"]).strip()
            if not EMAIL.match(email):
                raise HttpError(
                    400,
                    problem(
                        400,
                        "Invalid Resource",
                        f"{email} looks fake or invalid, please enter a real email address.",
                    ),
                )
            key = subscriber_hash(email)
            if key != member["id"] and key in audience:
                raise HttpError(
                    400,
                    problem(
                        400,
                        "Member Exists",
                        f"{email} is already a list member. Use PUT to insert or update list members.",
                    ),
                )
            member["merge_fields"].update(body.get("merge_fields") or {})
            if key != member["id"]:
                del audience[member["id"]]
                member.update(id=key, email_address=email.lower())
                audience[key] = member
        return Response(200, dict(member))

    def archive(self, request: Request) -> Response:
        audience = self.members.setdefault(request.params["list_id"], {})
        with self.lock:
            if audience.pop(request.params["subscriber_hash"], None) is None:
                raise HttpError(
                    404, problem(404, "Resource Not Found", "The requested resource could not be found.")
                )
        return Response(204, None)
