"""GDPR suppression inside the identity layer: a forgotten customer's identifiers leave identity_graph, link
nobody, and their id retires in customer_id_history, also after --full-refresh and a replay of their old
events, while every other customer keeps its id. On DuckDB and PostgreSQL."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from conftest import REBUILD, Warehouse, copy_of_built
from identity_queries import customers
from reverse_etl.cli import cli

REQUEST = "prq_identity_test"


# Both engines: suppression runs through the identity layer's per-adapter SQL (PostgreSQL's own connected
# components, the dispatched delete_changed_keys and mint_customer_id).
@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse(request: pytest.FixtureRequest) -> Warehouse:
    """The built demo in a warehouse of the test's own (a copy, not another whole build): it changes data."""
    return copy_of_built(request.param, request)


def explain(warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch, identifier: str) -> str:
    for key, value in warehouse.env.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(cli, ["identity", "explain", identifier])
    assert result.exit_code == 0, result.output
    return result.output


def test_a_forgotten_customer_leaves_the_identity_graph_and_stays_out(
    warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    mark = "%s" if warehouse.kind == "postgres" else "?"
    # A buyer with an email, a phone and web or app events, present in the activation models.
    customer_id, email = warehouse.query(
        """
        select activation.customer_id, activation.email
        from activation.sync_webhook__customers as activation
        where activation.orders > 0
          and activation.customer_id in (select customer_id from marts.events)
          and activation.customer_id in (select customer_id from identity.identity_graph where identifier_type = 'phone')
        order by activation.customer_id limit 1
        """
    )[0]
    before = customers(warehouse)
    forgotten = before[customer_id]
    phone = min(value for kind, value in forgotten if kind == "phone")
    other_id, other_email = warehouse.query(
        f"""
        select customer_id, min(identifier_value) from identity.identity_graph
        where identifier_type = 'email' and customer_id <> {mark}
        group by customer_id order by customer_id limit 1
        """,
        (customer_id,),
    )[0]
    records_before = warehouse.scalar(
        f"select count(*) from identity.identity_records where customer_id = {mark}", (customer_id,)
    )
    assert len(forgotten) >= 3 and records_before >= 3

    warehouse.execute(
        "insert into raw.privacy_requests (request_id, email, request_type, requested_at) "
        f"values ('{REQUEST}', {mark}, 'deletion', timestamp '2026-08-15 12:00:00')",
        (email,),
    )
    warehouse.dbt(*REBUILD)

    after = customers(warehouse)
    in_graph = set().union(*after.values())
    assert not forgotten & in_graph, "no identifier of the forgotten customer is in identity_graph"
    assert customer_id not in after
    assert {k: v for k, v in before.items() if k != customer_id} == after, "every other customer is unchanged"
    history = warehouse.query(
        "select change_type, related_customer_id, privacy_request_id, changed_at from identity.customer_id_history "
        f"where customer_id = {mark}",
        (customer_id,),
    )
    retires = [row for row in history if row[0] == "retire"]
    assert len(retires) == 1 and retires[0][1:3] == (None, REQUEST) and retires[0][3] is not None
    # Their records (the request's own too) still belong to the retired id, unresolved, and it is suppressed.
    records = warehouse.query(
        f"select source_table, record_id, is_resolved from identity.identity_records where customer_id = {mark}",
        (customer_id,),
    )
    assert len(records) == records_before + 1
    assert ("stg_privacy__requests", REQUEST, False) in records
    assert not any(resolved for _, _, resolved in records)
    assert (
        warehouse.scalar(
            f"select count(*) from privacy.suppressed_customers where customer_id = {mark}", (customer_id,)
        )
        == 1
    )
    reasons = {
        (kind, value): reason
        for kind, value, reason in warehouse.query(
            "select identifier_type, identifier_value, exclusion_reason from identity.identity_excluded_identifiers"
        )
    }
    for identifier in forgotten:
        assert reasons.get(identifier) == f"suppressed (privacy request {REQUEST})", identifier
    # Already in the build that applied the request, explain gives the reason.
    assert f"email:{email} is excluded from the graph: suppressed (privacy request {REQUEST})" in explain(
        warehouse, monkeypatch, f"email:{email}"
    )

    def held_by_marts() -> list[str]:
        held = []
        for relation in [
            "marts.customers",
            "marts.customer_traits",
            "marts.orders",
            "marts.events",
            "segments.seg_high_value",
            "segments.seg_churn_risk",
            "segments.seg_new_customers",
            "segments.seg_cart_abandoners",
            "activation.sync_webhook__customers",
            "activation.sync_ads__audience_members",
        ]:
            if warehouse.scalar(
                f"select count(*) from {relation} where customer_id = {mark}", (customer_id,)
            ):
                held.append(relation)
        emails = warehouse.scalar(
            f"select count(*) from marts.customers where all_emails like {mark}", (f"%{email}%",)
        )
        return held + (["marts.customers.all_emails"] if emails else [])

    assert held_by_marts() == []

    # Their old events come back after a full refresh: a CRM contact with their email and a new phone, and a
    # web identify pairing their phone with another customer's email. Neither re-creates nor links anyone.
    warehouse.execute(
        "insert into raw.crm_contacts (contact_id, email, phone, first_name, created_at, updated_at) values "
        f"('crm_replayed', {mark}, '+1 202 555 0147', 'Again', timestamp '2026-08-20 00:00:00', timestamp '2026-08-20 00:00:00')",
        (email,),
    )
    warehouse.execute(
        "insert into raw.identifies (id, anonymous_id, email, phone, timestamp, received_at) values "
        f"('idf_replayed', null, {mark}, {mark}, timestamp '2026-08-20 00:00:00', timestamp '2026-08-20 00:00:00')",
        (other_email, phone),
    )
    warehouse.dbt(*REBUILD, "--full-refresh")

    replayed = customers(warehouse)
    assert replayed == after, "the replay re-created or re-linked nobody; every id is kept"
    assert ("phone", "+12025550147") not in set().union(*replayed.values())
    assert held_by_marts() == []
    assert warehouse.scalar(
        f"select count(*) from identity.customer_id_history where customer_id = {mark}", (customer_id,)
    ) == len(history), "the forgotten id is not minted or retired again"
    replayed_records = warehouse.query(
        "select record_id, customer_id, is_resolved from identity.identity_records "
        "where record_id in ('crm_replayed', 'idf_replayed') order by record_id"
    )
    assert replayed_records == [("crm_replayed", customer_id, False), ("idf_replayed", customer_id, False)]
    assert other_id in replayed and ("email", other_email) in replayed[other_id]

    output = explain(warehouse, monkeypatch, f"email:{email}")
    assert f"email:{email} is excluded from the graph: suppressed (privacy request {REQUEST})" in output
