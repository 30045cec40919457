"""A raw table added by configuration only (vars.cdp_custom_sources): normalized by the generic staging model and
resolved into the same customers as the records it shares identifiers with."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import Warehouse, new_duckdb_warehouse
from reverse_etl.errors import DbtError

LOYALTY = {
    "name": "loyalty",
    "table": "loyalty_members",
    "record_id": "member_no",
    "loaded_at": "updated_on",
    "observed_at": "joined_on",
    "identifiers": {"email": "contact_email", "loyalty_card_id": "card"},
}


def loyalty_members(warehouse: Warehouse) -> None:
    """A loyalty export: the CRM's emails, shouted and padded, each with a new card number."""
    warehouse.execute(
        """
        create table raw.loyalty_members as
        select
            row_number() over (order by contact_id) as member_no,
            '  ' || upper(email) || ' ' as contact_email,
            'lc-new-' || row_number() over (order by contact_id) as card,
            created_at as joined_on,
            updated_at as updated_on
        from raw.crm_contacts
        where email like '%@%.%' and email not like '%test%' and email not like '%example%'
        """
    )


def test_a_configured_table_joins_the_customers_it_shares_identifiers_with(tmp_path: Path) -> None:
    warehouse = new_duckdb_warehouse(tmp_path)
    warehouse.generate(people=30)
    loyalty_members(warehouse)
    warehouse.dbt("build", "--vars", json.dumps({"cdp_custom_sources": [LOYALTY]}))
    staged = warehouse.query(
        "select custom_record_id, email, loyalty_card_id from staging.stg_custom__records order by 1 limit 1"
    )
    assert staged and staged[0][0].startswith("loyalty:") and staged[0][2].startswith("LC-NEW-")
    assert staged[0][1] == staged[0][1].strip().lower()
    assert warehouse.scalar("select count(*) from staging.stg_custom__records") == warehouse.scalar(
        "select count(*) from raw.loyalty_members"
    )
    # Every loyalty record whose email resolved sits in the customer of a CRM record with that email.
    mismatched = warehouse.scalar(
        """
        select count(*)
        from staging.stg_custom__records as members
        join identity.identity_records as member_records
          on member_records.source_table = 'stg_custom__records' and member_records.record_id = members.custom_record_id
        where not exists (
            select 1
            from staging.stg_crm__contacts as contacts
            join identity.identity_records as contact_records
              on contact_records.source_table = 'stg_crm__contacts' and contact_records.record_id = contacts.contact_id
            where contacts.email = members.email and contact_records.customer_id = member_records.customer_id
        )
        """
    )
    joined = warehouse.scalar(
        "select count(*) from identity.identity_records where source_table = 'stg_custom__records'"
    )
    assert joined > 0 and mismatched == 0
    # The new identifier type reaches the graph.
    assert (
        warehouse.scalar(
            "select count(*) from identity.identity_graph where identifier_type = 'loyalty_card_id'"
            " and identifier_value like 'LC-NEW-%'"
        )
        == joined
    )


@pytest.fixture(scope="module")
def small_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    warehouse = new_duckdb_warehouse(tmp_path_factory.mktemp("custom"))
    warehouse.generate(people=5)
    warehouse.dbt("seed", "--select", "country_phone_plans", "--quiet")
    loyalty_members(warehouse)
    return warehouse


@pytest.mark.parametrize(
    "change, message",
    [
        ({"identifiers": {"email": "mail"}}, r"cdp_custom_sources\[0\]: column 'mail' does not exist"),
        (
            {"identifiers": {"fax": "card"}},
            r"cdp_custom_sources\[0\].identifiers.fax is not an identifier type",
        ),
        ({"loaded_at": None}, r"cdp_custom_sources\[0\].loaded_at is missing"),
    ],
    ids=["unknown column", "unknown type", "no load time"],
)
def test_a_bad_table_config_is_a_compile_error_naming_the_key(
    small_warehouse: Warehouse, change: dict, message: str
) -> None:
    entry = {key: value for key, value in {**LOYALTY, **change}.items() if value is not None}
    with pytest.raises(DbtError, match=message):
        small_warehouse.dbt(
            "compile",
            "--select",
            "stg_custom__records",
            "--vars",
            json.dumps({"cdp_custom_sources": [entry]}),
        )
