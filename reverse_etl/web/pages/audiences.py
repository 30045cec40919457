"""The audience builder: a page that edits a segment rule (nested groups, conditions) with a live size preview,
saves it as a declared segment file and attaches it to a destination as a declared sync. The page's script
(static/audience_builder.js) talks to the JSON endpoints of reverse_etl.audiences.routes, mounted here at
/api/v1/audiences; saving and attaching need the operator role and the session's CSRF token (X-CSRF-Token)."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from reverse_etl.audiences.routes import audience_router
from reverse_etl.destinations import REGISTRY
from reverse_etl.project import project_dir
from reverse_etl.warehouse import Warehouse
from reverse_etl.web.context import context, render
from reverse_etl.web.gate import refusal


async def builder(request: Request) -> Response:
    return render(request, "audience_builder.html", destinations=sorted(REGISTRY))


def _root(request: Request) -> Path:
    return project_dir()


def _warehouse(request: Request) -> Warehouse:
    return Warehouse(context(request).target)


def _guard(request: Request) -> Response | None:
    return refusal(request, None)


routes = [
    Route("/audiences/new", builder),
    Mount("/api/v1/audiences", app=audience_router(_root, _warehouse, _guard)),
]
# The top-bar link of this area.
nav = ("Audience builder", "/audiences/new")
