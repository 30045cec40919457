"""Customer-360 marts, privacy suppression, segments and their history, on DuckDB and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest

from conftest import REBUILD, Warehouse, copy_of_built

COMPARED = [
    "marts.customers",
    "marts.customer_traits",
    "marts.households",
    "marts.orders",
    "marts.events",
    "marts.time_spine_days",
    "segments.seg_high_value",
    "segments.seg_churn_risk",
    "segments.seg_new_customers",
    "segments.seg_cart_abandoners",
    "activation.sync_webhook__customers",
]


def normalized(rows: list[tuple]) -> list[tuple]:
    def value(item):
        if isinstance(item, float | decimal.Decimal):
            return round(float(item), 6)
        if isinstance(item, dt.datetime):
            return item.replace(tzinfo=None).isoformat(timespec="seconds")
        return item

    return sorted((tuple(value(item) for item in row) for row in rows), key=repr)


@pytest.mark.postgres
def test_marts_segments_and_activation_are_identical_on_duckdb_and_postgres(
    built_duckdb: Warehouse, built_postgres: Warehouse
) -> None:
    for relation in COMPARED:
        duck = normalized(built_duckdb.query(f"select * from {relation}"))
        pg = normalized(built_postgres.query(f"select * from {relation}"))
        assert len(duck) > 0, relation
        assert duck == pg, relation


def test_golden_record_takes_the_name_of_the_newest_crm_record(built_warehouse: Warehouse) -> None:
    mismatches = built_warehouse.query(
        """
        with newest as (
            select records.customer_id, contacts.first_name,
                   row_number() over (partition by records.customer_id order by contacts.updated_at desc, contacts.first_name) as rank_in_customer
            from staging.stg_crm__contacts as contacts
            join identity.identity_records as records
              on records.source_table = 'stg_crm__contacts' and records.record_id = contacts.contact_id
            where contacts.first_name is not null
        )
        select customers.customer_id from marts.customers as customers
        join newest on newest.customer_id = customers.customer_id and newest.rank_in_customer = 1
        where customers.name_source <> 'crm' or customers.first_name <> newest.first_name
        """
    )
    assert mismatches == []
    assert built_warehouse.scalar("select count(*) from marts.customers where name_source = 'crm'") > 100


def test_rfm_quintiles_follow_their_measure(built_warehouse: Warehouse) -> None:
    bounds = built_warehouse.query(
        "select monetary_score, min(revenue), max(revenue), count(*) from marts.customer_traits "
        "where orders > 0 group by monetary_score order by monetary_score"
    )
    assert [score for score, *_ in bounds] == [1, 2, 3, 4, 5]
    for (_, _, lower_max, _), (_, upper_min, _, _) in zip(bounds, bounds[1:], strict=False):
        assert lower_max <= upper_min
    assert (
        built_warehouse.scalar(
            "select count(*) from marts.customer_traits where orders = 0 and monetary_score is not null"
        )
        == 0
    )


def test_activation_only_holds_consented_unsuppressed_customers(built_warehouse: Warehouse) -> None:
    assert (
        built_warehouse.scalar(
            """
        select count(*) from activation.sync_webhook__customers as activation
        left join marts.customer_traits as traits on traits.customer_id = activation.customer_id
        left join privacy.suppressed_customers as suppressed on suppressed.customer_id = activation.customer_id
        where traits.has_email_consent is not true or suppressed.customer_id is not null
        """
        )
        == 0
    )
    assert built_warehouse.scalar("select count(*) from privacy.suppressed_customers") > 0


def test_orders_mart_holds_every_order_except_those_of_forgotten_customers(
    built_warehouse: Warehouse,
) -> None:
    expected = built_warehouse.query(
        """
        select orders.order_id, records.customer_id, orders.order_amount
        from staging.stg_shop__orders as orders
        left join identity.identity_records as records
          on records.source_table = 'stg_shop__orders' and records.record_id = orders.order_id
        where records.customer_id is null
           or records.customer_id not in (select customer_id from privacy.suppressed_customers)
        """
    )
    actual = built_warehouse.query("select order_id, customer_id, order_amount from marts.orders")
    assert normalized(actual) == normalized(expected)
    assert any(customer_id is None for _, customer_id, _ in actual)
    # Per customer, the mart's completed orders up to the traits' as-of moment are the traits' figures.
    mismatched = built_warehouse.query(
        """
        with by_customer as (
            select customer_id, count(*) as orders, sum(reporting_order_amount) as revenue
            from marts.orders
            where is_completed and ordered_at <= (select max(as_of_at) from marts.customer_traits)
            group by customer_id
        )
        select traits.customer_id from marts.customer_traits as traits
        left join by_customer on by_customer.customer_id = traits.customer_id
        where traits.orders <> coalesce(by_customer.orders, 0)
           or abs(traits.revenue - coalesce(by_customer.revenue, 0)) > 0.001
        """
    )
    assert mismatched == []
    lines = built_warehouse.query(
        """
        select orders.order_id from marts.orders as orders
        left join (select order_id, count(*) as lines, sum(quantity) as units
                   from staging.stg_shop__order_items group by order_id) as items
          on items.order_id = orders.order_id
        where orders.order_lines <> coalesce(items.lines, 0) or orders.units <> coalesce(items.units, 0)
        """
    )
    assert lines == []


def test_events_mart_holds_web_and_app_events_of_remaining_customers(built_warehouse: Warehouse) -> None:
    per_type = dict(
        built_warehouse.query("select event_type, count(*) from marts.events group by event_type")
    )
    for event_type, model, key in [
        ("track", "stg_segment__tracks", "track_id"),
        ("page", "stg_segment__pages", "page_id"),
        ("app", "stg_app__events", "app_event_id"),
    ]:
        kept = built_warehouse.scalar(
            f"""
            select count(*) from staging.{model} as events
            left join identity.identity_records as records
              on records.source_table = '{model}' and records.record_id = events.{key}
            where records.customer_id is null
               or records.customer_id not in (select customer_id from privacy.suppressed_customers)
            """
        )
        assert per_type[event_type] == kept > 0, event_type
    assert (
        built_warehouse.scalar(
            "select count(*) from marts.events where customer_id in (select customer_id from privacy.suppressed_customers)"
        )
        == 0
    )


def test_households_group_the_customers_sharing_an_address(built_warehouse: Warehouse) -> None:
    households = built_warehouse.query(
        "select household_id, members, member_customer_ids, street, revenue from marts.households"
    )
    customers = built_warehouse.query(
        """
        select customers.household_id, customers.customer_id, customers.street, traits.revenue
        from marts.customers as customers join marts.customer_traits as traits using (customer_id)
        where customers.household_id is not null
        """
    )
    expected: dict[str, list[tuple]] = {}
    for household_id, customer_id, street, revenue in customers:
        expected.setdefault(household_id, []).append((customer_id, street, revenue))
    assert {row[0] for row in households} == set(expected)
    for household_id, members, member_ids, street, revenue in households:
        people = sorted(expected[household_id])
        assert members == len(people) and member_ids.split(",") == [person[0] for person in people]
        assert street == people[0][1]
        assert revenue == pytest.approx(sum(person[2] for person in people))
    assert max(row[1] for row in households) >= 2


# Both engines: the incremental models these tests rebuild run through per-adapter SQL (dbt's incremental
# strategies, delete_changed_keys, mint_customer_id, the connected components of PostgreSQL's own macro).
@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def own_warehouse(request: pytest.FixtureRequest) -> Warehouse:
    """The built demo in a warehouse of the test's own (a copy, not another whole build): it changes data."""
    return copy_of_built(request.param, request)


