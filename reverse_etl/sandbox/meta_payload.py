"""What the Meta fake accepts in a users edge body: a `payload` (object or JSON string) with a single-key
(EMAIL_SHA256, PHONE_SHA256) or multi-key schema and 1..10,000 data rows; and, per row, the check of each value
(hashed keys as lower-case SHA-256 hex) that makes the row's EMAIL and PHONE hashes members or counts it as an
invalid entry, with samples of what was wrong."""

from __future__ import annotations

import json
import re
from typing import Any

from reverse_etl.sandbox.meta_errors import graph_error
from reverse_etl.sandbox.server import Faults, Request

MAX_ROWS = 10_000
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
MULTI_KEYS = {
    "EXTERN_ID",
    "EMAIL",
    "PHONE",
    "GEN",
    "DOBY",
    "DOBM",
    "DOBD",
    "LN",
    "FN",
    "FI",
    "CT",
    "ST",
    "ZIP",
}
MULTI_KEYS |= {"MADID", "COUNTRY"}
SINGLE_SCHEMAS = {"EMAIL_SHA256": "EMAIL", "PHONE_SHA256": "PHONE"}
MATCH_KEYS = {"EMAIL", "PHONE"}
# Keys sent as they are (not hashed).
PLAIN_KEYS = {"EXTERN_ID", "MADID"}
SAMPLE_LIMIT = 100


def member_id(digest: str) -> int:
    """The stored form of an identifier hash: its first 64 bits."""
    return int(digest[:16], 16)


def parse_payload(request: Request) -> tuple[list[str], list[Any], dict[str, Any]]:
    body = request.json()
    if not isinstance(body, dict):
        raise graph_error(400, "(#100) The parameter payload is required", 100)
    payload = body.get("payload")
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except ValueError as error:
            raise graph_error(400, f"(#100) param payload must be JSON: {error}", 100) from error
    if not isinstance(payload, dict):
        raise graph_error(400, "(#100) The parameter payload is required", 100)
    schema = payload.get("schema")
    if isinstance(schema, str):
        if schema not in SINGLE_SCHEMAS:
            raise graph_error(400, f"(#100) Invalid schema: {schema}", 100)
        keys = [SINGLE_SCHEMAS[schema]]
    elif isinstance(schema, list) and schema and all(key in MULTI_KEYS for key in schema):
        if len(set(schema)) != len(schema):
            raise graph_error(400, "(#100) Each key may appear once in the schema", 100)
        keys = list(schema)
    else:
        raise graph_error(400, f"(#100) Invalid schema: {schema!r}", 100)
    data = payload.get("data")
    if not isinstance(data, list) or not data:
        raise graph_error(400, "(#100) The parameter data is required and must be a non-empty array", 100)
    if len(data) > MAX_ROWS:
        raise graph_error(
            400,
            f"(#100) Too many users in the payload: {len(data):,}; at most {MAX_ROWS:,} per request",
            100,
        )
    return keys, data, body


def payload_rows(keys: list[str], data: list[Any], faults: Faults) -> tuple[list[int], int, dict[str, str]]:
    """The member ids of the valid rows, how many rows were invalid, and samples {value: reason}."""
    found: list[int] = []
    invalid = 0
    samples: dict[str, str] = {}
    for row in data:
        values = [row] if len(keys) == 1 and isinstance(row, str) else row
        problem: str | None = None
        shown = ""
        ids: list[int] = []
        if not isinstance(values, list) or len(values) != len(keys):
            problem, shown = (
                f"a row must have {len(keys)} values, one per schema key",
                json.dumps(row)[:80],
            )
        else:
            for key, value in zip(keys, values, strict=True):
                if value == "":
                    continue
                if key not in PLAIN_KEYS and not (isinstance(value, str) and SHA256_HEX.match(value)):
                    problem, shown = f"{key} is not a lower-case SHA-256 hex digest", str(value)
                    break
                if key in MATCH_KEYS:
                    if faults.reject_record(value):
                        problem, shown = f"{key} could not be processed", value
                        break
                    ids.append(member_id(value))
            if problem is None and not ids:
                problem, shown = "no EMAIL or PHONE to match on", json.dumps(row)[:80]
        if problem is not None:
            invalid += 1
            if len(samples) < SAMPLE_LIMIT:
                samples[shown] = problem
            continue
        found.extend(ids)
    return found, invalid, samples
