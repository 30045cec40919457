"""Sync pages: the list with each next run, one sync's runs, its rejected rows (paged, searchable) and the
requests of its last run (secrets masked); POST actions "run now" and "retry rejects" for operators."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from croniter import croniter
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from reverse_etl.errors import CdpError
from reverse_etl.secrets import redact_all
from reverse_etl.serve.schedule import AFTER_DBT
from reverse_etl.sync.recording import last_requests
from reverse_etl.warehouse import utc_now
from reverse_etl.web.context import WebContext, context, json_response, render
from reverse_etl.web.gate import refusal
from reverse_etl.web.reads import reject_page, run_history

PAGE_SIZE = 25


def next_run(schedule: str | None, now: dt.datetime) -> str:
    if not schedule:
        return "manual only"
    if schedule == AFTER_DBT:
        return "after the next dbt build"
    return str(croniter(schedule.strip(), now).get_next(dt.datetime))


def _runs(found: WebContext, name: str, limit: int) -> list[dict[str, Any]]:
    return redact_all(run_history(found.target, name, limit))


async def sync_list(request: Request) -> Response:
    found = context(request)
    now = utc_now()
    rows = [
        {
            "name": name,
            "sync": sync,
            "next_run": next_run(sync.schedule, now),
            "running": name in found.running,
        }
        for name, sync in sorted(found.syncs.items())
    ]
    return render(request, "syncs.html", rows=rows)


def _sync(request: Request) -> tuple[WebContext, str] | Response:
    found = context(request)
    name = request.path_params["name"]
    if name not in found.syncs:
        return render(request, "error.html", status_code=404, message=f"no sync named '{name}'")
    return found, name


async def sync_detail(request: Request) -> Response:
    picked = _sync(request)
    if isinstance(picked, Response):
        return picked
    found, name = picked
    search = request.query_params.get("q", "")
    try:
        page = max(int(request.query_params.get("page", "1")), 1)
    except ValueError:
        page = 1
    try:
        runs = _runs(found, name, limit=50)
        rejects, total = reject_page(found.target, name, search, (page - 1) * PAGE_SIZE, PAGE_SIZE)
    except CdpError as error:
        return render(request, "error.html", status_code=503, message=str(error))
    return render(
        request,
        "sync.html",
        name=name,
        sync=found.syncs[name],
        next_run=next_run(found.syncs[name].schedule, utc_now()),
        running=name in found.running,
        refused_start=request.query_params.get("started") == "0",
        runs=runs,
        rejects=redact_all(rejects),
        total_rejects=total,
        search=search,
        page=page,
        pages=max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
        requests=last_requests(name),
    )


def _start(found: WebContext, name: str, only_rejected: bool) -> bool:
    """Start the run in a thread of its own (the page answers at once); False if one is going already."""
    if name in found.running and found.running[name].is_alive():
        return False

    def work() -> None:
        try:
            found.scheduler.run_one(name, only_rejected=only_rejected)
        finally:
            found.running.pop(name, None)

    thread = threading.Thread(target=work, name=f"run-{name}", daemon=True)
    found.running[name] = thread
    thread.start()
    return True


async def _action(request: Request, only_rejected: bool, api: bool) -> Response:
    picked = _sync(request)
    if isinstance(picked, Response):
        return picked
    found, name = picked
    form = await request.form()
    refused = refusal(request, str(form.get("csrf_token", "")) or None)
    if refused is not None:
        return refused
    started = _start(found, name, only_rejected)
    if api:
        return JSONResponse({"sync": name, "started": started}, status_code=202 if started else 409)
    return RedirectResponse(f"/syncs/{name}?started={int(started)}", status_code=303)


async def run_now(request: Request) -> Response:
    return await _action(request, only_rejected=False, api=False)


async def retry_rejects(request: Request) -> Response:
    return await _action(request, only_rejected=True, api=False)


async def api_run(request: Request) -> Response:
    return await _action(request, only_rejected=request.query_params.get("only_rejected") == "true", api=True)


async def api_runs(request: Request) -> Response:
    picked = _sync(request)
    if isinstance(picked, Response):
        return JSONResponse({"error": f"no sync named '{request.path_params['name']}'"}, status_code=404)
    found, name = picked
    # Asked before the runs are read: a run that ends in between is then "running" with its final row, never
    # "not running" with a row still saying running.
    running = name in found.running
    try:
        runs = _runs(found, name, limit=50)
    except CdpError as error:
        return JSONResponse({"error": str(error)}, status_code=503)
    return json_response({"sync": name, "running": running, "runs": runs})


routes = [
    Route("/syncs", sync_list),
    Route("/syncs/{name}", sync_detail),
    Route("/syncs/{name}/run", run_now, methods=["POST"]),
    Route("/syncs/{name}/retry", retry_rejects, methods=["POST"]),
    Route("/api/v1/syncs/{name}/runs", api_runs),
    Route("/api/v1/syncs/{name}/run", api_run, methods=["POST"]),
]
nav = ("Syncs", "/syncs")