def marker(warehouse: Warehouse) -> str:
    return "%s" if warehouse.kind == "postgres" else "?"


# What the tests below read, and everything upstream: the other activation models and the identity reports
# are not built again.
FORGET_READS = (
    "--select",
    "+households",
    "+orders",
    "+events",
    "+segment_memberships",
    "+sync_webhook__customers",
    "+privacy_requests_applied",
)
SEGMENTS_READ = ("--select", "+segment_memberships")


def test_forgotten_customers_stay_gone_after_full_refresh_and_replay(own_warehouse: Warehouse) -> None:
    warehouse = own_warehouse
    q = marker(warehouse)
    # A buyer with web or app events who lives in a household, so every mart holds them before the request.
    customer_id, email = warehouse.query(
        """
        select activation.customer_id, activation.email
        from activation.sync_webhook__customers as activation
        join marts.customers as customers on customers.customer_id = activation.customer_id
        where activation.orders > 0 and customers.household_id is not null
          and activation.customer_id in (select customer_id from marts.events)
        order by activation.customer_id limit 1
        """
    )[0]
    member_of_households = f"select count(*) from marts.households where member_customer_ids like {q}"
    assert warehouse.scalar(member_of_households, (f"%{customer_id}%",)) == 1
    warehouse.execute(
        f"insert into raw.privacy_requests (request_id, email, request_type, requested_at) values ('prq_test', {q}, 'deletion', timestamp '2026-08-15 12:00:00')",
        (email,),
    )
    warehouse.dbt(*REBUILD, *FORGET_READS)
    assert warehouse.scalar(member_of_households, (f"%{customer_id}%",)) == 0
    for relation in [
        "marts.customers",
        "marts.customer_traits",
        "marts.orders",
        "marts.events",
        "activation.sync_webhook__customers",
        "segments.segment_memberships",
    ]:
        gone = warehouse.scalar(
            f"select count(*) from {relation} where customer_id = {q} and "
            + ("exited_at is null" if "memberships" in relation else "1 = 1"),
            (customer_id,),
        )
        assert gone == 0, relation
    applied = warehouse.query(
        "select customer_ids, identifiers_suppressed from privacy.privacy_requests_applied where privacy_request_id = 'prq_test'"
    )
    assert applied and customer_id in applied[0][0] and applied[0][1] >= 1

    # A replay of an old event of theirs arrives after a full refresh: they must not come back.
    warehouse.execute(
        f"insert into raw.crm_contacts (contact_id, email, first_name, created_at, updated_at) values ('crm_replayed', {q}, 'Again', timestamp '2026-08-20 00:00:00', timestamp '2026-08-20 00:00:00')",
        (email,),
    )
    warehouse.dbt(*REBUILD, *FORGET_READS, "--full-refresh")
    assert (
        warehouse.scalar(f"select count(*) from marts.customers where all_emails like {q}", (f"%{email}%",))
        == 0
    )
    assert (
        warehouse.scalar(
            f"select count(*) from activation.sync_webhook__customers where email = {q}", (email,)
        )
        == 0
    )


