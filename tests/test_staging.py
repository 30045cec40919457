"""Staging cleans what it should, the same way on DuckDB and PostgreSQL."""

from __future__ import annotations

import re

import pytest

from conftest import Warehouse, copy_of_built
from reverse_etl.errors import DbtError

STAGED_WITH_CONTACT_DATA = {
    "stg_segment__identifies": ("identifies", "id", "identify_id"),
    "stg_crm__contacts": ("crm_contacts", "contact_id", "contact_id"),
    "stg_shop__orders": ("orders", "order_id", "order_id"),
    "stg_support__tickets": ("support_tickets", "ticket_id", "ticket_id"),
    "stg_privacy__consents": ("consents", "consent_id", "consent_id"),
}
ALL_STAGED = {
    **STAGED_WITH_CONTACT_DATA,
    "stg_segment__tracks": ("tracks", "id", "track_id"),
    "stg_segment__pages": ("pages", "id", "page_id"),
    "stg_app__events": ("app_events", "event_id", "app_event_id"),
    "stg_shop__order_items": ("order_items", "order_item_id", "order_item_id"),
    "stg_esp__email_events": ("email_events", "event_id", "email_event_id"),
    "stg_dmp__cookie_syncs": ("cookie_syncs", "sync_id", "cookie_sync_id"),
    "stg_privacy__requests": ("privacy_requests", "request_id", "privacy_request_id"),
}
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
PLACEHOLDER_PHONES = (
    "0000000000",
    "000-000-0000",
    "1111111111",
    "123-456-7890",
    "+1 000 000 0000",
    "9999999999",
    "n/a",
)


def test_staging_keeps_every_raw_record(built_warehouse: Warehouse) -> None:
    for model, (raw_table, _, _) in ALL_STAGED.items():
        staged = built_warehouse.scalar(f"select count(*) from staging.{model}")
        raw = built_warehouse.scalar(f"select count(*) from raw.{raw_table}")
        assert staged == raw > 0, model


def test_emails_are_trimmed_and_lower_cased(built_warehouse: Warehouse) -> None:
    for model, (raw_table, raw_key, key) in STAGED_WITH_CONTACT_DATA.items():
        pairs = built_warehouse.query(
            f"select r.email, s.email from raw.{raw_table} as r join staging.{model} as s on s.{key} = r.{raw_key}"
        )
        for raw, staged in pairs:
            expected = raw.strip().lower() if raw is not None and raw.strip() else None
            assert staged == expected, (model, raw, staged)


def test_phones_are_e164_and_almost_all_real_phones_parse(built_warehouse: Warehouse) -> None:
    parsed = readable = 0
    for model, (raw_table, raw_key, key) in STAGED_WITH_CONTACT_DATA.items():
        pairs = built_warehouse.query(
            f"select r.phone, s.phone from raw.{raw_table} as r join staging.{model} as s on s.{key} = r.{raw_key} "
            "where r.phone is not null"
        )
        for raw, staged in pairs:
            assert staged is None or E164.match(staged), (model, raw, staged)
            if raw.strip() not in PLACEHOLDER_PHONES:
                readable += 1
                parsed += staged is not None
    assert readable > 100
    assert parsed / readable > 0.99, f"{readable - parsed} of {readable} real phone numbers did not parse"


def test_the_same_person_spelled_differently_normalizes_to_one_phone(built_warehouse: Warehouse) -> None:
    spellings = built_warehouse.query(
        """
        select count(distinct phone_raw), count(distinct phone)
        from staging.stg_crm__contacts
        where phone is not null
        """
    )[0]
    assert spellings[1] < spellings[0], "normalization should fold different spellings of the same numbers"


@pytest.mark.postgres
def test_normalized_identifiers_are_identical_on_duckdb_and_postgres(
    built_duckdb: Warehouse, built_postgres: Warehouse
) -> None:
    for model, (_, _, key) in STAGED_WITH_CONTACT_DATA.items():
        sql = f"select {key}, email, phone from staging.{model} order by {key}"
        assert built_duckdb.query(sql) == built_postgres.query(sql), model


def test_an_unknown_default_country_is_a_compile_error_naming_the_var(generated_duckdb: Warehouse) -> None:
    with pytest.raises(DbtError, match="cdp_default_country"):
        generated_duckdb.dbt(
            "compile", "--select", "stg_crm__contacts", "--vars", "{cdp_default_country: XX}"
        )


@pytest.mark.parametrize("kind", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_the_e164_data_test_fails_on_each_malformed_phone_and_passes_nulls(
    kind: str, request: pytest.FixtureRequest
) -> None:
    warehouse = copy_of_built(kind, request)
    # The view the data test reads, replaced by known values (renamed first: views are built on it).
    warehouse.execute("alter view staging.stg_crm__contacts rename to stg_crm__contacts_built")
    warehouse.execute(
        "create view staging.stg_crm__contacts as select phone from"
        " (values ('+15550100123'), ('555-0100'), ('+0123456789'), (null)) as phones (phone)"
    )
    tested = warehouse.dbt(
        "test", "--select", "is_e164_phone_stg_crm__contacts_phone", raise_on_failure=False
    )
    assert [(str(node.status), node.failures) for node in tested.results] == [("fail", 2)]
