"""Building a saved segment and attaching it from the app: the build endpoint (guarded, one build at a time,
a failed build as one line) and the options a sync attached from the page gets."""

from __future__ import annotations

import time
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount
from starlette.testclient import TestClient
from test_audiences import project_copy

from reverse_etl.audiences.routes import audience_router
from reverse_etl.dbt import _INVOKING as dbt_invocation  # noqa: PLC2701 - the process's one dbt at a time


def test_a_build_is_guarded_one_at_a_time_and_its_failure_is_one_clear_line(tmp_path: Path) -> None:
    """The build endpoint over a real SegmentBuilds: refused without the guard, an unsaved segment named, a
    second start while one runs is 409, and a dbt failure (this copy has no profiles.yml) ends as a failed
    build with dbt's message, never a traceback."""
    from reverse_etl.audiences.build import SegmentBuilds
    from reverse_etl.audiences.routes import Activation

    root = project_copy(tmp_path)
    builds = SegmentBuilds()
    activation = Activation(
        start_build=lambda request, segment: {"build": builds.start(root, "duckdb", segment).as_dict()},
        build_state=lambda request: (lambda state: state.as_dict() if state else None)(builds.state(root)),
        default_options=lambda request, destination: None,
        attached=lambda request: None,
    )

    def app(operator: bool) -> TestClient:
        def guard(request: Request) -> Response | None:
            return None if operator else JSONResponse({"error": "operators only"}, status_code=403)

        router = audience_router(lambda request: root, lambda request: None, guard, activation)
        return TestClient(Starlette(routes=[Mount("/api/v1/audiences", app=router)]))

    viewer, operator = app(False), app(True)
    assert viewer.post("/api/v1/audiences/builds", json={"segment": "engaged_shoppers"}).status_code == 403
    unsaved = operator.post("/api/v1/audiences/builds", json={"segment": "nobody_saved_this"})
    assert unsaved.status_code == 400 and "segment nobody_saved_this is not saved" in unsaved.json()["error"]
    # Another dbt invocation of this process holds the build at its start, so it is surely running when the
    # second start arrives (this copy's build fails within a second once it may go).
    with dbt_invocation:
        started = operator.post("/api/v1/audiences/builds", json={"segment": "engaged_shoppers"})
        assert started.status_code == 200 and started.json()["build"]["state"] == "running"
        again = operator.post("/api/v1/audiences/builds", json={"segment": "engaged_shoppers"})
    assert again.status_code == 409 and "seg_declared" not in again.json()["error"]
    assert "a build of segment engaged_shoppers is running" in again.json()["error"]
    deadline = time.monotonic() + 120
    while (state := viewer.get("/api/v1/audiences/builds").json()["build"])["state"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert state["state"] == "failed" and state["message"].startswith("dbt build failed: ")
    assert "Traceback" not in state["message"] and "\n" not in state["message"]


def test_a_sync_attached_from_the_page_copies_connection_options_never_a_list_id() -> None:
    from types import SimpleNamespace

    from reverse_etl.destinations.base import Mode
    from reverse_etl.sync.config import Relation, SyncConfig
    from reverse_etl.web.pages.audiences import ACTIVATION

    def sync(name: str, destination: str, options: dict) -> SyncConfig:
        relation = Relation(None, "activation", name)
        return SyncConfig(name, name, relation, destination, Mode.UPSERT, "customer_id", options=options)

    syncs = {
        "b_to_mailchimp": sync("b_to_mailchimp", "mailchimp", {"list_id": "other"}),
        "a_to_mailchimp": sync(
            "a_to_mailchimp",
            "mailchimp",
            {"base_url": "${CDP_MAILCHIMP_BASE_URL}", "api_key_env": "CDP_MAILCHIMP_API_KEY", "list_id": "x"},
        ),
    }
    request = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(cdp=SimpleNamespace(syncs=syncs))))
    assert ACTIVATION.default_options(request, "mailchimp") == {
        "base_url": "${CDP_MAILCHIMP_BASE_URL}",
        "api_key_env": "CDP_MAILCHIMP_API_KEY",
    }
    assert ACTIVATION.default_options(request, "webhook") is None
