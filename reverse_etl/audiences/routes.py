"""The audience builder's JSON endpoints, as a Starlette Router the app mounts with one line:

    Mount("/api/v1/audiences", app=audience_router(root, warehouse, guard))

`root` and `warehouse` are functions of the request (the project folder, the warehouse previews run on).

GET fields; POST validate and preview (read-only); POST segments (save) and syncs (attach) change files in the
project and POST builds starts a build of a saved segment, so they go through `guard`, the app's check of role
and CSRF: it returns None to let the request through, or the refusal to send. Without a guard nothing is saved.
Building and what the app does after an attach come from `activation` (the app's side: its target, its
syncs); without it there is no build endpoint."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, Router

from reverse_etl.audiences.build import BuildRunning
from reverse_etl.audiences.definitions import load_project, render_rule
from reverse_etl.audiences.fields import available_fields
from reverse_etl.audiences.preview import preview
from reverse_etl.audiences.store import attach_sync, save_segment
from reverse_etl.errors import CdpError, ConfigError, WarehouseError
from reverse_etl.warehouse import Warehouse

Guard = Callable[[Request], Response | None]
Handler = Callable[[Request, dict[str, Any]], Any]


@dataclass
class Activation:
    """The app's part of building and attaching: start a build of a saved segment and read the last one
    (dicts for the page), the options a new sync to a destination gets when the request gives none (None:
    the destination's own defaults), and what to do once a sync is declared (make the app see it)."""

    start_build: Callable[[Request, str], dict[str, Any]]
    build_state: Callable[[Request], dict[str, Any] | None]
    default_options: Callable[[Request, str], dict[str, Any] | None]
    attached: Callable[[Request], None]


def _refuse_all(request: Request) -> Response | None:
    return JSONResponse({"error": "saving needs the app's operator login"}, status_code=403)


async def _body(request: Request) -> dict[str, Any]:
    try:
        document = json.loads(await request.body())
    except ValueError as error:
        raise ConfigError(f"the request body is not JSON: {error}") from error
    if not isinstance(document, dict):
        raise ConfigError("the request body must be a JSON object")
    return document


def _definition(document: dict[str, Any]) -> tuple[str, Any]:
    name = document.get("name") or "audience"
    if "definition" not in document:
        raise ConfigError("definition: missing (a segment definition: {rule: ...})")
    return str(name), document["definition"]


def audience_router(
    root: Callable[[Request], Path],
    warehouse: Callable[[Request], Warehouse],
    guard: Guard = _refuse_all,
    activation: Activation | None = None,
) -> Router:
    """Endpoints over the project root(request); previews run on warehouse(request). The work (rendering,
    the preview query, file writes) runs in the thread pool, off the event loop."""

    def handled(handler: Handler, guarded: bool = False) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            if guarded:
                refused = guard(request)
                if refused is not None:
                    return refused
            try:
                document = await _body(request) if request.method == "POST" else {}
                return JSONResponse(await run_in_threadpool(handler, request, document))
            except BuildRunning as error:
                return JSONResponse({"error": str(error)}, status_code=409)
            except ConfigError as error:
                return JSONResponse({"error": str(error)}, status_code=400)
            except WarehouseError as error:
                return JSONResponse({"error": str(error)}, status_code=503)
            except CdpError as error:
                return JSONResponse({"error": str(error)}, status_code=500)

        return endpoint

    def fields(request: Request, document: dict[str, Any]) -> Any:
        return available_fields(root(request))

    def validate(request: Request, document: dict[str, Any]) -> Any:
        name, definition = _definition(document)
        return {"where": render_rule(load_project(root(request)), name, definition)}

    def size(request: Request, document: dict[str, Any]) -> Any:
        name, definition = _definition(document)
        return preview(warehouse(request), root(request), definition, name)

    def save(request: Request, document: dict[str, Any]) -> Any:
        name, definition = _definition(document)
        return save_segment(root(request), name, definition, overwrite=document.get("overwrite") is True)

    def attach(request: Request, document: dict[str, Any]) -> Any:
        settings = {
            key: document[key] for key in ("mode", "fields", "options", "schedule") if key in document
        }
        for key in ("segment", "sync", "destination"):
            if not isinstance(document.get(key), str):
                raise ConfigError(f"{key}: missing")
        if activation is not None and "options" not in settings:
            defaults = activation.default_options(request, document["destination"])
            if defaults is not None:
                settings["options"] = defaults
        declared = attach_sync(
            root(request),
            document["segment"],
            document["sync"],
            document["destination"],
            overwrite=document.get("overwrite") is True,
            **settings,
        )
        if activation is not None:
            activation.attached(request)
        return declared

    def build(request: Request, document: dict[str, Any]) -> Any:
        if activation is None:
            raise ConfigError("building is not available here")
        return activation.start_build(request, str(document.get("segment", "")))

    def last_build(request: Request, document: dict[str, Any]) -> Any:
        return {"build": activation.build_state(request) if activation is not None else None}

    return Router(
        routes=[
            Route("/fields", handled(fields), methods=["GET"]),
            Route("/validate", handled(validate), methods=["POST"]),
            Route("/preview", handled(size), methods=["POST"]),
            Route("/segments", handled(save, guarded=True), methods=["POST"]),
            Route("/syncs", handled(attach, guarded=True), methods=["POST"]),
            Route("/builds", handled(build, guarded=True), methods=["POST"]),
            Route("/builds", handled(last_build), methods=["GET"]),
        ]
    )
