"""Local fake of Meta's Custom Audience users edges: `POST` / `DELETE /{version}/{audience_id}/users` and the
`usersreplace` session, with Graph API error bodies, per-entry validation of the hashed identifiers (lower-case
SHA-256 hex; a plain or upper-case value is an invalid entry), at most 10,000 rows per request, a per-account
call limit answered with error 80003 and the X-Business-Use-Case-Usage header, and the members it holds.

Membership is kept per matchable identifier (the EMAIL and PHONE hashes): a person added with two emails is two
identifiers, removed again by the same rows. Each identifier is stored as the first 64 bits of its digest, an int
in a set, so a million members take tens of megabytes; at that scale a prefix collision is improbable (~3e-8).

This module is the fake's protocol (auth, limits, faults) and its endpoints; meta_payload checks the bodies,
meta_errors shapes the errors.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from reverse_etl.sandbox.meta_errors import graph_error
from reverse_etl.sandbox.meta_payload import member_id, parse_payload, payload_rows
from reverse_etl.sandbox.server import FakeService, Faults, HttpError, Request, Response, WindowRateLimiter

__all__ = ["MetaFake", "member_id", "membership_digest"]

OLDEST_VERSION = (21, 0)


def membership_digest(members: set[int]) -> str:
    """An order-free fingerprint of a membership (sum of members mod 2**64), for comparing from another process."""
    return f"{sum(members) % 2**64:016x}"


@dataclass
class ReplaceSession:
    session_id: int
    batch_seq: int
    started: float
    members: set[int] = field(default_factory=set)
    received: int = 0


@dataclass
class Audience:
    audience_id: str
    members: set[int] = field(default_factory=set)
    session: ReplaceSession | None = None


class MetaFake(FakeService):
    name = "meta"

    def __init__(
        self,
        faults: Faults | None = None,
        token: str = "sandbox-meta-token",
        audience_ids: tuple[str, ...] = ("23850000000000001",),
        limit: int = 300,
        window_seconds: float = 60.0,
        session_timeout_seconds: float = 90 * 60,
    ) -> None:
        super().__init__(faults)
        self.token = token
        self.limit, self.window_seconds = limit, window_seconds
        self.window = WindowRateLimiter(limit, window_seconds)
        self.session_timeout = session_timeout_seconds
        self.audiences = {audience_id: Audience(audience_id) for audience_id in audience_ids}
        self.throttled = 0
        self.remaining = limit
        self.data_lock = threading.Lock()
        self.route("POST", "/{version}/{audience_id}/users", self.add_users)
        self.route("DELETE", "/{version}/{audience_id}/users", self.remove_users)
        self.route("POST", "/{version}/{audience_id}/usersreplace", self.replace_users)
        self.route("GET", "/{version}/{audience_id}", self.read_audience)
        self.route("GET", "/_sandbox/meta/{audience_id}", self.inspect)

    # Test and sandbox helpers

    def environment(self, url: str) -> dict[str, str]:
        return {
            "CDP_META_BASE_URL": url,
            "CDP_META_TOKEN": self.token,
            "CDP_META_AUDIENCE_ID": next(iter(self.audiences)),
        }

    def members(self, audience_id: str) -> set[int]:
        with self.data_lock:
            return set(self.audiences[audience_id].members)

    def prefill(self, audience_id: str, digests: list[str]) -> None:
        with self.data_lock:
            self.audiences[audience_id].members.update(member_id(digest) for digest in digests)

    # Auth, limits, faults

    def check_auth(self, request: Request) -> None:
        if request.path.startswith("/_sandbox/"):
            return
        header = request.header("authorization") or ""
        token = header.removeprefix("Bearer ").removeprefix("OAuth ")
        token = token or (request.query.get("access_token") or [""])[0]
        if not token:
            raise graph_error(
                400, "An active access token must be used to query information about the current user.", 2500
            )
        if token != self.token:
            raise graph_error(400, "Invalid OAuth access token - Cannot parse access token", 190)

    def _usage(self, remaining: int) -> str:
        used = round(100 * (self.limit - remaining) / self.limit)
        usage = {
            "type": "custom_audience",
            "call_count": used,
            "total_cputime": used,
            "total_time": used,
            "estimated_time_to_regain_access": 0 if remaining else max(1, round(self.window_seconds / 60)),
        }
        return json.dumps({"sandbox_business": [usage]})

    def rate_limited(self, request: Request) -> Response | None:
        if request.path.startswith("/_sandbox/") or request.method == "GET":
            return None
        allowed, _, remaining = self.window.allow()
        self.remaining = remaining
        if allowed:
            return None
        with self.lock:
            self.throttled += 1
        raise graph_error(
            400,
            "There have been too many calls to this ad-account. Wait a bit and try again.",
            80003,
            transient=True,
            headers={"X-Business-Use-Case-Usage": self._usage(0)},
        )

    def injected_fault(self, request: Request) -> Response | None:
        fault = super().injected_fault(request)
        if fault is None:
            return None
        if fault.status == 429:
            return graph_error(400, "(#17) User request limit reached", 17, transient=True).response
        return graph_error(
            500, "An unexpected error has occurred. Please retry your request later.", 2, transient=True
        ).response

    # Requests

    def _audience(self, request: Request) -> Audience:
        version = request.params["version"]
        match = re.match(r"^v(\d+)\.(\d+)$", version)
        if not match:
            raise graph_error(400, f"Unknown path components: /{version}", 2500)
        if (int(match.group(1)), int(match.group(2))) < OLDEST_VERSION:
            raise graph_error(
                400, f"(#2635) You are calling a deprecated version of the Ads API ({version}).", 2635
            )
        audience = self.audiences.get(request.params["audience_id"])
        if audience is None:
            raise graph_error(
                400,
                f"Unsupported post request. Object with ID '{request.params['audience_id']}' does not exist, cannot "
                "be loaded due to missing permissions, or does not support this operation.",
                100,
                "GraphMethodException",
                subcode=33,
            )
        return audience

    def _answer(
        self, audience: Audience, session_id: int, data: list[Any], invalid: int, samples: dict[str, str]
    ) -> Response:
        body = {
            "audience_id": audience.audience_id,
            "session_id": session_id,
            "num_received": len(data),
            "num_invalid_entries": invalid,
            "invalid_entry_samples": samples,
        }
        return Response(200, body, {"X-Business-Use-Case-Usage": self._usage(self.remaining)})

    def _refuse_while_replacing(self, audience: Audience) -> None:
        session = audience.session
        if session is not None and time.monotonic() - session.started < self.session_timeout:
            raise graph_error(
                400,
                "(#100) This audience is being replaced; add or remove users after the replace session ends",
                100,
            )

    def add_users(self, request: Request) -> Response:
        audience = self._audience(request)
        keys, data, _ = parse_payload(request)
        found, invalid, samples = payload_rows(keys, data, self.faults)
        with self.data_lock:
            self._refuse_while_replacing(audience)
            audience.members.update(found)
        return self._answer(audience, int(time.time() * 1000), data, invalid, samples)

    def remove_users(self, request: Request) -> Response:
        audience = self._audience(request)
        keys, data, _ = parse_payload(request)
        found, invalid, samples = payload_rows(keys, data, self.faults)
        with self.data_lock:
            self._refuse_while_replacing(audience)
            audience.members.difference_update(found)
        return self._answer(audience, int(time.time() * 1000), data, invalid, samples)

    def replace_users(self, request: Request) -> Response:
        audience = self._audience(request)
        keys, data, body = parse_payload(request)
        session = body.get("session")
        if not isinstance(session, dict):
            raise graph_error(400, "(#100) The parameter session is required", 100)
        session_id, seq, last = (
            session.get("session_id"),
            session.get("batch_seq"),
            session.get("last_batch_flag"),
        )
        if not isinstance(session_id, int) or isinstance(session_id, bool) or session_id <= 0:
            raise graph_error(400, "(#100) session.session_id must be a positive integer", 100)
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            raise graph_error(400, "(#100) session.batch_seq must be an integer starting at 1", 100)
        if not isinstance(last, bool):
            raise graph_error(400, "(#100) session.last_batch_flag must be a boolean", 100)
        estimated = session.get("estimated_num_total")
        if estimated is not None and (not isinstance(estimated, int) or estimated < 0):
            raise graph_error(400, "(#100) session.estimated_num_total must be a non-negative integer", 100)
        found, invalid, samples = payload_rows(keys, data, self.faults)
        with self.data_lock:
            current = audience.session
            if current is not None and time.monotonic() - current.started >= self.session_timeout:
                audience.session = current = None  # expired: discarded, the audience keeps its members
            if current is None:
                if seq != 1:
                    raise graph_error(
                        400,
                        f"(#100) No replace session {session_id} in progress: batch_seq must start at 1",
                        100,
                    )
                current = audience.session = ReplaceSession(session_id, 0, time.monotonic())
            elif current.session_id != session_id:
                raise graph_error(
                    400,
                    f"(#100) Another replace session ({current.session_id}) is in progress for this audience",
                    100,
                )
            if seq not in (current.batch_seq, current.batch_seq + 1):
                raise graph_error(
                    400,
                    f"(#100) batch_seq {seq} out of order: the session is at batch {current.batch_seq}",
                    100,
                )
            current.batch_seq = seq
            current.members.update(found)
            current.received += len(data)
            if last:
                audience.members = current.members
                audience.session = None
        return self._answer(audience, session_id, data, invalid, samples)

    def read_audience(self, request: Request) -> Response:
        audience = self._audience(request)
        with self.data_lock:
            count = len(audience.members)
        return Response(
            200,
            {
                "id": audience.audience_id,
                "approximate_count_lower_bound": count,
                "approximate_count_upper_bound": count,
            },
        )

    def inspect(self, request: Request) -> Response:
        """Sandbox only (not a Meta endpoint): the member count and an order-free digest of the membership."""
        audience = self.audiences.get(request.params["audience_id"])
        if audience is None:
            raise HttpError(404, {"message": "no such audience"})
        with self.data_lock:
            return Response(
                200,
                {
                    "members": len(audience.members),
                    "digest": membership_digest(audience.members),
                    "replace_session_open": audience.session is not None,
                },
            )
