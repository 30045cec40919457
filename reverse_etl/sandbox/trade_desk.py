"""Local fake of The Trade Desk's CRM data drops: `POST /v3/crmdata/segment/{advertiser_id}/{crm_data_id}` with the
TTD-Auth header and `{"PiiType", "MergeMode", "RetentionEnabled"}` answers `{"ReferenceId", "Url"}`; a `PUT` of
text lines to that Url (a pre-signed upload address: no TTD-Auth) applies the drop. Every line must be the Base64 of
a SHA-256 digest (a plain email or a hex digest refuses the whole drop, naming the line); at most 10,000 lines; a
Url is used once. Replace makes the segment equal to the drop, Add adds, Remove removes. A fixed-window request
limit answers 429 with Retry-After. Members are kept as 64-bit prefixes of the digests, per segment."""

from __future__ import annotations

import base64
import binascii
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from reverse_etl.sandbox.server import FakeService, Faults, HttpError, Request, Response, WindowRateLimiter

MAX_LINES = 10_000
PII_TYPES = {"EmailHashedUnifiedId2", "PhoneNumberHashedUnifiedId2"}
MERGE_MODES = {"Add", "Remove", "Replace"}
SHA256_BASE64 = re.compile(r"^[A-Za-z0-9+/]{43}=$")
DROP_TTL_SECONDS = 3600.0


def member_id(line: str) -> int:
    return int.from_bytes(base64.b64decode(line)[:8], "big")


def ttd_error(status: int, message: str, details: dict[str, str] | None = None) -> HttpError:
    """The Trade Desk's error body: a Message and, for validation errors, ErrorDetails per property."""
    body: dict[str, Any] = {"Message": message}
    if details:
        body["ErrorDetails"] = [{"Property": name, "Reasons": [reason]} for name, reason in details.items()]
    return HttpError(status, body)


@dataclass
class Drop:
    crm_data_id: str
    pii_type: str
    merge_mode: str
    created: float


@dataclass
class Segment:
    crm_data_id: str
    members: set[int] = field(default_factory=set)
    drops_applied: list[str] = field(default_factory=list)


