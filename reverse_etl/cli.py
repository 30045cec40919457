"""The `cdp` command line. Commands are thin: they parse options and call library functions."""

from __future__ import annotations

import sys

import click

from reverse_etl.errors import CdpError

target_option = click.option(
    "--target",
    "-t",
    default=None,
    envvar="CDP_TARGET",
    help="profiles.yml output to use (duckdb, the default, or postgres).",
)


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
def generate(target: str | None, people: int, seed: int) -> None:
    """Write seeded demo raw tables (schema raw) and their ground truth into the warehouse."""
    from reverse_etl.generator.load import describe
    from reverse_etl.generator.load import generate as generate_tables
    from reverse_etl.project import load_target

    summary = generate_tables(load_target(target), people=people, seed=seed)
    click.echo(describe(summary))


@cli.command()
@target_option
def summary(target: str | None) -> None:
    """Print every table of the CDP's layers with its row count."""
    from reverse_etl.project import load_target
    from reverse_etl.summary import layer_counts, render

    click.echo(render(layer_counts(load_target(target))))


@cli.command()
@target_option
@click.option(
    "--people", type=click.IntRange(min=1), default=2000, show_default=True, help="Demo people to generate."
)
@click.option("--seed", type=int, default=42, show_default=True)
def demo(target: str | None, people: int, seed: int) -> None:
    """The whole CDP end to end: generate demo data, build every dbt model and test, print rows per layer."""
    from reverse_etl.dbt import run_dbt
    from reverse_etl.generator.load import describe
    from reverse_etl.generator.load import generate as generate_tables
    from reverse_etl.project import load_target
    from reverse_etl.summary import layer_counts, render

    warehouse = load_target(target)
    click.echo(describe(generate_tables(warehouse, people=people, seed=seed)))
    click.echo(f"\ndbt build on {warehouse.describe()} ...")
    result = run_dbt(["build", "--quiet"], target=warehouse.name)
    click.echo(f"dbt build: {len(result.results)} nodes passed\n")
    click.echo(render(layer_counts(warehouse)))


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
