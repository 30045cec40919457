"""Building a saved segment from the app: `dbt build --select seg_declared seg_<name>` (the declared segments'
table, then the segment's model and its tests) in-process, in a thread of its own, one build at a time per
project. Its state (running, passed, failed with dbt's one-line message) is kept for the page to poll.

The segment's membership history (segment_memberships) catches up at the next full `dbt build`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from reverse_etl.audiences.definitions import SAVED_FOLDER, saved_segment_file
from reverse_etl.audiences.store import _checked_name
from reverse_etl.dbt import run_dbt
from reverse_etl.errors import CdpError, ConfigError


class BuildRunning(ConfigError):
    """A build of this project is going already; the page shows it and waits."""


@dataclass
class BuildState:
    segment: str
    state: str  # running, passed or failed
    message: str = ""
    started: float = 0.0
    seconds: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def select_args(segment: str) -> list[str]:
    return ["build", "--quiet", "--select", "seg_declared", f"seg_{segment}"]


class SegmentBuilds:
    """The builds started from the app, by project folder. `after` runs once a build passed (the app re-reads
    its syncs from the manifest the build wrote); its error is reported like a failed build."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[Path, BuildState] = {}

    def state(self, root: Path) -> BuildState | None:
        with self._lock:
            return self._last.get(root.resolve())

    def start(
        self, root: Path, target: str, segment: str, after: Callable[[], object] = lambda: None
    ) -> BuildState:
        _checked_name(segment, "segment name")
        if not saved_segment_file(root, segment).exists():
            raise ConfigError(f"segment {segment} is not saved in {SAVED_FOLDER}; save it first")
        key = root.resolve()
        with self._lock:
            going = self._last.get(key)
            if going is not None and going.state == "running":
                raise BuildRunning(f"a build of segment {going.segment} is running; wait for it to finish")
            started = BuildState(
                segment, "running", "dbt build " + " ".join(select_args(segment)[3:]), time.time()
            )
            self._last[key] = started

        def work() -> None:
            began = time.monotonic()
            try:
                result = run_dbt(select_args(segment), target=target, root=root)
                after()
                finished = BuildState(
                    segment, "passed", f"{len(result.results)} nodes passed", started.started
                )
            except CdpError as error:
                finished = BuildState(segment, "failed", str(error), started.started)
            except Exception as error:  # noqa: BLE001 - a thread's last resort: shown on the page, not lost
                finished = BuildState(
                    segment, "failed", f"unexpected {type(error).__name__}: {error}", started.started
                )
            finished.seconds = round(time.monotonic() - began, 1)
            with self._lock:
                self._last[key] = finished

        threading.Thread(target=work, name=f"build-seg_{segment}", daemon=True).start()
        return started
