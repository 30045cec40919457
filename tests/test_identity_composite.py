"""Composite identifiers (several columns as one identifier, each part normalized by its own rule) on hand-made
CRM contacts: formatting differences still match, a missing part is no key, and the blocklist, hub and
max_per_customer rules apply to the key as to any identifier. One build per warehouse (DuckDB, PostgreSQL)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from conftest import ROOT, Warehouse, fresh_warehouse
from reverse_etl.cli import cli
from reverse_etl.errors import DbtError
from reverse_etl.generator.schema import RAW_TABLES

# (contact_id, email, first_name, last_name, street, postal_code, created_at)
CONTACTS = [
    # One household written two ways: the name_address key matches.
    ("c_obrien_1", "a@one.org", "Jane", "O'Brien", "12 Main St.", "sw1a 1aa", "2026-03-05 10:00:00"),
    ("c_obrien_2", "b@two.org", "Jim", "OBRIEN", " 12 main st", "SW1A1AA", "2026-03-06 18:30:00"),
    # Same surname and postcode but no street: no key, so a customer of its own.
    ("c_obrien_3", "c@three.org", "Jo", "O'Brien", None, "SW1A 1AA", "2026-03-06 18:30:00"),
    # A placeholder surname: the key is blocklisted, the two stay apart.
    ("c_unknown_1", "d@four.org", "Ann", "Unknown", "1 High St", "AB1 2CD", "2026-03-07 09:00:00"),
    ("c_unknown_2", "e@five.org", "Bob", "unknown", "1 High St", "AB1 2CD", "2026-03-07 09:00:00"),
    # Four strangers at one address (a care home): the key is a hub (max_linked_identifiers 5: four emails, four name_day keys).
    ("c_lee_1", "f@six.org", "Al", "Lee", "5 Elm Rd", "ZZ1 1ZZ", "2026-03-08 09:00:00"),
    ("c_lee_2", "g@six.org", "Bo", "Lee", "5 Elm Rd", "ZZ1 1ZZ", "2026-03-08 09:00:00"),
    ("c_lee_3", "h@six.org", "Cy", "Lee", "5 Elm Rd", "ZZ1 1ZZ", "2026-03-08 09:00:00"),
    ("c_lee_4", "i@six.org", "Di", "Lee", "5 Elm Rd", "ZZ1 1ZZ", "2026-03-08 09:00:00"),
    # One email at two addresses: max_per_customer 1 cuts one address off.
    ("c_park_1", "m@park.org", "Kim", "Park", "1 A St", "P1 1AA", "2026-03-09 09:00:00"),
    ("c_park_2", "m@park.org", "Kim", "Park", "2 B St", "P2 2BB", "2026-03-10 09:00:00"),
]
NAME_ADDRESS = {
    "priority": 8,
    "parts": {"last_name": "compact", "street": "compact", "postal_code": "compact"},
    "blocklist_regex": ["^unknown[|]"],
    "max_per_customer": 1,
    "max_linked_identifiers": 5,
}
NAME_DAY = {"priority": 9, "parts": {"first_name": "compact", "last_name": "compact", "created_at": "date"}}


def identity_vars(change: Callable[[dict[str, Any]], None] | None = None) -> str:
    """The project's identity config with CRM contacts as the only source, carrying two composite keys."""
    config = yaml.safe_load((ROOT / "dbt_project.yml").read_text())["vars"]["cdp_identity"]
    crm = next(source for source in config["sources"] if source["model"] == "stg_crm__contacts")
    crm["identifiers"] = {"email": "email"}
    crm["composite_identifiers"] = {
        "name_address": ["last_name", "street", "postal_code"],
        "name_day": ["first_name", "last_name", "created_at"],
    }
    config["sources"] = [crm]
    config["identifier_types"].update(copy.deepcopy({"name_address": NAME_ADDRESS, "name_day": NAME_DAY}))
    if change is not None:
        change(config)
    return json.dumps({"cdp_identity": config})


