"""The overview page (GET /), the JSON status (GET /api/v1/status, and /api/status as before) and /healthz."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from reverse_etl.errors import CdpError
from reverse_etl.serve.health import probe
from reverse_etl.serve.page import status_document
from reverse_etl.web.context import context, json_response, render


async def overview(request: Request) -> Response:
    found = context(request)
    try:
        document = status_document(found.target, found.syncs, found.scheduler)
    except CdpError as error:
        return render(request, "error.html", status_code=503, message=str(error))
    return render(request, "overview.html", document=document)


async def status_api(request: Request) -> Response:
    found = context(request)
    try:
        document = status_document(found.target, found.syncs, found.scheduler)
    except CdpError as error:
        return json_response({"error": str(error)}, status_code=503)
    return json_response(document)


async def health(request: Request) -> Response:
    """200 ok, or 503 with one line; without a logged-in user (auth configured) it names the state only."""
    found = context(request)
    state, reason = probe(found.target)
    if state == "ok":
        return PlainTextResponse("ok")
    line = "warehouse busy" if state == "busy" else "warehouse unreadable"
    detailed = not found.auth.configured or request.scope.get("state", {}).get("user") is not None
    return PlainTextResponse(f"{line}: {reason}" if detailed else line, status_code=503)


routes = [
    Route("/", overview),
    Route("/api/v1/status", status_api),
    Route("/api/status", status_api),  # the path before versioning; scripts and the docs use it
    Route("/healthz", health),
]
