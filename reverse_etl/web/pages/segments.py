"""Segment pages: every segment with its size, and per segment its size over time (from the membership
history), entries and exits per build, and the traits where it differs most from the whole base."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from reverse_etl.errors import CdpError
from reverse_etl.web.charts import line_chart
from reverse_etl.web.context import context, render
from reverse_etl.web.reads import segment_builds, segment_names, trait_comparison


async def segment_list(request: Request) -> Response:
    try:
        segments = segment_names(context(request).target)
    except CdpError as error:
        return render(request, "error.html", status_code=503, message=f"segments not built yet: {error}")
    return render(request, "segments.html", segments=segments)


async def segment_detail(request: Request) -> Response:
    target = context(request).target
    name = request.path_params["name"]
    try:
        builds = segment_builds(target, name)
        traits = trait_comparison(target, name) if builds else []
    except CdpError as error:
        return render(request, "error.html", status_code=503, message=str(error))
    if not builds:
        return render(request, "error.html", status_code=404, message=f"no segment named '{name}' was built")
    chart = line_chart([(f"{changed_at:%Y-%m-%d %H:%M}", size) for changed_at, _, _, size in builds])
    return render(request, "segment.html", name=name, builds=builds, chart=chart, traits=traits)


routes = [Route("/segments", segment_list), Route("/segments/{name}", segment_detail)]
nav = ("Segments", "/segments")
