"""When an incremental identity build may run: only after a build every incremental identity model applied
(tests/test_identity.py compares incremental builds with full rebuilds of the same data)."""

from __future__ import annotations

from pathlib import Path

from conftest import Warehouse, new_duckdb_warehouse


def run_identity(warehouse: Warehouse, *extra: str) -> str:
    """dbt run of the identity layer; returns the build's mode."""
    warehouse.dbt("run", "--select", "+identity_health", "+customer_id_history", *extra)
    return warehouse.scalar(
        "select name from intermediate.identity_build_log where kind = 'mode' order by logged_at desc limit 1"
    )


def test_a_build_left_unfinished_makes_the_next_one_full(tmp_path: Path) -> None:
    # The decision is the same on every adapter (the build log), so one warehouse is enough.
    warehouse = new_duckdb_warehouse(tmp_path)
    warehouse.generate(people=100, seed=5)
    warehouse.dbt("seed")
    assert run_identity(warehouse) == "full"
    # Only the first models of the layer apply a build: the next build cannot trust the later ones' state.
    warehouse.dbt("run", "--select", "int_identity_record_changes", "int_identifiers_validated")
    assert run_identity(warehouse) == "full"
    assert run_identity(warehouse) == "incremental"


def test_a_log_written_before_boundary_rows_gains_the_column(tmp_path: Path) -> None:
    warehouse = new_duckdb_warehouse(tmp_path)
    warehouse.generate(people=100, seed=6)
    warehouse.dbt("seed")
    run_identity(warehouse)
    # A log of the layout before boundary_rows: no such column, and builds logged under another state version.
    warehouse.execute("alter table intermediate.identity_build_log drop column boundary_rows")
    warehouse.execute(
        "update intermediate.identity_build_log set config_hash = 'older layout' where kind = 'mode'"
    )
    assert run_identity(warehouse) == "full"
    assert run_identity(warehouse) == "incremental"
    assert warehouse.scalar(
        "select count(*) from intermediate.identity_build_log where kind = 'marks' and boundary_rows is not null"
    )


def failed_tests(result) -> set[str]:
    return {node.node.name for node in result.results if str(node.status) in ("fail", "error")}


def test_data_tests_of_an_incremental_build_read_the_rows_it_wrote(tmp_path: Path) -> None:
    warehouse = new_duckdb_warehouse(tmp_path)
    warehouse.generate(people=100, seed=7)
    warehouse.dbt("seed")
    warehouse.dbt("run", "--select", "+identity_health", "+customer_id_history", "+customers")
    # A duplicate row of a customer the next build does not touch: only a test reading every row sees it.
    warehouse.execute(
        "insert into marts.customers select * from marts.customers order by customer_id limit 1"
    )
    warehouse.execute(
        "insert into raw.crm_contacts (contact_id, email, first_name, created_at, updated_at) values ('crm_new',"
        " 'someone.new@newmail.io', 'New', timestamp '2026-08-01 10:00:00', timestamp '2026-08-01 10:00:00')"
    )
    unique_test = "unique_customers_customer_id"
    built = warehouse.dbt(
        "build",
        "--select",
        "int_identifiers_unioned+,+identity_health",
        "int_identifiers_unioned+,+customer_id_history",
        "int_identifiers_unioned+,+customers",
        "--indirect-selection",
        "cautious",
        raise_on_failure=False,
    )
    assert (
        warehouse.scalar(
            "select kind from intermediate.identity_build_log where name = 'customers' order by logged_at desc limit 1"
        )
        == "mart incremental"
    )
    assert unique_test in {node.node.name for node in built.results}
    assert failed_tests(built) == set()
    # On demand (`dbt test`, another invocation) a test reads every row.
    assert unique_test in failed_tests(warehouse.dbt("test", "--select", "customers", raise_on_failure=False))


def test_row_wise_tests_of_staging_views_and_the_placement_test_read_what_the_build_loaded(
    tmp_path: Path,
) -> None:
    """In an incremental `dbt build`, a row-wise test on an identity source's staging view reads only the rows
    loaded since the previous build, and the placement test only the records the build changed: a bad value in
    an older row and a record that lost its placement outside any build pass there and fail under `dbt test`."""
    warehouse = new_duckdb_warehouse(tmp_path)
    warehouse.generate(people=100, seed=7)
    warehouse.dbt("seed")
    warehouse.dbt("run", "--select", "+identity_health", "+customer_id_history", "+customers")
    oldest = warehouse.scalar("select min(contact_id) from raw.crm_contacts")
    warehouse.execute(f"update raw.crm_contacts set lifecycle_stage = 'bogus' where contact_id = '{oldest}'")
    warehouse.execute(
        "delete from identity.identity_records where record_id ="
        " (select min(record_id) from identity.identity_records where source_table = 'stg_support__tickets')"
    )
    warehouse.execute(
        "insert into raw.crm_contacts (contact_id, email, first_name, created_at, updated_at) values ('crm_new',"
        " 'someone.new@newmail.io', 'New', timestamp '2026-08-01 10:00:00', timestamp '2026-08-01 10:00:00')"
    )
    staging_test = "accepted_values_stg_crm__contacts_lifecycle_stage__subscriber__lead__customer"
    placement_test = "assert_every_identified_record_has_a_customer"
    selection = ("stg_crm__contacts", placement_test, "int_identifiers_unioned+,+customers")
    built = warehouse.dbt(
        "build", "--select", *selection, "--indirect-selection", "cautious", raise_on_failure=False
    )
    assert (
        warehouse.scalar(
            "select name from intermediate.identity_build_log where kind = 'mode' order by logged_at desc limit 1"
        )
        == "incremental"
    )
    assert {staging_test, placement_test} <= {node.node.name for node in built.results}
    assert failed_tests(built) == set()
    on_demand = warehouse.dbt("test", "--select", "stg_crm__contacts", placement_test, raise_on_failure=False)
    assert {staging_test, placement_test} <= failed_tests(on_demand)


def test_lookups_made_once_per_invocation_follow_each_build(tmp_path: Path) -> None:
    """The previous build's marks are looked up once per invocation (cdp.invocation_cache), never carried into
    the next invocation of the same process: each build's staging test reads from the mark of the build just
    before it (the newest contact then), not an earlier one."""
    warehouse = new_duckdb_warehouse(tmp_path)
    warehouse.generate(people=100, seed=7)
    warehouse.dbt("seed")
    staging_test = "accepted_values_stg_crm__contacts_lifecycle_stage__subscriber__lead__customer"
    conditions = []
    for day in ("01", "02", "03"):
        warehouse.execute(
            "insert into raw.crm_contacts (contact_id, email, first_name, created_at, updated_at) values"
            f" ('crm_new_{day}', 'someone.{day}@newmail.io', 'New', timestamp '2026-08-{day} 10:00:00',"
            f" timestamp '2026-08-{day} 10:00:00')"
        )
        if day == "01":
            warehouse.dbt("run", "--select", "+identity_health", "+customer_id_history", "+customers")
            continue
        built = warehouse.dbt(
            "build",
            "--select",
            "stg_crm__contacts",
            "int_identifiers_unioned+,+customers",
            "--indirect-selection",
            "cautious",
        )
        conditions += [r.node.compiled_code for r in built.results if r.node.name == staging_test]
    assert len(conditions) == 2
    assert "'2026-08-01 10:00:00'" in conditions[0] and "'2026-08-02 10:00:00'" not in conditions[0]
    assert "'2026-08-02 10:00:00'" in conditions[1] and "'2026-08-01 10:00:00'" not in conditions[1]
