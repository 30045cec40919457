"""The `cdp` command line. Commands are thin: they parse options and call library functions."""

from __future__ import annotations

import json
import sys
from datetime import datetime

import click

from reverse_etl.cli_options import end_date_option, generated_dates, target_option
from reverse_etl.cli_sync import open_warehouse, sync
from reverse_etl.errors import CdpError, ConfigError, PartialFailure
from reverse_etl.profiles.cli import profiles as profiles_group


@click.group()
@click.version_option(package_name="cdp")
def cli() -> None:
    """Warehouse-native customer data platform: demo data, dbt builds, identity tools and syncs."""


@cli.command("dbt", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@target_option
@click.argument("dbt_args", nargs=-1, type=click.UNPROCESSED)
def dbt_command(target: str | None, dbt_args: tuple[str, ...]) -> None:
    """Run any dbt command against this project, e.g. `cdp dbt build --select staging`."""
    from reverse_etl.dbt import run_dbt

    if not dbt_args:
        raise click.UsageError("name a dbt command, e.g. `cdp dbt build`")
    run_dbt(list(dbt_args), target=target)


@cli.command()
@target_option
@click.option(
    "--people",
    type=click.IntRange(min=1),
    default=2000,
    show_default=True,
    help="How many people to generate.",
)
@click.option("--seed", type=int, default=42, show_default=True, help="Same seed, same tables.")
@click.option(
    "--offline-share",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of known people who also get an offline record (CRM, store receipt or support call) with "
    "no email or phone, only a name, date of birth and address with typos and gaps (fuzzy-matching data).",
)
@end_date_option
def generate(
    target: str | None, people: int, seed: int, offline_share: float, end_date: datetime | None
) -> None:
    """Write seeded demo raw tables (schema raw) and their ground truth into the warehouse. Events run up
    to now (sources are fresh), or up to 23:00 UTC of --end-date (the same seed and date, the same tables)."""
    from reverse_etl.generator.load import describe
    from reverse_etl.generator.load import generate as generate_tables
    from reverse_etl.project import load_target

    end_at, received_by = generated_dates(end_date)
    summary = generate_tables(
        load_target(target),
        people=people,
        seed=seed,
        offline_share=offline_share,
        end_at=end_at,
        received_by=received_by,
    )
    click.echo(describe(summary))


@cli.command()
@target_option
@click.option("--train", is_flag=True, help="Estimate the model again and rewrite its file before scoring.")
@click.option("--full", is_flag=True, help="Score every record, not only the new and changed ones.")
def match(target: str | None, train: bool, full: bool) -> None:
    """Score pairs of records on names, date of birth and address (vars.cdp_matching) into
    matching.record_links; trains the model file first when asked or when there is none. Only new and changed
    records are scored, against all the others, unless --full, training or a changed model file asks for all."""
    from reverse_etl.matching.config import load
    from reverse_etl.matching.run import run_match
    from reverse_etl.project import load_target, project_dir

    click.echo(run_match(load_target(target), load(project_dir()), train=train, full=full).describe())


@cli.command()
@target_option
def summary(target: str | None) -> None:
    """Print every table of the CDP's layers with its row count."""
    from reverse_etl.project import load_target
    from reverse_etl.summary import layer_counts, render

    click.echo(render(layer_counts(load_target(target))))


@cli.command()
@target_option
@click.option("--people", type=click.IntRange(min=1), default=2000, show_default=True, help="Demo people.")
@click.option("--seed", type=int, default=42, show_default=True)
@end_date_option
def demo(target: str | None, people: int, seed: int, end_date: datetime | None) -> None:
    """The whole CDP end to end: generate demo data, build every dbt model and test, sync every declared
    sync to the local sandbox destinations, and print rows per layer and per-destination counts."""
    from reverse_etl.build import match_before_identity
    from reverse_etl.dbt import run_dbt
    from reverse_etl.generator.load import describe
    from reverse_etl.generator.load import generate as generate_tables
    from reverse_etl.matching.config import load as load_matching
    from reverse_etl.matching.demo import DEMO_OFFLINE_SHARE, demo_matching_vars, fuzzy_merges
    from reverse_etl.project import load_target, project_dir
    from reverse_etl.sandbox.run import running_sandbox
    from reverse_etl.summary import layer_counts, render
    from reverse_etl.sync import state
    from reverse_etl.sync.runner import run_sync
    from reverse_etl.sync.service import project_syncs
    from reverse_etl.warehouse import Warehouse

    target_config = load_target(target)
    end_at, received_by = generated_dates(end_date)
    generated = generate_tables(
        target_config,
        people=people,
        seed=seed,
        offline_share=DEMO_OFFLINE_SHARE,
        end_at=end_at,
        received_by=received_by,
    )
    click.echo(describe(generated))
    # The demo turns fuzzy matching on for its own run: match the offline records, then build with it.
    matching = demo_matching_vars()
    match_before_identity(target_config, click.echo, load_matching(project_dir(), matching))
    click.echo(f"\ndbt build on {target_config.describe()} ...")
    result = run_dbt(
        ["build", "--quiet", "--vars", json.dumps({"cdp_matching": matching})], target=target_config.name
    )
    click.echo(f"dbt build: {len(result.results)} nodes passed")
    click.echo(fuzzy_merges(target_config) + "\n")
    click.echo(render(layer_counts(target_config)))
    syncs = project_syncs(target_config, parse="if-missing")
    click.echo(f"\nsyncing {len(syncs)} declared syncs to the local sandbox")
    from reverse_etl.profiles.demo import reset_store, sample_lookup
    from reverse_etl.sandbox.registry import FAKES

    profile_stores = [declared for declared in syncs.values() if declared.destination == "profile_store"]
    for declared in profile_stores:
        reset_store(declared)
    with running_sandbox(sorted({declared.destination for declared in syncs.values()} & set(FAKES))):
        warehouse = Warehouse(target_config)
        try:
            # The sandbox starts empty, so what earlier demos synced to it is gone: start the syncs afresh too.
            warehouse.execute(f"drop schema if exists {state.SCHEMA} cascade")
            warehouse.commit()
            for declared in syncs.values():
                try:
                    summary = run_sync(warehouse, declared, allow_mass_change=True)
                except PartialFailure as partial:
                    summary = partial.summary
                click.echo(
                    f"  {declared.destination:<16} {declared.name:<28} sent {summary.sent:>7,}  "
                    f"confirmed {summary.confirmed:>7,}  rejected {summary.rejected:>5,}"
                    + (f"  dropped identifiers {sum(summary.dropped.values()):,}" if summary.dropped else "")
                )
            for declared in profile_stores:
                click.echo(sample_lookup(warehouse, declared))
        finally:
            warehouse.close()


@cli.command()
@click.option("--base-port", type=click.IntRange(1024, 65000), default=18700, show_default=True)
def sandbox(base_port: int) -> None:
    """Run every destination's local fake until Ctrl-C, and print how to point syncs at them."""
    import time

    from reverse_etl.sandbox.run import running_sandbox

    with running_sandbox(base_port=base_port) as servers:
        for name, server in servers.items():
            click.echo(f"{name:<16} {server.url}")
            for key, value in server.service.environment(server.url).items():
                click.echo(f"  export {key}={value}")
        click.echo("sandbox running; Ctrl-C to stop")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            click.echo("sandbox stopped")


@cli.group()
def identity() -> None:
    """Inspect the identity graph."""


@identity.command("explain")
@target_option
@click.argument("identifier")
@click.argument("other", required=False)
def identity_explain(target: str | None, identifier: str, other: str | None) -> None:
    """Why IDENTIFIER belongs to its customer, the records linking it to OTHER, or why it was excluded.

    Identifiers are `type:value` (email:jane@example.com) or a bare value as any source wrote it."""
    from reverse_etl.identity import explain
    from reverse_etl.project import load_target

    click.echo(explain(load_target(target), identifier, other))


@cli.command()
@target_option
@click.option(
    "--allow-mass-change", is_flag=True, help="Let syncs change or remove more than their max_change_share."
)
@click.option(
    "--check-freshness",
    is_flag=True,
    help="Run dbt source freshness after the build and skip the syncs that read a source past its error_after.",
)
def build(target: str | None, allow_mass_change: bool, check_freshness: bool) -> None:
    """dbt build, then the BI copy (DuckDB), then every sync that is due by its schedule (syncs only run when
    the build passed). A sync with an unusable schedule is reported and skipped; the others still run. With
    --check-freshness, a sync whose model reads a stale source is reported and skipped too."""
    from reverse_etl.build import build_and_sync
    from reverse_etl.project import load_target

    build_and_sync(
        load_target(target),
        allow_mass_change,
        say=click.echo,
        warn=lambda line: click.echo(line, err=True),
        check_freshness=check_freshness,
    )


@cli.command()
@target_option
def publish(target: str | None) -> None:
    """Copy the marts, segments and identity schemas into the read-only BI copy beside the DuckDB warehouse
    (cdp_bi.duckdb), atomically; `cdp build` and `cdp serve` do this after each successful dbt build."""
    from reverse_etl.project import load_target
    from reverse_etl.publish import publish_and_describe

    click.echo(publish_and_describe(load_target(target)))


@cli.command()
@target_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address of the web app.")
@click.option("--port", type=click.IntRange(1, 65535), default=8787, show_default=True)
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    help="Another name the Host header may give (e.g. the name a proxy forwards); repeatable.",
)
@click.option(
    "--interval", type=click.FloatRange(min=1), default=30, show_default=True, help="Seconds between checks."
)
@click.option(
    "--dbt-schedule",
    default=None,
    help="Cron expression for dbt build; syncs scheduled 'after_dbt' follow it.",
)
def serve(
    target: str | None,
    host: str,
    port: int,
    allowed_hosts: tuple[str, ...],
    interval: float,
    dbt_schedule: str | None,
) -> None:
    """The scheduler and the web app (pages, JSON API under /api/v1, profile API) on one port. Any address
    but loopback needs auth configured (CDP_SERVE_TOKEN or users, docs/app.md); without it the app is
    read-only on loopback. Run events go to stdout as JSON lines."""
    from reverse_etl.alerts import AlertSettings
    from reverse_etl.serve import Scheduler
    from reverse_etl.serve import serve as run_service
    from reverse_etl.sync.service import project_syncs
    from reverse_etl.web.auth import auth_from_environment
    from reverse_etl.web.security import access_for

    auth = auth_from_environment()
    access_for(host, auth, allowed_hosts)  # refused before anything is parsed or listens
    AlertSettings.from_environment()
    warehouse = open_warehouse(target)
    syncs = project_syncs(warehouse.target)
    Scheduler(warehouse.target, syncs, dbt_schedule=dbt_schedule)  # every schedule checked before listening
    warehouse.close()
    needs = "log in, or send Authorization: Bearer $CDP_SERVE_TOKEN" if auth.configured else "read-only"
    click.echo(f"cdp serve: {len(syncs)} syncs; app on http://{host}:{port}/ ({needs})")
    run_service(warehouse.target, syncs, host, port, interval, dbt_schedule, allowed_hosts)


