"""Google Ads' error answers as the fake gives them: the JSON error body (code, status, message) with a
GoogleAdsFailure in its details, one GoogleAdsError (errorCode, message, field path), and the refusal of a
body that does not fit the API's proto, which comes before any GoogleAdsFailure."""

from __future__ import annotations

import uuid
from typing import Any

from reverse_etl.sandbox.server import HttpError


def google_error(
    status: int, code: str, message: str, errors: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Google's JSON error body: error.code / status / message, and a GoogleAdsFailure in details."""
    body: dict[str, Any] = {"code": status, "message": message, "status": code}
    if errors is not None:
        body["details"] = [failure_detail(errors)]
    return {"error": body}


def failure_detail(errors: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "@type": "type.googleapis.com/google.ads.googleads.v26.errors.GoogleAdsFailure",
        "errors": errors,
        "requestId": uuid.uuid4().hex[:22],
    }


def ads_error(kind: str, code: str, message: str, path: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"errorCode": {kind: code}, "message": message}
    if path:
        error["location"] = {"fieldPathElements": path}
    return error


def invalid_argument(errors: list[dict[str, Any]]) -> HttpError:
    return HttpError(
        400, google_error(400, "INVALID_ARGUMENT", "Request contains an invalid argument.", errors)
    )


def bad_json(field_path: str, description: str) -> HttpError:
    """How Google's JSON front end refuses a body that does not fit the proto (before any GoogleAdsFailure)."""
    return HttpError(
        400,
        {
            "error": {
                "code": 400,
                "message": f"Invalid JSON payload received. {description}",
                "status": "INVALID_ARGUMENT",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.rpc.BadRequest",
                        "fieldViolations": [{"field": field_path, "description": description}],
                    }
                ],
            }
        },
    )