@pytest.fixture(scope="module", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def contacts_warehouse(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    warehouse = fresh_warehouse(request.param, request, tmp_path_factory.mktemp("composite"), "cdp_cmp")
    warehouse.generate(people=1, seed=1)
    for table in RAW_TABLES:
        warehouse.execute(f"delete from raw.{table}")
    mark = "%s" if warehouse.kind == "postgres" else "?"
    for contact in CONTACTS:
        warehouse.execute(
            "insert into raw.crm_contacts (contact_id, email, first_name, last_name, street, postal_code, "
            f"created_at, updated_at) values ({', '.join([mark] * 6)}, "
            f"cast({mark} as timestamp), cast({mark} as timestamp))",
            (*contact, contact[-1]),
        )
    warehouse.dbt(
        "build",
        "--select",
        "+identity_graph",
        "+identity_records",
        "+identity_excluded_identifiers",
        "--indirect-selection",
        "cautious",
        "--vars",
        identity_vars(),
    )
    return warehouse


def customer_of_record(warehouse: Warehouse) -> dict[str, str]:
    return dict(warehouse.query("select record_id, customer_id from identity.identity_records"))


def keys(warehouse: Warehouse, identifier_type: str) -> dict[str, tuple[str, str | None]]:
    """record_id -> (normalized key, exclusion reason) for one composite type."""
    rows = warehouse.query(
        "select record_id, identifier_value, exclusion_reason from intermediate.int_identifiers_validated "
        f"where identifier_type = '{identifier_type}'"
    )
    return {record_id: (value, reason) for record_id, value, reason in rows}


def test_parts_are_normalized_each_by_its_rule(contacts_warehouse: Warehouse) -> None:
    name_address = keys(contacts_warehouse, "name_address")
    assert name_address["c_obrien_1"] == ("obrien|12mainst|sw1a1aa", None)
    assert name_address["c_obrien_2"] == ("obrien|12mainst|sw1a1aa", None)
    # A date part ignores the time of day and reads the same on every warehouse.
    name_day = keys(contacts_warehouse, "name_day")
    assert name_day["c_obrien_1"] == ("jane|obrien|2026-03-05", None)
    assert name_day["c_obrien_2"] == ("jim|obrien|2026-03-06", None)


def test_a_shared_key_links_records_and_a_missing_part_is_no_key(contacts_warehouse: Warehouse) -> None:
    customer = customer_of_record(contacts_warehouse)
    assert customer["c_obrien_1"] == customer["c_obrien_2"]
    assert "c_obrien_3" not in keys(contacts_warehouse, "name_address")
    assert customer["c_obrien_3"] != customer["c_obrien_1"]


def test_a_blocklisted_key_links_nobody(contacts_warehouse: Warehouse) -> None:
    name_address = keys(contacts_warehouse, "name_address")
    assert name_address["c_unknown_1"] == ("unknown|1highst|ab12cd", "blocklisted")
    customer = customer_of_record(contacts_warehouse)
    assert customer["c_unknown_1"] != customer["c_unknown_2"]


def test_a_key_shared_by_too_many_strangers_is_a_hub(contacts_warehouse: Warehouse) -> None:
    hub = contacts_warehouse.query(
        "select exclusion_reason, linked_identifiers from identity.identity_excluded_identifiers "
        "where identifier_type = 'name_address' and identifier_value = 'lee|5elmrd|zz11zz'"
    )
    assert hub == [("hub", 8)]
    customer = customer_of_record(contacts_warehouse)
    assert len({customer[f"c_lee_{n}"] for n in range(1, 5)}) == 4


def test_max_per_customer_applies_to_a_composite_key(contacts_warehouse: Warehouse) -> None:
    held = contacts_warehouse.query(
        "select customer_id, identifier_value from identity.identity_graph where identifier_type = 'name_address' "
        "and identifier_value like 'park|%'"
    )
    assert sorted(value for _, value in held) == ["park|1ast|p11aa", "park|2bst|p22bb"]
    assert len({customer for customer, _ in held}) == 2, "one customer holds at most one name_address"
    per_customer = contacts_warehouse.scalar(
        "select max(keys) from (select customer_id, count(*) as keys from identity.identity_graph "
        "where identifier_type = 'name_address' group by customer_id) as counted"
    )
    assert per_customer == 1


def drop_part(config: dict[str, Any]) -> None:
    config["sources"][0]["composite_identifiers"]["name_address"] = ["last_name", "postal_code"]


def unknown_rule(config: dict[str, Any]) -> None:
    config["identifier_types"]["name_address"]["parts"]["street"] = "soundex"


def composite_as_column(config: dict[str, Any]) -> None:
    config["sources"][0]["identifiers"]["last_name"] = "name_address"


def normalize_on_composite(config: dict[str, Any]) -> None:
    config["identifier_types"]["name_address"]["normalize"] = "lower"


def missing_column(config: dict[str, Any]) -> None:
    config["sources"][0]["composite_identifiers"]["name_day"] = ["first_name", "last_name", "birth_date"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            drop_part,
            r"sources\[0\].composite_identifiers.name_address must list 3 columns of stg_crm__contacts, "
            r"one per part in order: last_name, street, postal_code",
        ),
        (
            unknown_rule,
            r"identifier_types.name_address.parts.street must be one of trim, lower, compact, digits, date, "
            r"got soundex",
        ),
        (
            composite_as_column,
            r"sources\[0\].identifiers.last_name: 'name_address' is a composite key; list its columns under",
        ),
        (
            normalize_on_composite,
            r"identifier_types.name_address.normalize applies to single-column identifiers",
        ),
        (
            missing_column,
            r"sources\[0\] \(stg_crm__contacts\): column 'birth_date' does not exist in stg_crm__contacts",
        ),
    ],
    ids=[
        "part count",
        "unknown part rule",
        "composite as a column",
        "normalize on a composite",
        "missing column",
    ],
)
def test_a_bad_composite_key_is_a_compile_error_naming_the_key(
    contacts_warehouse: Warehouse, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    warehouse = contacts_warehouse
    if warehouse.kind != "duckdb":
        pytest.skip("configuration errors are checked at compile time, the same on every warehouse")
    with pytest.raises(DbtError, match=r"dbt_project.yml: vars.cdp_identity." + message):
        warehouse.dbt("compile", "--select", "int_identifiers_unioned", "--vars", identity_vars(change))


def test_explain_shows_the_records_a_composite_key_linked(
    contacts_warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in contacts_warehouse.env.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(cli, ["identity", "explain", "email:a@one.org", "email:b@two.org"])
    assert result.exit_code == 0, result.output
    assert "are linked through 2 records:" in result.output
    assert (
        "email:a@one.org -- stg_crm__contacts c_obrien_1 -- name_address:obrien|12mainst|sw1a1aa"
        in result.output
    )
    assert (
        "name_address:obrien|12mainst|sw1a1aa -- stg_crm__contacts c_obrien_2 -- email:b@two.org"
        in result.output
    )
