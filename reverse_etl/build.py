"""`cdp build`: one dbt build, the BI copy, then every sync that is due, each outcome reported as it happens
and each run with its JSON start and end lines and its alert (reverse_etl.alerts).

Every schedule is checked before any sync runs; a sync whose schedule is unusable is reported and skipped, the
others still run, and the command fails at the end with the worst error's exit code."""

from __future__ import annotations

import functools
from collections.abc import Callable

from reverse_etl.alerts import Alerts, AlertSettings
from reverse_etl.dbt import DbtResult, run_dbt
from reverse_etl.errors import CdpError, WarehouseError
from reverse_etl.project import Target
from reverse_etl.publish import publish
from reverse_etl.serve.health import busy_error, busy_reason
from reverse_etl.serve.schedule import AFTER_DBT, is_due, schedule_errors
from reverse_etl.sync.runner import run_sync
from reverse_etl.sync.service import last_started, project_syncs
from reverse_etl.sync.state import ensure_state
from reverse_etl.warehouse import Warehouse, utc_now


def build_and_sync(
    target: Target,
    allow_mass_change: bool,
    say: Callable[[str], None],
    warn: Callable[[str], None],
    alerts: Alerts | None = None,
) -> None:
    """`alerts` writes the run events and sends the alerts (reverse_etl.alerts); by default from the
    environment, with the JSON lines on stderr."""
    alerts = alerts or Alerts(AlertSettings.from_environment(), to_stderr=True)
    warehouse = Warehouse(target)

    def dbt_build() -> DbtResult:
        try:
            ensure_state(
                warehouse
            )  # opens the warehouse first: a file held by another process is named plainly
        except WarehouseError as error:
            raise busy_error(target, error) from error
        warehouse.close()  # dbt opens the file itself
        try:
            return run_dbt(["build", "--quiet"], target=target.name)
        except CdpError as error:
            if busy_reason(error):
                raise busy_error(target, WarehouseError(str(error))) from error
            raise

    try:
        result = alerts.build("cdp build", dbt_build)
        say(f"dbt build: {len(result.results)} nodes passed")
        failures: list[CdpError] = []
        try:
            published = publish(warehouse)
            if published is not None:
                say(published.describe())
        except CdpError as error:
            warn(f"publish: {error}")
            failures.append(error)
        syncs = project_syncs(target, reparse=False)
        bad_schedules = schedule_errors(syncs)
        for problem in bad_schedules.values():
            warn(f"error: {problem}")
        failures.extend(bad_schedules.values())
        now = utc_now()
        for name, declared in sorted(syncs.items()):
            if name in bad_schedules:
                say(f"{name}: skipped (its schedule is unusable)")
                continue
            schedule = declared.schedule
            if (
                schedule
                and schedule != AFTER_DBT
                and not is_due(schedule, last_started(warehouse, name), now)
            ):
                say(f"{name}: not due ({schedule})")
                continue
            try:
                summary = alerts.observed(
                    name,
                    "cdp build",
                    functools.partial(run_sync, warehouse, declared, allow_mass_change=allow_mass_change),
                )
                say(summary.describe())
            except CdpError as error:
                warn(f"{name}: {error}")
                failures.append(error)
        if failures:
            raise max(failures, key=lambda error: error.exit_code)
    finally:
        warehouse.close()
        alerts.flush()  # the alerts of this build, bounded by their deadline