@cli.command("hash-password")
def hash_password_command() -> None:
    """Prompt for a password and print its scrypt hash, for CDP_SERVE_USERS or CDP_SERVE_USERS_FILE."""
    from reverse_etl.web.auth import hash_password

    password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    click.echo(hash_password(password))


cli.add_command(sync)


@cli.group()
def segments() -> None:
    """Declared segments: vars.cdp_segments and the saved segments of models/segments/declared/."""


@segments.command("validate")
def segments_validate() -> None:
    """Check every declared segment (known fields, safe operators, plain values) and print its SQL."""
    from reverse_etl.audiences.definitions import validate_segments
    from reverse_etl.project import project_dir

    for name, clause in validate_segments(project_dir()).items():
        click.echo(f"{name}: where {clause}")


@segments.command("preview")
@click.argument("name")
@target_option
def segments_preview(name: str, target: str | None) -> None:
    """Size a declared segment now: members, consented per channel, suppressed (one read-only query)."""
    from reverse_etl.audiences.definitions import load_project
    from reverse_etl.audiences.preview import preview
    from reverse_etl.project import load_target, project_dir
    from reverse_etl.warehouse import Warehouse

    warehouse = Warehouse(load_target(target))
    project = load_project(project_dir(), warehouse.kind)
    if name not in project.segments:
        raise ConfigError(f"no declared segment '{name}' (known: {', '.join(sorted(project.segments))})")
    result = preview(warehouse, project_dir(), project.segments[name], name, project)
    for column, count in result["counts"].items():
        click.echo(f"{column}: {count}")
    click.echo(f"seconds: {result['seconds']}")


cli.add_command(profiles_group)


def main() -> None:
    """Entry point: one error handler maps error classes to exit codes and prints one clear line."""
    try:
        outcome = cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except CdpError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(error.exit_code)
    sys.exit(outcome if isinstance(outcome, int) else 0)


if __name__ == "__main__":
    main()
