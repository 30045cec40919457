"""The profile API normalizes an identifier the way the identity layer does: the SQL macros (staging's
normalize_email / normalize_phone, then each type's normalize_identifier rule from vars.cdp_identity) and
reverse_etl.profiles.normalize give the same answer on the same inputs, on DuckDB and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import ROOT, WAREHOUSES, Warehouse, fresh_warehouse
from reverse_etl.profiles.normalize import load_rules

EMAILS = [
    "Jane.Doe@Example.COM",
    "  jane.doe@example.com  ",
    "J.a.n.e.Doe+news@GMail.com",
    "jane.doe+x+y@googlemail.com",
    "JANE@gmail.com.evil.example",
    "a@b@gmail.com",
    "no-at-sign",
    "   ",
    "",
    "Zoë@Example.de",
    "tab\t@example.com",
]
PHONES = [
    "(415) 555-0100",
    "+1 415 555 0100",
    "1-415-555-0100",
    "415.555.0100 x12",
    "415-555-0100 ext. 7",
    "415 555 0100 extension 99",
    "011 44 20 7946 0958",
    "0044 20 7946 0958",
    "+44 (0)20 7946 0958",
    "+33 1 23 45 67 89",
    "555-0100",
    "+1 555 0100",
    "call me",
    "4155550100a",
    "  +49 30 1234567  ",
    "",
    "000-000-0000",
    "+0 123 456 789",
]
OTHERS = [("device_id", " ABCDEF12-3456-7890 "), ("anonymous_id", "  Anon-XYZ "), ("user_id", " U-42 ")]


def _cases() -> list[tuple[str, str]]:
    return [("email", value) for value in EMAILS] + [("phone", value) for value in PHONES] + OTHERS


def _sql_answers(warehouse: Warehouse, tmp_path: Path) -> list[tuple[str, str, str | None]]:
    """Compile the project's macros over the inputs with dbt, then run the SQL on the warehouse."""
    cases = _cases()
    values = ", ".join(f"({index}, '{kind}', '{value}')" for index, (kind, value) in enumerate(cases))
    inline = (
        "{%- set types = cdp.identity_config().identifier_types -%}\n"
        "select position, kind, input, case "
        "when kind = 'email' then {{ cdp.normalize_identifier(cdp.normalize_email('input'), types.email) }} "
        "when kind = 'phone' then {{ cdp.normalize_identifier(cdp.normalize_phone('input'), types.phone) }} "
        "when kind = 'device_id' then {{ cdp.normalize_identifier('input', types.device_id) }} "
        "when kind = 'anonymous_id' then {{ cdp.normalize_identifier('input', types.anonymous_id) }} "
        "else {{ cdp.normalize_identifier('input', types.user_id) }} end as normalized "
        f"from (values {values}) as cases (position, kind, input) order by position"
    )
    # normalize_phone reads the default country's dialling plan from its seed at compile time.
    warehouse.dbt("seed", "--select", "country_phone_plans", "--quiet")
    result = warehouse.dbt("compile", "--inline", inline, "--quiet")
    compiled = result.results[0].node.compiled_code
    return [(kind, value, normalized) for _, kind, value, normalized in warehouse.query(compiled)]


@pytest.mark.parametrize("kind", WAREHOUSES)
def test_python_normalization_matches_the_identity_macros(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    warehouse = fresh_warehouse(kind, request, tmp_path, "cdp_normalize")
    rules = load_rules(ROOT)
    sql = _sql_answers(warehouse, tmp_path)
    python = [(kind, value, rules.normalize(kind, value)) for kind, value in _cases()]
    assert python == sql
    # The inputs exercise the rules rather than agreeing on nulls alone.
    answers = {value: normalized for _, value, normalized in sql}
    assert answers["J.a.n.e.Doe+news@GMail.com"] == "janedoe@gmail.com"
    assert answers["  jane.doe@example.com  "] == "jane.doe@example.com"
    assert answers["415.555.0100 x12"] == answers["(415) 555-0100"] == "+14155550100"
    assert answers["011 44 20 7946 0958"] == "+442079460958"
    assert answers[" ABCDEF12-3456-7890 "] == "abcdef12-3456-7890"
    assert answers["call me"] is None
