"""Schedules: a five-field cron expression, an @ alias (@hourly, @daily ...) or "after_dbt" (right after each
scheduled dbt build). Every place that reads schedules validates all of them first, through this module."""

from __future__ import annotations

import datetime as dt

from croniter import CroniterError, croniter

from reverse_etl.errors import ConfigError
from reverse_etl.sync.config import SyncConfig

AFTER_DBT = "after_dbt"
ALIASES = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}


def schedule_problem(schedule: object) -> str | None:
    """Why a cron expression is unusable, or None. Five fields only: croniter would read a sixth as seconds."""
    if not isinstance(schedule, str) or not schedule.strip():
        return f"{schedule!r} is not a cron expression"
    text = schedule.strip()
    if text.lower() not in ALIASES and (len(text.split()) != 5 or not croniter.is_valid(text)):
        return f"'{schedule}' is not a cron expression"
    try:
        now = dt.datetime(2026, 1, 1)
        croniter(text, now).get_next(dt.datetime)
    except (CroniterError, ValueError):
        return f"'{schedule}' never fires"
    return None


def validate_schedule(sync: SyncConfig) -> None:
    """A ConfigError naming the file and key when the sync's schedule is unusable (no schedule: manual)."""
    if sync.schedule is None or sync.schedule == AFTER_DBT:
        return
    problem = schedule_problem(sync.schedule)
    if problem:
        raise ConfigError(
            f"{sync.source_file}: exposures.{sync.name}.meta.cdp_sync.schedule: {problem}; "
            f"use five cron fields (e.g. '0 * * * *'), an alias such as '@hourly', or '{AFTER_DBT}'"
        )


def schedule_errors(syncs: dict[str, SyncConfig]) -> dict[str, ConfigError]:
    """Every sync whose schedule is unusable, with its error: callers report all of them, not the first."""
    errors: dict[str, ConfigError] = {}
    for name, sync in sorted(syncs.items()):
        try:
            validate_schedule(sync)
        except ConfigError as error:
            errors[name] = error
    return errors


def validate_dbt_schedule(schedule: str | None) -> None:
    if schedule is None:
        return
    if schedule == AFTER_DBT:
        raise ConfigError(f"--dbt-schedule: '{AFTER_DBT}' is for syncs; give the dbt build a cron expression")
    problem = schedule_problem(schedule)
    if problem:
        raise ConfigError(f"--dbt-schedule: {problem}; use five cron fields, e.g. '0 * * * *'")


def is_due(schedule: str, last_run_started: dt.datetime | None, now: dt.datetime) -> bool:
    """Due when the cron expression fired since the last run started (or the sync never ran)."""
    if last_run_started is None:
        return True
    previous_fire = croniter(schedule.strip(), now).get_prev(dt.datetime)
    return previous_fire > last_run_started
