"""Golden-record survivorship rules configured in vars.cdp_survivorship: the shipped defaults, a changed rule,
and configuration mistakes reported at compile time. The rules themselves (ties, nulls) are dbt unit tests in
models/intermediate/customers/_customers__unit_tests.yml, run by every `dbt build`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, Warehouse, new_duckdb_warehouse
from reverse_etl.errors import DbtError

LABELS = {
    "stg_crm__contacts": "crm",
    "stg_segment__identifies": "web",
    "stg_shop__orders": "shop",
    "stg_esp__email_events": "esp",
    "stg_support__tickets": "support",
    "stg_privacy__consents": "consent",
    "stg_privacy__requests": "privacy_request",
}


def shipped_rules() -> dict:
    return yaml.safe_load((ROOT / "dbt_project.yml").read_text())["vars"]["cdp_survivorship"]


def test_shipped_rules_pick_the_most_frequent_email_and_phone_and_name_their_source(
    built_warehouse: Warehouse,
) -> None:
    assert shipped_rules()["primary_email"] == {"rule": "most_frequent"}
    for identifier_type in ("email", "phone"):
        # Expected winner computed from the identity graph: most records, then most recently seen, then value.
        expected = dict(
            built_warehouse.query(
                f"""
                select customer_id, identifier_value from (
                    select customer_id, identifier_value,
                           row_number() over (partition by customer_id
                                              order by records desc, last_seen_at desc, identifier_value) as position
                    from identity.identity_graph where identifier_type = '{identifier_type}'
                ) as ranked where position = 1
                """
            )
        )
        observations = built_warehouse.query(
            f"""
            select graph.customer_id, validated.identifier_value, validated.source_table, validated.observed_at
            from intermediate.int_identifiers_validated as validated
            join identity.identity_graph as graph
              on graph.identifier_type = validated.identifier_type and graph.identifier_value = validated.identifier_value
            where validated.identifier_type = '{identifier_type}' and validated.exclusion_reason is null
            """
        )
        newest: dict[tuple[str, str], tuple] = {}
        for customer_id, value, source_table, observed_at in observations:
            key = (customer_id, value)
            candidate = (observed_at, LABELS[source_table])
            best = newest.get(key)
            # Newest observation wins; at the same moment the alphabetically first source.
            if best is None or candidate[0] > best[0] or (candidate[0] == best[0] and candidate[1] < best[1]):
                newest[key] = candidate
        customers = built_warehouse.query(
            f"select customer_id, primary_{identifier_type}, primary_{identifier_type}_source from marts.customers"
        )
        checked = 0
        for customer_id, value, source in customers:
            assert value == expected.get(customer_id), (identifier_type, customer_id)
            if value is not None:
                assert source == newest[(customer_id, value)][1], (identifier_type, customer_id)
                checked += 1
            else:
                assert source is None
        assert checked > 100


def test_shipped_rules_take_the_address_of_the_newest_crm_record(built_warehouse: Warehouse) -> None:
    mismatches = built_warehouse.query(
        """
        with newest as (
            select records.customer_id, contacts.street, contacts.city, contacts.country_code,
                   row_number() over (partition by records.customer_id
                                      order by contacts.updated_at desc, contacts.street) as position
            from staging.stg_crm__contacts as contacts
            join identity.identity_records as records
              on records.source_table = 'stg_crm__contacts' and records.record_id = contacts.contact_id
            where contacts.street is not null
        )
        select customers.customer_id from marts.customers as customers
        left join newest on newest.customer_id = customers.customer_id and newest.position = 1
        where coalesce(customers.street, '-') <> coalesce(newest.street, '-')
           or coalesce(customers.country_code, '-') <> coalesce(newest.country_code, '-')
           or coalesce(customers.address_source, '-') <> case when newest.street is null then '-' else 'crm' end
        """
    )
    assert mismatches == []


def test_a_changed_rule_changes_the_golden_record(built_duckdb: Warehouse, tmp_path: Path) -> None:
    """Web before CRM for names: customers named in both now carry their newest web name."""
    built_duckdb.execute("checkpoint")  # everything in the file itself, nothing left in its write-ahead log
    copy = new_duckdb_warehouse(tmp_path)
    shutil.copy(built_duckdb.env["CDP_DUCKDB_PATH"], copy.env["CDP_DUCKDB_PATH"])
    named_in_both = (
        "select name_source, count(*) from marts.customers where customer_id in ("
        "select customer_id from intermediate.int_customer_name_candidates group by customer_id "
        "having count(distinct source) = 2) group by name_source"
    )
    before = dict(copy.query(named_in_both))
    assert list(before) == ["crm"] and before["crm"] > 0

    rules = shipped_rules()
    rules["name"] = {"rule": "source_priority", "sources": ["web", "crm"]}
    copy.dbt(
        "run",
        "--select",
        "int_customer_golden_attributes",
        "customers",
        "--vars",
        json.dumps({"cdp_survivorship": rules}),
        "--target-path",
        str(tmp_path / "target"),
    )
    assert dict(copy.query(named_in_both)) == {"web": before["crm"]}
    mismatches = copy.query(
        """
        select customers.customer_id from marts.customers as customers
        join (
            select customer_id, first_name, last_name,
                   row_number() over (partition by customer_id order by observed_at desc, first_name, last_name) as position
            from intermediate.int_customer_name_candidates where source = 'web'
        ) as web on web.customer_id = customers.customer_id and web.position = 1
        where customers.name_source <> 'web'
           or coalesce(customers.first_name, '-') <> coalesce(web.first_name, '-')
           or coalesce(customers.last_name, '-') <> coalesce(web.last_name, '-')
        """
    )
    assert mismatches == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda rules: rules.update({"nickname": {"rule": "most_recent"}}),
            r"vars.cdp_survivorship.nickname: unknown attribute; the attributes are name, address, primary_email, primary_phone",
        ),
        (
            lambda rules: rules.update({"address": {"rule": "newest"}}),
            r"vars.cdp_survivorship.address.rule: 'newest' is not a survivorship rule; use one of most_recent, "
            r"source_priority, most_frequent, first_non_null",
        ),
        (
            lambda rules: rules.update({"name": {"rule": "source_priority", "sources": ["erp", "crm"]}}),
            r"vars.cdp_survivorship.name.sources: 'erp' is not a source of name; its sources are crm, web",
        ),
        (
            lambda rules: rules.update({"primary_phone": {"rule": "source_priority"}}),
            r"vars.cdp_survivorship.primary_phone.sources: source_priority needs the sources in order",
        ),
        (
            lambda rules: rules.pop("primary_email"),
            r"vars.cdp_survivorship.primary_email is missing; give it a rule",
        ),
        (
            lambda rules: rules.update({"address": {"rule": "most_recent", "source": ["crm"]}}),
            r"vars.cdp_survivorship.address.source: unknown setting; use rule and sources",
        ),
    ],
    ids=[
        "unknown attribute",
        "unknown rule",
        "unknown source",
        "priority without sources",
        "missing",
        "typo",
    ],
)
def test_bad_survivorship_config_is_a_compile_error_naming_file_and_key(
    tmp_path: Path, change, message: str
) -> None:
    rules = shipped_rules()
    change(rules)
    warehouse = new_duckdb_warehouse(tmp_path)
    with pytest.raises(DbtError, match=r"dbt_project.yml: " + message):
        warehouse.dbt(
            "parse",
            "--vars",
            json.dumps({"cdp_survivorship": rules}),
            "--target-path",
            str(tmp_path / "target"),
        )
