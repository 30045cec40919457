"""Reference data lives in seeds/: orders are converted at the currency_rates of their date, and phones are read
with the dialling plan of country_phone_plans."""

from __future__ import annotations

import csv
import datetime as dt

import pytest

from conftest import ROOT, Warehouse
from reverse_etl.errors import DbtError


def seed_rates() -> dict[str, list[tuple[dt.date, float]]]:
    rates: dict[str, list[tuple[dt.date, float]]] = {}
    with (ROOT / "seeds" / "currency_rates.csv").open(newline="") as file:
        for row in csv.DictReader(file):
            rates.setdefault(row["currency_code"], []).append(
                (dt.date.fromisoformat(row["rate_date"]), float(row["usd_per_unit"]))
            )
    return {currency: sorted(dated) for currency, dated in rates.items()}


def rate_on(rates: list[tuple[dt.date, float]], day: dt.date) -> float:
    return [rate for valid_from, rate in rates if valid_from <= day][-1]


def test_orders_are_converted_at_the_seed_rate_of_their_date(built_warehouse: Warehouse) -> None:
    rates = seed_rates()
    orders = built_warehouse.query(
        "select currency_code, order_amount, ordered_at, reporting_currency_code, reporting_order_amount"
        " from marts.orders"
    )
    assert {row[0] for row in orders} >= {"USD", "EUR"}
    for currency, amount, ordered_at, reporting_currency, converted in orders:
        assert reporting_currency == "USD"
        expected = (
            float(amount)
            * rate_on(rates[currency], ordered_at.date())
            / rate_on(rates["USD"], ordered_at.date())
        )
        assert converted == pytest.approx(expected), (currency, amount, ordered_at)
    # Revenue is summed in the reporting currency, not across currencies.
    revenue, converted_total, original_total = built_warehouse.query(
        """
        select
            (select sum(revenue) from marts.customer_traits),
            (select sum(reporting_order_amount) from marts.orders
             where is_completed and customer_id is not null
               and ordered_at <= (select max(as_of_at) from marts.customer_traits)),
            (select sum(order_amount) from marts.orders
             where is_completed and customer_id is not null
               and ordered_at <= (select max(as_of_at) from marts.customer_traits))
        """
    )[0]
    assert float(revenue) == pytest.approx(float(converted_total))
    assert float(converted_total) != pytest.approx(float(original_total))


def test_the_default_country_plan_comes_from_the_seed(built_duckdb: Warehouse) -> None:
    result = built_duckdb.dbt(
        "compile", "--select", "stg_crm__contacts", "--vars", "{cdp_default_country: GB}", "--quiet"
    )
    compiled = result.results[0].node.compiled_code
    assert "'44' || substr(" in compiled
    with pytest.raises(
        DbtError,
        match=r"cdp_default_country 'XX' has no numbering plan in seeds/country_phone_plans.csv; use one of AU, BR, CA",
    ):
        built_duckdb.dbt("compile", "--select", "stg_crm__contacts", "--vars", "{cdp_default_country: XX}")


def test_a_reporting_currency_that_is_not_a_code_is_a_compile_error(built_duckdb: Warehouse) -> None:
    with pytest.raises(DbtError, match=r"vars.cdp_reporting_currency must be an ISO 4217 code"):
        built_duckdb.dbt(
            "compile", "--select", "int_orders_converted", "--vars", "{cdp_reporting_currency: dollars}"
        )