class TradeDeskFake(FakeService):
    name = "trade_desk"

    def __init__(
        self,
        faults: Faults | None = None,
        token: str = "sandbox-ttd-token",
        advertiser_id: str = "sandboxadv",
        crm_data_ids: tuple[str, ...] = ("sandboxcrm1",),
        limit: int = 100,
        window_seconds: float = 60.0,
    ) -> None:
        super().__init__(faults)
        self.token = token
        self.advertiser_id = advertiser_id
        self.limit, self.window_seconds = limit, window_seconds
        self.window = WindowRateLimiter(limit, window_seconds)
        self.segments = {crm_id: Segment(crm_id) for crm_id in crm_data_ids}
        self.drops: dict[str, Drop] = {}
        self.throttled = 0
        self.data_lock = threading.Lock()
        self.base_url = ""
        self.route("POST", "/v3/crmdata/segment/{advertiser_id}/{crm_data_id}", self.create_drop)
        self.route("PUT", "/drop/{reference_id}", self.upload)
        self.route("GET", "/_sandbox/trade_desk/{crm_data_id}", self.inspect)

    def environment(self, url: str) -> dict[str, str]:
        return {
            "CDP_TTD_BASE_URL": url,
            "CDP_TTD_TOKEN": self.token,
            "CDP_TTD_ADVERTISER_ID": self.advertiser_id,
            "CDP_TTD_CRM_DATA_ID": next(iter(self.segments)),
        }

    def members(self, crm_data_id: str) -> set[int]:
        with self.data_lock:
            return set(self.segments[crm_data_id].members)

    def prefill(self, crm_data_id: str, lines: list[str]) -> None:
        with self.data_lock:
            self.segments[crm_data_id].members.update(member_id(line) for line in lines)

    def check_auth(self, request: Request) -> None:
        if not request.path.startswith("/v3/"):
            return  # drop Urls are pre-signed; the sandbox inspection route is not TTD's
        if request.header("ttd-auth") != self.token:
            raise ttd_error(401, "The TTD-Auth header is missing or holds an invalid or expired token.")

    def rate_limited(self, request: Request) -> Response | None:
        if request.method == "GET":
            return None
        allowed, reset, _ = self.window.allow()
        if allowed:
            return None
        with self.lock:
            self.throttled += 1
        return Response(
            429,
            {"Message": "Too many requests. Wait before sending more."},
            {"Retry-After": str(max(1, round(reset)) if reset >= 1 else round(reset, 3))},
        )

    def injected_fault(self, request: Request) -> Response | None:
        fault = super().injected_fault(request)
        if fault is None:
            return None
        if fault.status == 429:
            return Response(
                429, {"Message": "Too many requests. Wait before sending more."}, {"Retry-After": "0"}
            )
        return Response(fault.status, {"Message": "The service is temporarily unavailable. Try again later."})

    def create_drop(self, request: Request) -> Response:
        if request.params["advertiser_id"] != self.advertiser_id:
            raise ttd_error(403, f"Not authorized for advertiser {request.params['advertiser_id']}.")
        crm_data_id = request.params["crm_data_id"]
        if crm_data_id not in self.segments:
            raise ttd_error(404, f"CRM data segment {crm_data_id} was not found for this advertiser.")
        body = request.json()
        if not isinstance(body, dict):
            raise ttd_error(400, "The request is invalid.", {"body": "must be a JSON object"})
        problems = {}
        if body.get("PiiType") not in PII_TYPES:
            problems["PiiType"] = f"must be one of {', '.join(sorted(PII_TYPES))}"
        if body.get("MergeMode") not in MERGE_MODES:
            problems["MergeMode"] = f"must be one of {', '.join(sorted(MERGE_MODES))}"
        if "RetentionEnabled" in body and not isinstance(body["RetentionEnabled"], bool):
            problems["RetentionEnabled"] = "must be a boolean"
        if problems:
            raise ttd_error(400, "The request is invalid.", problems)
        reference = uuid.uuid4().hex
        with self.data_lock:
            self.drops[reference] = Drop(crm_data_id, body["PiiType"], body["MergeMode"], time.monotonic())
        host = request.header("host") or "127.0.0.1"
        return Response(200, {"ReferenceId": reference, "Url": f"http://{host}/drop/{reference}"})

    def upload(self, request: Request) -> Response:
        with self.data_lock:
            drop = self.drops.pop(request.params["reference_id"], None)
        if drop is None or time.monotonic() - drop.created > DROP_TTL_SECONDS:
            raise ttd_error(403, "This drop Url is unknown, expired or already used; ask for a new drop.")
        if not (request.header("content-type") or "").startswith("text/plain"):
            raise ttd_error(400, "The drop must be uploaded as text/plain, one identifier per line.")
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ttd_error(400, f"The drop is not UTF-8 text: {error}") from error
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if not lines:
            raise ttd_error(400, "The drop holds no identifiers.")
        if len(lines) > MAX_LINES:
            raise ttd_error(400, f"The drop holds {len(lines):,} lines; at most {MAX_LINES:,} are accepted.")
        members = set()
        for number, line in enumerate(lines, start=1):
            try:
                valid = bool(SHA256_BASE64.match(line)) and len(base64.b64decode(line, validate=True)) == 32
            except binascii.Error:
                valid = False
            if not valid:
                raise ttd_error(
                    400,
                    f"Line {number} is not the Base64 SHA-256 of a normalized identifier ({drop.pii_type}): "
                    f"{line[:20]!r}",
                )
            members.add(member_id(line))
        with self.data_lock:
            segment = self.segments[drop.crm_data_id]
            if drop.merge_mode == "Replace":
                segment.members = members
            elif drop.merge_mode == "Add":
                segment.members |= members
            else:
                segment.members -= members
            segment.drops_applied.append(drop.merge_mode)
        return Response(200, {"ReferenceId": request.params["reference_id"], "LinesReceived": len(lines)})

    def inspect(self, request: Request) -> Response:
        """Sandbox only (not a Trade Desk endpoint): member count of a segment."""
        segment = self.segments.get(request.params["crm_data_id"])
        if segment is None:
            raise HttpError(404, {"Message": "no such segment"})
        with self.data_lock:
            return Response(200, {"members": len(segment.members), "drops": list(segment.drops_applied)})
