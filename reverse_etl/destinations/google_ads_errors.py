"""Google Ads' error answers read back: the one-line reason of a refused request (from Google's JSON error
body, with every GoogleAdsFailure code) and, for a partial failure, the reason of each failing operation by its
index, with whether it is worth retrying unchanged."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from reverse_etl.errors import DestinationError, RetryableDestinationError

RETRYABLE_CODES = {"internalError", "databaseError", "quotaError"}


def google_error(error: DestinationError) -> tuple[str, bool]:
    """A one-line reason from Google's JSON error body, and whether it is worth retrying unchanged."""
    try:
        body = json.loads(error.body or "")["error"]
    except (ValueError, KeyError, TypeError):
        return error.http_summary(), isinstance(error, RetryableDestinationError)
    codes = []
    for detail in body.get("details") or []:
        for failure in detail.get("errors") or []:
            for kind, code in (failure.get("errorCode") or {}).items():
                codes.append(f"{kind}.{code}: {failure.get('message', '')}")
    reason = f"HTTP {body.get('code', error.status)} {body.get('status', '')}: " + (
        "; ".join(codes) or str(body.get("message", ""))
    )
    return reason[:500], isinstance(error, RetryableDestinationError)


def partial_failures(body: Mapping[str, Any]) -> dict[int, tuple[str, bool]]:
    """Operation index -> (reason, retryable) from partialFailureError's GoogleAdsFailure details."""
    failures: dict[int, tuple[str, bool]] = {}
    status = body.get("partialFailureError") or {}
    for detail in status.get("details") or []:
        for error in detail.get("errors") or []:
            path = (error.get("location") or {}).get("fieldPathElements") or []
            if not path or path[0].get("fieldName") != "operations" or "index" not in path[0]:
                continue
            index = int(path[0]["index"])
            codes = error.get("errorCode") or {}
            code = ", ".join(f"{kind}.{value}" for kind, value in codes.items())
            where = ".".join(
                f"{element.get('fieldName')}[{element['index']}]"
                if "index" in element
                else str(element.get("fieldName"))
                for element in path[1:]
            )
            reason = f"{code}: {error.get('message', '')}" + (f" (at {where})" if where else "")
            previous = failures.get(index)
            retryable = bool(set(codes) & RETRYABLE_CODES) and (previous is None or previous[1])
            failures[index] = ((f"{previous[0]}; " if previous else "") + reason, retryable)
    return failures
