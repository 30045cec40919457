"""`cdp identity explain` prints a real chain of records between two identifiers, or why one was excluded."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from conftest import Warehouse
from reverse_etl.cli import cli


@pytest.fixture
def in_warehouse(built_duckdb: Warehouse, monkeypatch: pytest.MonkeyPatch) -> Warehouse:
    for key, value in built_duckdb.env.items():
        monkeypatch.setenv(key, value)
    return built_duckdb


def test_explain_prints_a_chain_of_records_that_really_link_the_two(in_warehouse: Warehouse) -> None:
    email, anonymous_id, customer_id = in_warehouse.query(
        """
        select email.identifier_value, anonymous.identifier_value, email.customer_id
        from identity.identity_graph as email
        join identity.identity_graph as anonymous using (customer_id)
        where email.identifier_type = 'email' and anonymous.identifier_type = 'anonymous_id'
        order by 1, 2 limit 1
        """
    )[0]
    result = CliRunner().invoke(cli, ["identity", "explain", f"email:{email}", anonymous_id])
    assert result.exit_code == 0, result.output
    assert f"belongs to customer {customer_id}" in result.output
    hops = re.findall(r"^  (\S+) -- (\S+) (\S+) -- (\S+)$", result.output, flags=re.MULTILINE)
    assert hops, result.output
    assert hops[0][0] == f"email:{email}"
    assert hops[-1][3] == f"anonymous_id:{anonymous_id}"
    for (_, _, _, right), (left, _, _, _) in zip(hops, hops[1:], strict=False):
        assert right == left, "each hop starts where the previous ended"
    for _, source_table, record_id, _ in hops:
        assert in_warehouse.query(
            "select customer_id from identity.identity_records where source_table = ? and record_id = ?",
            (source_table, record_id),
        ) == [(customer_id,)]


def test_explain_says_why_a_placeholder_is_excluded(in_warehouse: Warehouse) -> None:
    result = CliRunner().invoke(cli, ["identity", "explain", "email:test@test.com"])
    assert result.exit_code == 0
    assert "email:test@test.com is excluded from the graph: blocklisted" in result.output


def test_explain_names_an_unknown_identifier(in_warehouse: Warehouse) -> None:
    result = CliRunner().invoke(cli, ["identity", "explain", "email:nobody@nowhere.invalid"])
    assert result.exit_code != 0
    assert "was not seen in any source" in str(result.exception)
