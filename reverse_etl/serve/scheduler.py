"""The scheduler of `cdp serve`: runs the dbt build and the syncs when their schedules say so.

A warehouse that cannot be opened (on DuckDB, usually another process holding the file, such as a BI tool) puts
the scheduler in a visible "busy" state: it retries with backoff and loses no run, because nothing due is
marked done until it ran. The loop never dies on a warehouse error."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reverse_etl.alerts import Alerts
from reverse_etl.dbt import production_build_args, run_dbt
from reverse_etl.errors import CdpError, ConfigError, WarehouseError
from reverse_etl.project import Target
from reverse_etl.publish import publish
from reverse_etl.secrets import redact_text
from reverse_etl.serve.health import busy_reason, one_line
from reverse_etl.serve.schedule import AFTER_DBT, is_due, schedule_errors, validate_dbt_schedule
from reverse_etl.sync import state
from reverse_etl.sync.config import SyncConfig
from reverse_etl.sync.runner import run_sync
from reverse_etl.sync.service import last_started
from reverse_etl.warehouse import Warehouse, utc_now

DBT_BUILD = "dbt build"


@dataclass
class WarehouseState:
    """What the scheduler last found: ok, busy (lock held elsewhere) or unavailable (any other failure)."""

    state: str = "unchecked"
    reason: str = ""
    since: dt.datetime | None = None
    attempts: int = 0
    next_attempt: dt.datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "reason": self.reason,
            "since": str(self.since) if self.since else None,
            "attempts": self.attempts,
            "next_attempt": str(self.next_attempt) if self.next_attempt else None,
        }


@dataclass
class Scheduler:
    target: Target
    syncs: dict[str, SyncConfig]
    dbt_schedule: str | None = None
    clock: Callable[[], dt.datetime] = utc_now
    stop: threading.Event = field(default_factory=threading.Event)
    log: list[str] = field(default_factory=list)
    last_dbt_build: dt.datetime | None = None
    # Publish the BI copy of the marts after each successful dbt build (DuckDB only; reverse_etl.publish).
    publish_after_build: bool = True
    # First retry of an unavailable warehouse after this many seconds, doubling up to the check interval.
    first_retry: float = 1.0
    warehouse: WarehouseState = field(default_factory=WarehouseState)
    # after_dbt syncs owed a run by a dbt build that passed; each leaves the set only once it ran.
    owed_after_dbt: set[str] = field(default_factory=set)
    # When each sync last started, as last read: what is waiting can be shown while the warehouse is busy.
    seen_started: dict[str, dt.datetime | None] = field(default_factory=dict)
    # Run start/end lines on stdout, and the webhook for failures, refusals and too many rejects.
    alerts: Alerts = field(default_factory=Alerts)
    _guard: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        problems = schedule_errors(self.syncs)
        if problems:
            raise ConfigError("; ".join(str(error) for error in problems.values()))
        validate_dbt_schedule(self.dbt_schedule)

    def _note(self, now: dt.datetime, line: str) -> None:
        with self._guard:
            self.log.append(f"{now:%Y-%m-%d %H:%M:%S} {redact_text(line)}")
            del self.log[:-200]

    def _unavailable(self, now: dt.datetime, error: CdpError) -> None:
        reason = busy_reason(error)
        kind, line = ("busy", reason) if reason else ("unavailable", one_line(error))
        with self._guard:
            entering = self.warehouse.state != kind
            if entering:
                self.warehouse = WarehouseState(kind, line, since=now)
            self.warehouse.reason = line
            self.warehouse.attempts += 1
        if entering:
            waiting = ", ".join(self.waiting(now)) or "nothing due yet"
            self._note(now, f"warehouse {kind}: {line}; retrying with backoff (waiting: {waiting})")

    def _available(self, now: dt.datetime) -> None:
        with self._guard:
            previous = self.warehouse
            self.warehouse = WarehouseState("ok", since=now)
        if previous.state in {"busy", "unavailable"} and previous.since is not None:
            seconds = (now - previous.since).total_seconds()
            self._note(
                now, f"warehouse available again after {seconds:.0f}s ({previous.state}); running what is due"
            )

    def retry_delay(self, interval: float) -> float:
        """Seconds until the next check: the interval, or less while the warehouse is busy or unavailable."""
        with self._guard:
            if self.warehouse.state not in {"busy", "unavailable"}:
                return interval
            delay = min(self.first_retry * 2 ** max(self.warehouse.attempts - 1, 0), interval)
            self.warehouse.next_attempt = self.clock() + dt.timedelta(seconds=delay)
            return delay

    def _dbt_due(self, now: dt.datetime) -> bool:
        return bool(self.dbt_schedule) and is_due(str(self.dbt_schedule), self.last_dbt_build, now)

    def _sync_due(self, name: str, sync: SyncConfig, now: dt.datetime) -> bool:
        if not sync.schedule:
            return False
        if sync.schedule == AFTER_DBT:
            return name in self.owed_after_dbt
        return is_due(sync.schedule, self.seen_started.get(name), now)

    def waiting(self, now: dt.datetime) -> list[str]:
        """What is due and has not run (as of the last read of the warehouse)."""
        due = [DBT_BUILD] if self._dbt_due(now) else []
        return due + [name for name, sync in sorted(self.syncs.items()) if self._sync_due(name, sync, now)]

    def status(self) -> dict[str, Any]:
        now = self.clock()
        with self._guard:
            document = self.warehouse.as_dict()
            log = list(self.log[-20:])
        document["waiting"] = self.waiting(now)
        return {"warehouse_state": document, "log": log}

    def tick(self) -> list[str]:
        """Run what is due now: the dbt build (then the after_dbt syncs), then cron syncs. Returns what ran."""
        ran: list[str] = []
        now = self.clock()
        warehouse = Warehouse(self.target)
        try:
            try:
                # The first statement opens the file: a held lock shows here. Reads only: the state is
                # created by the first run, not by a scheduler with nothing due.
                state.exists(warehouse)
                for name in self.syncs:
                    self.seen_started[name] = last_started(warehouse, name)
            except WarehouseError as error:
                self._unavailable(now, error)
                return ran
            self._available(now)
            if self._dbt_due(now) and not self._build(warehouse, now, ran):
                return ran
            for name, sync in sorted(self.syncs.items()):
                if self.stop.is_set():
                    break
                if not self._sync_due(name, sync, now):
                    continue
                try:
                    self._note(now, self._observed(warehouse, name, "schedule"))
                except WarehouseError as error:
                    self._unavailable(now, error)
                    break  # still due: it runs once the warehouse is free
                self.owed_after_dbt.discard(name)
                self.seen_started[name] = now
                ran.append(name)
        finally:
            warehouse.close()
        return ran

    def _observed(self, warehouse: Warehouse, name: str, trigger: str, only_rejected: bool = False) -> str:
        """One run between its JSON start and end lines, with alerts; a busy warehouse is raised (run later)."""
        sync = self.syncs[name]
        return self.alerts.observe(
            name,
            trigger,
            lambda: run_sync(warehouse, sync, only_rejected=only_rejected, should_stop=self.stop.is_set),
            postpone=lambda error: isinstance(error, WarehouseError) and busy_reason(error) is not None,
        )

    def run_one(self, name: str, only_rejected: bool = False) -> str:
        """ "Run now" / "retry rejects" from the app: one run at once, whatever the schedule says."""
        now = self.clock()
        warehouse = Warehouse(self.target)
        try:
            line = self._observed(
                warehouse, name, "retry rejects" if only_rejected else "run now", only_rejected
            )
        except WarehouseError as error:
            line = f"{name}: not run, {error}"
        finally:
            warehouse.close()
        self._note(now, line)
        return line

    def _build(self, warehouse: Warehouse, now: dt.datetime, ran: list[str]) -> bool:
        """The scheduled dbt build, then the BI copy. False when the warehouse was busy (the build stays due)."""
        try:
            self.alerts.build(
                "schedule",
                lambda: run_dbt(production_build_args(), target=self.target.name),
                postpone=lambda error: busy_reason(error) is not None,
            )
        except CdpError as error:
            if busy_reason(error):
                self._unavailable(now, error)
                return False
            self.last_dbt_build = now
            self._note(now, f"dbt build failed, syncs after it skipped: {error}")
            return True
        self.last_dbt_build = now
        self.owed_after_dbt |= {name for name, sync in self.syncs.items() if sync.schedule == AFTER_DBT}
        ran.append(DBT_BUILD)
        if self.publish_after_build:
            try:
                published = publish(warehouse)
                if published is not None:
                    self._note(now, published.describe())
            except CdpError as error:
                self._note(now, f"publishing the BI copy failed: {error}")
        return True

    def run_forever(self, interval: float = 30.0, before_tick: Callable[[], object] | None = None) -> None:
        while not self.stop.is_set():
            try:
                if before_tick is not None:
                    before_tick()
                self.tick()
            except CdpError as error:
                self._unavailable(self.clock(), error)
            self.stop.wait(self.retry_delay(interval))
