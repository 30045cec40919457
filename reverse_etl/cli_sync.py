"""`cdp sync ...`: the declared syncs' commands. Thin: they parse options and call reverse_etl.sync."""

from __future__ import annotations

import sys

import click

from reverse_etl.cli_options import mass_change_option, target_option


@click.group()
def sync() -> None:
    """Declared syncs: list, plan (dry run), run, status, history, retry-rejects."""


def open_warehouse(target: str | None):
    from reverse_etl.project import load_target
    from reverse_etl.warehouse import sync_warehouse

    return sync_warehouse(load_target(target))


@sync.command("list")
@target_option
def sync_list(target: str | None) -> None:
    """Every sync declared in the project's exposures."""
    from reverse_etl.sync.service import project_syncs

    warehouse = open_warehouse(target)
    for declared in project_syncs(warehouse.models or warehouse.target).values():
        click.echo(f"{declared.describe()}  schedule: {declared.schedule or 'manual'}")


def _run(target: str | None, name: str, dry_run: bool, allow_mass_change: bool, only_rejected: bool = False):
    """One run of a declared sync. A real run (not a plan) writes its JSON start and end lines on stderr and
    sends its alert as `cdp serve` does (reverse_etl.alerts)."""
    from reverse_etl.alerts import Alerts, AlertSettings
    from reverse_etl.sync.runner import run_sync
    from reverse_etl.sync.service import pick, project_syncs

    alerts = None if dry_run else Alerts(AlertSettings.from_environment(), to_stderr=True)
    warehouse = open_warehouse(target)
    try:
        chosen = pick(project_syncs(warehouse.models or warehouse.target), name)
        if alerts is None:
            return run_sync(warehouse, chosen, allow_mass_change=allow_mass_change, dry_run=True)

        def with_progress():
            with click.progressbar(length=1, label=f"syncing {name}", file=sys.stderr) as bar:

                def advance(rows: int) -> None:
                    bar.length = max(bar.length or 1, bar.pos + rows)
                    bar.update(rows)

                return run_sync(
                    warehouse,
                    chosen,
                    allow_mass_change=allow_mass_change,
                    only_rejected=only_rejected,
                    progress=advance,
                )

        return alerts.observed(name, "retry rejects" if only_rejected else "cli", with_progress)
    finally:
        warehouse.close()
        if alerts is not None:
            alerts.flush()  # the alert of this run, bounded by its deadline


@sync.command("plan")
@target_option
@click.argument("name")
@mass_change_option
@click.option("--show", type=int, default=3, show_default=True, help="How many requests to print in full.")
def sync_plan(target: str | None, name: str, allow_mass_change: bool, show: int) -> None:
    """Dry run: counts and the exact HTTP requests a run would send (secrets masked). Nothing is sent."""
    summary = _run(target, name, dry_run=True, allow_mass_change=allow_mass_change)
    click.echo(summary.describe())
    click.echo(f"{len(summary.planned_requests)} requests would be sent")
    for request in summary.planned_requests[:show]:
        click.echo("\n" + request.describe())


@sync.command("run")
@target_option
@click.argument("name")
@mass_change_option
def sync_run(target: str | None, name: str, allow_mass_change: bool) -> None:
    """Send what changed since the last confirmed state; rejected rows are recorded and retried next run.

    The run's JSON start and end lines go to stderr, and an alert to CDP_ALERT_WEBHOOK_URL when it fails, is
    refused or rejects too many rows (docs/app.md)."""
    click.echo(_run(target, name, dry_run=False, allow_mass_change=allow_mass_change).describe())


@sync.command("retry-rejects")
@target_option
@click.argument("name")
def sync_retry_rejects(target: str | None, name: str) -> None:
    """Send only the rows the destination rejected before."""
    click.echo(_run(target, name, dry_run=False, allow_mass_change=False, only_rejected=True).describe())


@sync.command("status")
@target_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def sync_status(target: str | None, as_json: bool) -> None:
    """Per sync: confirmed rows, pending rejects and the last run."""
    import json

    from reverse_etl.sync.service import project_syncs, reject_rows, status_rows

    warehouse = open_warehouse(target)
    try:
        rows = status_rows(warehouse, project_syncs(warehouse.models or warehouse.target))
        if as_json:
            click.echo(json.dumps(rows, indent=2, default=str))
            return
        for row in rows:
            click.echo(
                f"{row['sync']}: {row['synced_rows']:,} synced, {row['pending_rejects']:,} rejected; "
                f"last run {row['last_run_at'] or 'never'} {row['last_status'] or ''}"
            )
            if row["error"]:
                click.echo(f"  refused: {row['error']}")
            for note in str(row["last_notes"] or "").splitlines():
                click.echo(f"  {note}")
            for key, attempts, error in reject_rows(warehouse, str(row["sync"]), limit=5):
                click.echo(f"  rejected {key} (attempts {attempts}): {error}")
    finally:
        warehouse.close()


@sync.command("history")
@target_option
@click.argument("name")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
def sync_history(target: str | None, name: str, limit: int) -> None:
    """The sync's last runs with their counts."""
    from reverse_etl.sync.service import history_rows, pick, project_syncs

    warehouse = open_warehouse(target)
    try:
        runs = history_rows(warehouse, name, limit)
        if not runs:
            pick(
                project_syncs(warehouse.models or warehouse.target), name
            )  # no runs: a sync that never ran, or no sync at all
            click.echo(f"{name}: no runs yet")
        for (
            run_id,
            started,
            _,
            status,
            rows,
            added,
            changed,
            removed,
            confirmed,
            rejected,
            invalid,
            error,
            dropped,
            notes,
        ) in runs:
            click.echo(
                f"{started} {run_id[:8]} {status}: {rows} rows, +{added} ~{changed} -{removed}; "
                f"confirmed {confirmed}, rejected {rejected}, invalid {invalid}"
                + (f", dropped identifiers {dropped}" if dropped else "")
                + (f"; error: {error}" if error else "")
            )
            for note in (notes or "").splitlines():
                click.echo(f"  {note}")
    finally:
        warehouse.close()
