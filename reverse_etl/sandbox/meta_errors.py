"""The Graph API's error answer as the Meta fake gives it."""

from __future__ import annotations

import uuid
from typing import Any

from reverse_etl.sandbox.server import HttpError


def graph_error(
    status: int,
    message: str,
    code: int,
    error_type: str = "OAuthException",
    subcode: int | None = None,
    transient: bool = False,
    headers: dict[str, str] | None = None,
) -> HttpError:
    """A Graph API error body: {"error": {message, type, code, [error_subcode], is_transient, fbtrace_id}}."""
    error: dict[str, Any] = {"message": message, "type": error_type, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    error["is_transient"] = transient
    error["fbtrace_id"] = uuid.uuid4().hex[:11]
    return HttpError(status, {"error": error}, headers)
