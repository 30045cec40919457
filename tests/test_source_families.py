"""Source families can be switched off (vars.cdp_sources): the project builds with any subset on, and a family that
is off yields empty staging relations with the same columns and types."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import Warehouse, fresh_warehouse, new_duckdb_warehouse
from reverse_etl.errors import DbtError

PEOPLE = 30
FAMILY_MODELS = {
    "web_events": ["stg_segment__identifies", "stg_segment__tracks", "stg_segment__pages"],
    "app": ["stg_app__events"],
    "crm": ["stg_crm__contacts"],
    "orders": ["stg_shop__orders", "stg_shop__order_items"],
    "email": ["stg_esp__email_events"],
    "dmp": ["stg_dmp__cookie_syncs"],
    "support": ["stg_support__tickets"],
    "consent": ["stg_privacy__consents"],
    "privacy": ["stg_privacy__requests"],
}
ONLY_WEB_EVENTS = {family: False for family in FAMILY_MODELS if family != "web_events"}


def switched(families: dict[str, bool]) -> str:
    return json.dumps({"cdp_sources": families})


def staging_columns(warehouse: Warehouse, model: str) -> list[tuple[str, str]]:
    return warehouse.query(
        "select column_name, data_type from information_schema.columns"
        " where table_schema = 'staging' and table_name = %s order by ordinal_position"
        if warehouse.kind == "postgres"
        else "select column_name, data_type from information_schema.columns"
        " where table_schema = 'staging' and table_name = ? order by ordinal_position",
        (model,),
    )


@pytest.fixture(scope="module")
def generated_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated DuckDB file with the seeds loaded; each configuration starts from a copy of it."""
    folder = tmp_path_factory.mktemp("families_base")
    warehouse = new_duckdb_warehouse(folder)
    warehouse.generate(people=PEOPLE)
    warehouse.dbt("seed")
    return folder / "cdp.duckdb"


@pytest.fixture(scope="module")
def all_on(generated_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    folder = tmp_path_factory.mktemp("families_all_on")
    shutil.copy(generated_file, folder / "cdp.duckdb")
    warehouse = new_duckdb_warehouse(folder)
    warehouse.dbt("run", "--select", "staging")
    return warehouse


@pytest.mark.slow
@pytest.mark.parametrize(
    "off",
    [[family] for family in sorted(FAMILY_MODELS)] + [sorted(ONLY_WEB_EVENTS)],
    ids=lambda off: "only_web_events" if len(off) > 1 else f"{off[0]}_off",
)
def test_the_project_runs_with_families_off(
    off: list[str], generated_file: Path, all_on: Warehouse, tmp_path: Path
) -> None:
    """Each family off in turn, then only web events on."""
    shutil.copy(generated_file, tmp_path / "cdp.duckdb")
    warehouse = new_duckdb_warehouse(tmp_path)
    warehouse.dbt("run", "--vars", switched(dict.fromkeys(off, False)))
    for family in off:
        for model in FAMILY_MODELS[family]:
            assert warehouse.scalar(f"select count(*) from staging.{model}") == 0, model
            assert staging_columns(warehouse, model) == staging_columns(all_on, model), model
    for other, models in FAMILY_MODELS.items():
        if other not in off:
            for model in models:
                count = f"select count(*) from staging.{model}"
                assert warehouse.scalar(count) == all_on.scalar(count), model
    assert warehouse.scalar("select count(*) from marts.customers") > 0
    assert warehouse.scalar("select count(*) from marts.customer_traits") == warehouse.scalar(
        "select count(*) from marts.customers"
    )
    if "orders" in off:
        assert warehouse.scalar("select count(*) from marts.orders") == 0
        assert warehouse.scalar("select count(*) from marts.customer_traits where orders > 0") == 0


@pytest.mark.postgres
def test_only_web_events_builds_and_resolves_customers(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The whole build (models, unit and data tests) with only web events on, on PostgreSQL (DuckDB runs the same
    configuration above)."""
    warehouse = fresh_warehouse("postgres", request, tmp_path, "cdp_families")
    warehouse.generate(people=PEOPLE)
    warehouse.dbt("build", "--vars", switched(ONLY_WEB_EVENTS))
    assert warehouse.scalar("select count(*) from staging.stg_crm__contacts") == 0
    assert warehouse.scalar("select count(*) from marts.orders") == 0
    # Identify calls tie anonymous ids to user ids: customers still join tracks and pages to identifies.
    joined = warehouse.scalar(
        """
        select count(*) from (
            select customer_id from identity.identity_records
            group by customer_id
            having count(distinct case when source_table = 'stg_segment__identifies' then 1 end) = 1
               and count(distinct case when source_table <> 'stg_segment__identifies' then source_table end) >= 1
        ) as joined
        """
    )
    assert joined > 0
    assert warehouse.scalar(
        "select count(distinct customer_id) from identity.identity_records"
    ) == warehouse.scalar("select count(*) from marts.customers")
    assert warehouse.scalar("select count(*) from marts.customer_traits where orders > 0") == 0


def test_a_misspelt_family_is_a_compile_error(generated_file: Path, tmp_path: Path) -> None:
    shutil.copy(generated_file, tmp_path / "cdp.duckdb")
    warehouse = new_duckdb_warehouse(tmp_path)
    with pytest.raises(DbtError, match=r"vars.cdp_sources.web_event is not a source family"):
        warehouse.dbt("run", "--select", "stg_app__events", "--vars", switched({"web_event": False}))
    with pytest.raises(DbtError, match=r"vars.cdp_sources.crm must be true or false"):
        warehouse.dbt("run", "--select", "stg_crm__contacts", "--vars", switched({"crm": "no"}))  # type: ignore[dict-item]
