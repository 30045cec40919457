"""The audience builder: a page that edits a segment rule (nested groups, conditions) with a live size preview,
saves it as a declared segment file, builds it and attaches it to a destination as a declared sync. The page's
script (static/audience_builder.js) talks to the JSON endpoints of reverse_etl.audiences.routes, mounted here at
/api/v1/audiences; saving, building and attaching need the operator role and the session's CSRF token
(X-CSRF-Token).

The app reads its syncs from the dbt manifest: after a build it re-reads the manifest the build wrote, after an
attach it parses the project first, so a sync declared here is on the sync pages (and runs) at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from reverse_etl.audiences.build import SegmentBuilds
from reverse_etl.audiences.routes import Activation, audience_router
from reverse_etl.destinations import REGISTRY
from reverse_etl.project import project_dir
from reverse_etl.warehouse import Warehouse
from reverse_etl.web.context import context, render
from reverse_etl.web.gate import refusal

# Builds started from this process, by project folder (one at a time per project).
BUILDS = SegmentBuilds()


async def builder(request: Request) -> Response:
    return render(request, "audience_builder.html", destinations=sorted(REGISTRY))


def _root(request: Request) -> Path:
    return project_dir()


def _warehouse(request: Request) -> Warehouse:
    return Warehouse(context(request).target)


def _guard(request: Request) -> Response | None:
    return refusal(request, None)


def _start_build(request: Request, segment: str) -> dict[str, Any]:
    found, root = context(request), _root(request)
    state = BUILDS.start(
        root, found.target.name, segment, after=lambda: found.reload_syncs(root, "if-missing")
    )
    return {"build": state.as_dict()}


def _build_state(request: Request) -> dict[str, Any] | None:
    state = BUILDS.state(_root(request))
    return state.as_dict() if state is not None else None


# Options that say where a destination is and how to log in to it, copied to a sync attached without options.
# Anything else (a list, audience or account id, an id field) is never copied: two syncs writing into one
# list would each remove the other's members.
CONNECTION_OPTIONS = frozenset(
    {"url", "base_url", "instance_url", "rest_endpoint", "token_env", "api_key_env", "developer_token_env"}
)


def _default_options(request: Request, destination: str) -> dict[str, Any] | None:
    """The connection options of the project's first sync (by name) to that destination, so a new sync reaches
    the same endpoint with the same credentials (both usually ${ENV} references). None when there is none."""
    for _, sync in sorted(context(request).syncs.items()):
        if sync.destination == destination and sync.options:
            kept = {key: value for key, value in sync.options.items() if key in CONNECTION_OPTIONS}
            return kept or None
    return None


def _attached(request: Request) -> None:
    context(request).reload_syncs(_root(request), "if-changed")


ACTIVATION = Activation(_start_build, _build_state, _default_options, _attached)

routes = [
    Route("/audiences/new", builder),
    Mount("/api/v1/audiences", app=audience_router(_root, _warehouse, _guard, ACTIVATION)),
]
# The top-bar link of this area.
nav = ("Audience builder", "/audiences/new")
