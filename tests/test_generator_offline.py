"""Offline records of the generator (--offline-share): CRM contacts, store receipts and support calls with no
email or phone, only a name, date of birth and address carrying realistic typos and gaps, each named in the
ground truth. Off by default, so the demo data is unchanged unless asked for."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from conftest import Warehouse, fresh_warehouse, new_duckdb_warehouse
from reverse_etl.cli import cli
from reverse_etl.errors import ConfigError
from reverse_etl.generator.load import build_in_memory, generate

PEOPLE, SEED, SHARE = 600, 13, 0.3
OFFLINE = {
    "crm_contacts": "contact_id like 'crm_%_o'",
    "orders": "order_id like 'ord_%_o'",
    "support_tickets": "ticket_id like 'tkt_%_o'",
}


@pytest.fixture(scope="module")
def memory() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = build_in_memory(PEOPLE, SEED, offline_share=SHARE)
    yield connection
    connection.close()


def test_no_offline_records_unless_asked_for() -> None:
    connection = build_in_memory(200, SEED)
    try:
        for table, condition in OFFLINE.items():
            assert connection.execute(f"select count(*) from gen_{table} where {condition}").fetchone() == (
                0,
            )
        # The new columns are empty where the record never carried them.
        assert connection.execute(
            "select count(*) from gen_orders where first_name is not null or date_of_birth is not null"
        ).fetchone() == (0,)
    finally:
        connection.close()


def test_a_share_of_known_people_gets_one_offline_record_without_email_or_phone(
    memory: duckdb.DuckDBPyConnection,
) -> None:
    counts = {}
    for table, condition in OFFLINE.items():
        extra = ", loyalty_card_id, user_id" if table == "orders" else ""
        counts[table], with_contact = memory.execute(
            f"select count(*), count(coalesce(email, phone{extra})) from gen_{table} where {condition}"
        ).fetchone()
        assert counts[table] > 0, table
        assert with_contact == 0, f"an offline {table} record carries an email, phone or id"
    known = memory.execute("select count(*) from people where is_known").fetchone()[0]
    assert 0.2 * known <= sum(counts.values()) <= 0.4 * known
    # Every offline order has its lines, and its total is theirs.
    assert memory.execute(
        "select count(*) from gen_orders as o left join gen_order_items as i using (order_id) "
        "where o.order_id like 'ord_%_o' and i.order_id is null"
    ).fetchone() == (0,)


def test_offline_records_carry_typos_and_gaps_against_the_person(memory: duckdb.DuckDBPyConnection) -> None:
    rows = memory.execute(
        """
        select
            count(*),
            count(*) filter (where lower(o.first_name) <> lower(p.first_name)),
            count(*) filter (where lower(o.last_name) <> lower(p.last_name)),
            count(*) filter (where o.date_of_birth is null),
            count(*) filter (where cast(o.date_of_birth as date) <> p.date_of_birth),
            count(*) filter (where o.first_name = upper(p.first_name) and o.first_name <> p.first_name),
            count(*) filter (where lower(o.first_name) = lower(p.first_name)
                and lower(o.last_name) = lower(p.last_name) and cast(o.date_of_birth as date) = p.date_of_birth)
        from (
            select p, first_name, last_name, date_of_birth from gen_crm_contacts where contact_id like 'crm_%_o'
            union all
            select p, first_name, last_name, date_of_birth from gen_orders where order_id like 'ord_%_o'
            union all
            select p, first_name, last_name, date_of_birth from gen_support_tickets where ticket_id like 'tkt_%_o'
        ) as o
        inner join people as p using (p)
        """
    ).fetchone()
    total, first_typos, last_typos, no_dob, wrong_dob, upper_case, exact = rows
    assert total > 50
    assert first_typos > 0 and last_typos > 0 and no_dob > 0 and wrong_dob > 0 and upper_case > 0
    # Most still read as the person, so a matcher has something to find.
    assert 0.4 * total <= exact <= 0.85 * total
    # A swapped day and month is among the date errors.
    swapped = memory.execute(
        """
        select count(*)
        from (
            select p, date_of_birth from gen_crm_contacts where contact_id like 'crm_%_o'
            union all
            select p, date_of_birth from gen_orders where order_id like 'ord_%_o'
            union all
            select p, date_of_birth from gen_support_tickets where ticket_id like 'tkt_%_o'
        ) as o
        inner join people as p using (p)
        where day(cast(o.date_of_birth as date)) = month(p.date_of_birth)
            and month(cast(o.date_of_birth as date)) = day(p.date_of_birth) and day(p.date_of_birth) <> month(p.date_of_birth)
        """
    ).fetchone()[0]
    assert swapped > 0
    # The person's own CRM contacts carry the true date of birth to match against.
    assert memory.execute(
        "select count(*) from gen_crm_contacts as c inner join people as p using (p) "
        "where c.contact_id not like 'crm_%_o' and c.date_of_birth <> strftime(p.date_of_birth, '%Y-%m-%d')"
    ).fetchone() == (0,)


@pytest.fixture(scope="module", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def staged(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    warehouse = fresh_warehouse(request.param, request, tmp_path_factory.mktemp("offline"), "cdp_off")
    generate(warehouse.target, people=150, seed=SEED, offline_share=SHARE)
    warehouse.dbt("seed")  # staging reads the dialling plan and the event names
    warehouse.dbt("run", "--select", "stg_crm__contacts", "stg_shop__orders", "stg_support__tickets")
    return warehouse


def test_staging_types_the_new_columns_and_ground_truth_names_the_person(staged: Warehouse) -> None:
    for model, key, prefix in [
        ("crm.stg_crm__contacts", "contact_id", "crm_"),
        ("shop.stg_shop__orders", "order_id", "ord_"),
        ("support.stg_support__tickets", "ticket_id", "tkt_"),
    ]:
        schema, table = model.split(".")
        rows = staged.query(
            f"select count(*), count(date_of_birth), min(date_of_birth), count(last_name) "
            f"from staging.{table} where {key} like '{prefix}%_o'"
        )
        count, with_dob, earliest, with_name = rows[0]
        assert count > 0 and with_name > 0 and with_dob > 0, table
        assert str(earliest) >= "1945-01-01"
        raw_table = {"crm": "crm_contacts", "shop": "orders", "support": "support_tickets"}[schema]
        unnamed = staged.scalar(
            f"select count(*) from staging.{table} as s left join ground_truth.record_people as g "
            f"on g.source_table = '{raw_table}' and g.record_id = s.{key} "
            f"where s.{key} like '{prefix}%_o' and g.person_id is null"
        )
        assert unnamed == 0


def test_a_share_outside_0_to_1_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["generate", "--people", "10", "--offline-share", "1.5"])
    assert result.exit_code == 2
    assert "--offline-share" in result.output
    warehouse = new_duckdb_warehouse(tmp_path)
    with pytest.raises(ConfigError, match="--offline-share must be between 0 and 1, got -0.1"):
        generate(warehouse.target, people=10, offline_share=-0.1)
