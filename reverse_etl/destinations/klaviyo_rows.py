"""Klaviyo rows before anything is sent: which rows can be sent as they are, how the sendable ones fill import
jobs (at most 10,000 profiles and 5 MB a job), and the reference (`<identifier>:<value>`) a confirmed row keeps
so its profile can be found again when its identifier changes or it leaves the model."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from reverse_etl.destinations.base import BatchResult, Operation, Record, RecordResult
from reverse_etl.destinations.klaviyo_client import payload_size, profile_attributes
from reverse_etl.destinations.klaviyo_config import (
    IDENTIFIERS,
    MAX_JOB_BYTES,
    MAX_PROFILE_BYTES,
    MAX_PROFILES,
)

E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")

# One import job: each row with the profile it is sent as.
Job = list[tuple[Record, dict[str, Any]]]


def split(records: Sequence[Record]) -> tuple[list[Record], list[Record]]:
    """The rows to import (or forget) and the rows leaving the model."""
    removing = (Operation.DELETE, Operation.REMOVE)
    return [r for r in records if r.operation not in removing], [
        r for r in records if r.operation in removing
    ]


def problem(record: Record, identifier: str) -> str | None:
    """Why a row cannot be sent as it is, or None."""
    if record.fields.get(identifier) in (None, ""):
        return f"no value for identifier {identifier}"
    phone = record.fields.get("phone_number")
    if phone not in (None, "") and not E164.match(str(phone)):
        return (
            f"phone_number {str(phone)!r} is not E.164 (a + then country code and number, at most 15 digits, "
            "e.g. +14155550123); Klaviyo rejects other formats"
        )
    return None


def import_jobs(
    records: Sequence[Record],
    identifier: str,
    envelope: Mapping[str, Any],
    profile_ids: Mapping[str, str] | None = None,
) -> tuple[list[Job], BatchResult]:
    """Sendable rows grouped into jobs of at most 10,000 profiles and 5 MB (`envelope` is the job body without
    profiles); unsendable rows rejected. A row in `profile_ids` (row key -> Klaviyo profile id) names its
    profile by id: that profile is updated."""
    rejected = BatchResult()
    jobs: list[Job] = []
    base = payload_size(envelope)
    current: Job = []
    current_bytes = base
    for record in records:
        reason = problem(record, identifier)
        profile: dict[str, Any] = {"type": "profile", "attributes": profile_attributes(record.fields)}
        if profile_ids and record.key in profile_ids:
            profile["id"] = profile_ids[record.key]
        size = payload_size(profile)
        if reason is None and size > MAX_PROFILE_BYTES:
            reason = f"profile is {size:,} bytes; Klaviyo accepts at most {MAX_PROFILE_BYTES:,} per profile"
        if reason:
            rejected.results.append(RecordResult(record.key, ok=False, error=reason))
            continue
        added = size + (2 if current else 0)  # ", " between array items
        if current and (len(current) >= MAX_PROFILES or current_bytes + added > MAX_JOB_BYTES):
            jobs.append(current)
            current, current_bytes, added = [], base, size
        current.append((record, profile))
        current_bytes += added
    if current:
        jobs.append(current)
    return jobs, rejected


def normal(name: str, value: Any) -> str:
    """An identifier's value as Klaviyo compares it (emails lower-cased)."""
    text = str(value).strip()
    return text.lower() if name == "email" else text


def moved(record: Record, identifier: str) -> str | None:
    """The reference (`name:value`) a row was last confirmed with, when its identifier's value changed."""
    name, _, value = (record.destination_id or "").partition(":")
    current = record.fields.get(name) if name == identifier else None
    if value and current not in (None, "") and normal(name, current) != value:
        return record.destination_id
    return None


def by_identifier(
    rows: Sequence[tuple[Record, str]],
) -> tuple[dict[str, list[tuple[Record, str]]], list[Record]]:
    """Rows by identifier name with their value, from references `name:value`; and the rows without one."""
    by_name: dict[str, list[tuple[Record, str]]] = {}
    unknown: list[Record] = []
    for record, reference in rows:
        name, _, value = reference.partition(":")
        if name in IDENTIFIERS and value:
            by_name.setdefault(name, []).append((record, value))
        else:
            unknown.append(record)
    return by_name, unknown