def test_segment_history_across_three_builds(own_warehouse: Warehouse) -> None:
    warehouse = own_warehouse
    q = marker(warehouse)
    newcomer, email = warehouse.query(
        """
        select customers.customer_id, customers.primary_email
        from marts.customers as customers join marts.customer_traits as traits using (customer_id)
        where traits.orders = 0 and traits.has_marketing_consent and customers.primary_email is not null
        order by customers.customer_id limit 1
        """
    )[0]
    assert (
        warehouse.scalar(
            f"select count(*) from segments.segment_memberships where customer_id = {q}", (newcomer,)
        )
        == 0
    )
    latest_order, latest_load = warehouse.query("select max(ordered_at), max(received_at) from raw.orders")[0]
    warehouse.execute(
        f"insert into raw.orders (order_id, channel, email, status, currency, total_amount, ordered_at, received_at) "
        f"values ('ord_newcomer', 'online', {q}, 'completed', 'USD', 42.0, {q}, {q})",
        (email, latest_order, latest_load),
    )
    warehouse.execute(
        "insert into raw.order_items values ('ord_newcomer_0', 'ord_newcomer', 'prd_1', 'shoes', 1, 42.0)"
    )
    warehouse.dbt(*REBUILD, *SEGMENTS_READ)
    entered = warehouse.query(
        f"select segment_name, entered_at, exited_at from segments.segment_memberships "
        f"where customer_id = {q} and segment_name = 'seg_new_customers'",
        (newcomer,),
    )
    assert [(segment, exited) for segment, _, exited in entered] == [("seg_new_customers", None)]

    warehouse.execute("delete from raw.order_items where order_id = 'ord_newcomer'")
    warehouse.execute("delete from raw.orders where order_id = 'ord_newcomer'")
    warehouse.dbt(*REBUILD, *SEGMENTS_READ)
    history = warehouse.query(
        f"select segment_name, entered_at, exited_at from segments.segment_memberships "
        f"where customer_id = {q} and segment_name = 'seg_new_customers'",
        (newcomer,),
    )
    assert len(history) == 1
    segment, entered_at, exited_at = history[0]
    assert segment == "seg_new_customers" and exited_at is not None and exited_at > entered_at
    total_open = warehouse.scalar("select count(*) from segments.segment_memberships where exited_at is null")
    current = sum(
        warehouse.scalar(f"select count(*) from segments.{name}")
        for name in (
            "seg_high_value",
            "seg_churn_risk",
            "seg_new_customers",
            "seg_cart_abandoners",
            "seg_declared",
        )
    )
    assert total_open == current
