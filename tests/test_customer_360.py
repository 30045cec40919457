"""customer_360 is the joins a BI user would otherwise write, one row per customer, and its column descriptions
reach the warehouse as comments."""

from __future__ import annotations

from test_marts import normalized

from conftest import Warehouse

JOINS = """
    with segments as (
        select customer_id, segment_name from segments.segment_memberships where exited_at is null
    ),
    last_events as (
        select customer_id, max(occurred_at) as last_event_at from marts.events group by customer_id
    )
    select
        customers.customer_id, customers.primary_email, customers.household_id, households.members,
        traits.orders, traits.revenue, traits.monetary_score, traits.has_email_consent, traits.has_marketing_consent,
        coalesce(last_events.last_event_at > traits.as_of_at - interval '30' day
                 and last_events.last_event_at <= traits.as_of_at, false),
        (select count(*) from segments where segments.customer_id = customers.customer_id)
    from marts.customers as customers
    join marts.customer_traits as traits on traits.customer_id = customers.customer_id
    left join marts.households as households on households.household_id = customers.household_id
    left join last_events on last_events.customer_id = customers.customer_id
"""
WIDE = """
    select
        customer_id, primary_email, household_id, household_members, orders, revenue, monetary_score,
        has_email_consent, has_marketing_consent, is_active_30d, segment_count
    from marts.customer_360
"""


def test_customer_360_equals_the_joins_it_replaces(built_warehouse: Warehouse) -> None:
    wide = normalized(built_warehouse.query(WIDE))
    assert wide == normalized(built_warehouse.query(JOINS))
    assert len(wide) == built_warehouse.scalar("select count(*) from marts.customers") > 0
    # The subsets are real subsets, so the named counts differ on the demo data.
    active, consented = built_warehouse.query(
        "select count(case when is_active_30d then 1 end), count(case when has_marketing_consent then 1 end)"
        " from marts.customer_360"
    )[0]
    assert 0 < active < len(wide) and 0 < consented < len(wide)
    segments = {
        (customer_id, name)
        for customer_id, names in built_warehouse.query(
            "select customer_id, current_segments from marts.customer_360 where current_segments is not null"
        )
        for name in names
    }
    assert segments and segments == set(
        built_warehouse.query(
            "select customer_id, segment_name from segments.segment_memberships where exited_at is null"
        )
    )
    # An array of text on each engine, queried as docs/customer_360.md shows.
    if built_warehouse.kind == "postgres":
        kind = "pg_typeof(current_segments)::text"
        in_segment = "'seg_high_value' = any(current_segments)"
    else:
        kind = "typeof(current_segments)"
        in_segment = "list_contains(current_segments, 'seg_high_value')"
    assert built_warehouse.scalar(f"select distinct {kind} from marts.customer_360") in {
        "text[]",
        "VARCHAR[]",
    }
    assert built_warehouse.scalar(
        f"select count(*) from marts.customer_360 where {in_segment}"
    ) == built_warehouse.scalar(
        "select count(*) from segments.segment_memberships where exited_at is null and segment_name = 'seg_high_value'"
    )
    forgotten = built_warehouse.scalar(
        "select count(*) from marts.customer_360 where customer_id in"
        " (select customer_id from privacy.suppressed_customers)"
    )
    assert forgotten == 0


def test_column_descriptions_reach_the_warehouse_as_comments(built_warehouse: Warehouse) -> None:
    if built_warehouse.kind == "postgres":
        comment = built_warehouse.scalar(
            "select col_description('marts.customer_360'::regclass, attnum) from pg_attribute"
            " where attrelid = 'marts.customer_360'::regclass and attname = 'is_active_30d'"
        )
        table_comment = built_warehouse.scalar("select obj_description('marts.customer_360'::regclass)")
    else:
        comment = built_warehouse.scalar(
            "select comment from duckdb_columns() where schema_name = 'marts'"
            " and table_name = 'customer_360' and column_name = 'is_active_30d'"
        )
        table_comment = built_warehouse.scalar(
            "select comment from duckdb_tables() where schema_name = 'marts' and table_name = 'customer_360'"
        )
    assert comment.startswith("An active customer: a web or app event in the 30 days up to as_of_at")
    assert table_comment.startswith("One wide row per customer for BI users")
