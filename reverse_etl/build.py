"""`cdp build`: one dbt build, the BI copy, then every sync that is due, each outcome reported as it happens
and each run with its JSON start and end lines and its alert (reverse_etl.alerts).

Every schedule is checked before any sync runs; a sync whose schedule is unusable is reported and skipped, the
others still run, and the command fails at the end with the worst error's exit code."""

from __future__ import annotations

import functools
from collections.abc import Callable

from reverse_etl.alerts import Alerts, AlertSettings
from reverse_etl.dbt import DbtResult, production_build_args, run_dbt
from reverse_etl.errors import CdpError, WarehouseError
from reverse_etl.freshness import FreshnessGate, check_sources
from reverse_etl.matching.config import MatchingConfig
from reverse_etl.project import Target
from reverse_etl.publish import publish
from reverse_etl.serve.health import busy_error, busy_reason
from reverse_etl.serve.schedule import AFTER_DBT, is_due, schedule_errors
from reverse_etl.sync.runner import run_sync
from reverse_etl.sync.service import last_started, project_syncs
from reverse_etl.sync.state import ensure_state
from reverse_etl.warehouse import Warehouse, utc_now


def match_before_identity(
    target: Target, say: Callable[[str], None], config: MatchingConfig | None = None
) -> None:
    """With fuzzy matching on (the project's vars.cdp_matching, or `config`), build the matched models and
    run `cdp match` first: the identity models read its groups (docs/identity.md, Fuzzy matching)."""
    from reverse_etl.matching.config import load
    from reverse_etl.matching.run import run_match
    from reverse_etl.project import project_dir

    config = config or load(project_dir())
    if not config.enabled:
        return
    run_dbt(["seed", "--quiet"], target=target.name)  # staging reads the seeds (dialling plans, event names)
    run_dbt(["run", "--quiet", "--select", *[source.model for source in config.sources]], target=target.name)
    say(run_match(target, config).describe())


def build_and_sync(
    target: Target,
    allow_mass_change: bool,
    say: Callable[[str], None],
    warn: Callable[[str], None],
    alerts: Alerts | None = None,
    check_freshness: bool = False,
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
            match_before_identity(target, say)
            return run_dbt(production_build_args(), target=target.name)
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
        gate = None
        if check_freshness:
            outcomes = check_sources(target)
            for outcome in sorted(outcomes.values(), key=lambda outcome: outcome.source):
                if outcome.status != "pass":
                    warn(f"source {outcome.source}: {outcome.status} ({outcome.detail})")
            say(
                f"source freshness: {sum(not o.is_stale for o in outcomes.values())} of {len(outcomes)} fresh"
            )
            gate = FreshnessGate(outcomes)
        syncs = project_syncs(target, parse="if-missing")
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
            held_back = gate.reason(declared.model) if gate is not None else None
            if held_back:
                warn(f"{name}: skipped ({held_back})")
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
