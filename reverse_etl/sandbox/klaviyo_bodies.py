"""Klaviyo's answer shapes as the fake gives them: JSON:API error bodies and cursor-paginated collections
(`page[size]` 1..100, `links.next` carrying `page[cursor]`)."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from reverse_etl.sandbox.server import HttpError, Request, Response

JSON_API = "application/vnd.api+json"
MAX_PAGE_SIZE = 100


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


def page(request: Request, items: list[dict[str, Any]]) -> Response:
    """The page of `items` the request's `page[size]` and `page[cursor]` ask for, with its links."""
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
