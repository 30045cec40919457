"""Options shared by the `cdp` commands, defined once."""

from __future__ import annotations

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
