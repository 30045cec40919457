"""Options shared by the `cdp` commands, defined once."""

from __future__ import annotations

from datetime import datetime

import click

target_option = click.option(
    "--target",
    "-t",
    default=None,
    envvar="CDP_TARGET",
    help="profiles.yml output to use (duckdb, the default, postgres or spark).",
)
mass_change_option = click.option(
    "--allow-mass-change",
    is_flag=True,
    help="Let a run change or remove more than the sync's max_change_share.",
)
end_date_option = click.option(
    "--end-date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Date the generated events end on (23:00 UTC), for the same tables on every run. Default: now, so "
    "the sources are fresh.",
)


def generated_dates(end_date: datetime | None) -> tuple[datetime, datetime | None]:
    """The generator's (end_at, received_by): events up to 23:00 of --end-date with loads not capped, or
    without it events and loads up to now."""
    from reverse_etl.generator.load import run_time

    if end_date is None:
        now = run_time()
        return now, now
    return end_date.replace(hour=23, minute=0, second=0), None
