"""The debugger of a sync's last run: the first requests it sent, as the HTTP layer sent them, with every
secret masked (HttpRequest.describe). Bounded: FIRST_REQUESTS requests of BODY_LIMIT characters, one file per
sync holding its last run only, under target/run_requests/ (or CDP_RUN_REQUESTS_DIR); nothing of it goes
to the warehouse."""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reverse_etl.secrets import redact_text

if TYPE_CHECKING:
    from reverse_etl.http import HttpRequest

FIRST_REQUESTS = 3
BODY_LIMIT = 8000
DIRECTORY_ENV = "CDP_RUN_REQUESTS_DIR"


class Recorder:
    def __init__(self, sync_name: str, run_id: str, limit: int = FIRST_REQUESTS) -> None:
        self.sync_name = sync_name
        self.run_id = run_id
        self.limit = limit
        self.requests: list[str] = []
        self._lock = threading.Lock()

    def note(self, request: HttpRequest) -> None:
        with self._lock:
            if len(self.requests) >= self.limit:
                return
            text = redact_text(request.describe())
            if len(text) > BODY_LIMIT:
                text = text[:BODY_LIMIT] + f"\n... ({len(text) - BODY_LIMIT:,} more characters)"
            self.requests.append(text)


_current: contextvars.ContextVar[Recorder | None] = contextvars.ContextVar("cdp_recorder", default=None)


def note_request(request: HttpRequest) -> None:
    """Called by the HTTP layer for each request it sends; kept only while a run records."""
    recorder = _current.get()
    if recorder is not None:
        recorder.note(request)


def directory() -> Path:
    from reverse_etl.project import target_dir

    configured = os.environ.get(DIRECTORY_ENV)
    return Path(configured) if configured else target_dir() / "run_requests"


def _path(sync_name: str) -> Path:
    return directory() / f"{sync_name}.json"


@contextlib.contextmanager
def recording(sync_name: str, run_id: str) -> Iterator[Recorder]:
    """Record this run's first requests (threads started with a copy of this context record too); the file is
    replaced when the run sent anything, and a write failure never fails the run."""
    recorder = Recorder(sync_name, run_id)
    token = _current.set(recorder)
    try:
        yield recorder
    finally:
        _current.reset(token)
        if recorder.requests:
            with contextlib.suppress(OSError):
                path = _path(sync_name)
                path.parent.mkdir(parents=True, exist_ok=True)
                temporary = path.with_suffix(".tmp")
                temporary.write_text(json.dumps({"run_id": run_id, "requests": recorder.requests}))
                temporary.replace(path)


def last_requests(sync_name: str) -> dict[str, Any] | None:
    try:
        document = json.loads(_path(sync_name).read_text())
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None
