"""The demo generator: deterministic, messy in the documented ways, complete ground truth, safe failures."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import DEMO_PEOPLE, DEMO_SEED, Warehouse, new_duckdb_warehouse
from reverse_etl.cli import cli
from reverse_etl.errors import WarehouseError
from reverse_etl.generator import RAW_TABLES
from reverse_etl.generator import load as generator_load

JUNK_EMAILS = ["test@test.com", "noreply@example.com", "no-reply@shop.example.com", "none@none.com"]
JUNK_IDS = ["-1", "null", "undefined", "anonymousId"]


def table_fingerprint(warehouse: Warehouse, table: str) -> str:
    """An order-independent digest of a whole table's content."""
    columns = [name for name, _ in RAW_TABLES[table]]
    row_text = " || '|' || ".join(f"coalesce(cast({quote(c)} as varchar), '~')" for c in columns)
    return str(
        warehouse.scalar(f"select string_agg(md5({row_text}), ',' order by md5({row_text})) from raw.{table}")
    )


def quote(name: str) -> str:
    return f'"{name}"'


def test_same_seed_gives_identical_tables_and_another_seed_does_not(tmp_path: Path) -> None:
    first, second, other = (new_duckdb_warehouse(tmp_path / name) for name in ("a", "b", "c"))
    for warehouse in (first, second, other):
        (tmp_path / warehouse.env["CDP_DUCKDB_PATH"]).parent.mkdir(exist_ok=True)
    first.generate(people=150, seed=3)
    second.generate(people=150, seed=3)
    other.generate(people=150, seed=4)
    for table in RAW_TABLES:
        assert table_fingerprint(first, table) == table_fingerprint(second, table), table
    assert table_fingerprint(first, "crm_contacts") != table_fingerprint(other, "crm_contacts")


def test_every_table_is_loaded_with_unique_record_ids(generated_warehouse: Warehouse) -> None:
    for table, columns in RAW_TABLES.items():
        key = columns[0][0]
        total, distinct, nulls = generated_warehouse.query(
            f"select count(*), count(distinct {key}), count(*) - count({key}) from raw.{table}"
        )[0]
        assert total > 0, f"raw.{table} is empty"
        assert total == distinct and nulls == 0, f"raw.{table}.{key} is not a primary key"


def test_ground_truth_names_the_person_of_every_record(generated_warehouse: Warehouse) -> None:
    for table, columns in RAW_TABLES.items():
        if table == "order_items":
            continue
        key = columns[0][0]
        missing = generated_warehouse.scalar(
            f"select count(*) from raw.{table} as r left join ground_truth.record_people as g "
            f"on g.source_table = '{table}' and g.record_id = r.{key} where g.person_id is null"
        )
        assert missing == 0, f"{missing} records of raw.{table} have no ground truth"
    people = generated_warehouse.scalar("select count(distinct person_id) from ground_truth.record_people")
    assert DEMO_PEOPLE * 0.95 <= people <= DEMO_PEOPLE


def test_emails_need_normalization(generated_duckdb: Warehouse) -> None:
    total, messy = generated_duckdb.query(
        "select count(email), count(*) filter (where email <> lower(trim(email))) from raw.crm_contacts"
    )[0]
    assert messy / total > 0.25, f"only {messy} of {total} CRM emails need trimming or lower-casing"
    # The same gmail inbox spelled with and without dots or a +tag.
    variants = generated_duckdb.scalar(
        """
        with emails as (
            select distinct lower(trim(email)) as email from raw.crm_contacts where email like '%@gmail.com%'
            union select distinct lower(trim(email)) from raw.orders where email like '%@gmail.com%'
        )
        select count(*) from (
            select replace(split_part(split_part(email, '@', 1), '+', 1), '.', '') as inbox
            from emails group by 1 having count(*) > 1
        )
        """
    )
    assert variants >= 5


def test_junk_identifiers_are_present_with_power_law_frequency(generated_duckdb: Warehouse) -> None:
    counts = dict(
        generated_duckdb.query(
            """
            select lower(trim(email)), count(*) from (
                select email from raw.identifies union all select email from raw.crm_contacts
            ) where lower(trim(email)) in ('test@test.com', 'noreply@example.com', 'no-reply@shop.example.com', 'none@none.com')
            group by 1
            """
        )
    )
    assert set(counts) >= {"test@test.com", "noreply@example.com"}
    assert counts["test@test.com"] >= 2 * min(counts.values())
    junk_ids = dict(
        generated_duckdb.query(
            "select anonymous_id, count(*) from raw.identifies where anonymous_id in ('-1', 'null', 'undefined', 'anonymousId') group by 1"
        )
    )
    assert junk_ids, "no placeholder anonymous ids"
    # One placeholder partner cookie is shared by records of many different people: a would-be hub.
    people_on_top_cookie = generated_duckdb.scalar(
        """
        select max(people) from (
            select s.partner_cookie_id, count(distinct g.person_id) as people
            from raw.cookie_syncs as s
            join ground_truth.record_people as g on g.source_table = 'cookie_syncs' and g.record_id = s.sync_id
            where s.partner_cookie_id in ('0', 'undefined', 'null', 'OPT_OUT', '00000000-0000-0000-0000-000000000000')
            group by 1
        )
        """
    )
    assert people_on_top_cookie >= 5
    junk_phones = generated_duckdb.scalar(
        "select count(*) from raw.orders where phone in ('0000000000', '000-000-0000', '1111111111', '123-456-7890', '+1 000 000 0000', '9999999999', 'n/a')"
    )
    assert junk_phones > 0


def phone_format(phone: str) -> str:
    """The shape of a phone spelling: digits become 9."""
    return re.sub(r"\d", "9", phone)


def test_phones_come_in_many_formats(generated_duckdb: Warehouse) -> None:
    phones = [
        row[0] for row in generated_duckdb.query("select phone from raw.crm_contacts where phone is not null")
    ]
    formats = {phone_format(phone) for phone in phones}
    # national, dotted, international with spaces, 001-prefixed, 1-prefixed
    assert {
        "(999) 999-9999",
        "999.999.9999",
        "+9 999 999 9999",
        "999-999-999-9999",
        "9-999-999-9999",
    } <= formats
    assert any(phone.startswith(("+44", "+49", "+33", "0044", "0049", "0033")) for phone in phones)


def test_anonymous_ids_form_chains_joined_only_by_cookie_syncs(generated_duckdb: Warehouse) -> None:
    chains = generated_duckdb.scalar(
        """
        with person_anonymous_ids as (
            select g.person_id, p.anonymous_id
            from raw.pages as p
            join ground_truth.record_people as g on g.source_table = 'pages' and g.record_id = p.id
            group by 1, 2
        ),
        identified as (select distinct anonymous_id from raw.identifies)
        select count(*) from (
            select person_id
            from person_anonymous_ids
            left join identified using (anonymous_id)
            group by person_id
            having count(*) >= 3 and count(*) filter (where identified.anonymous_id is null) >= 2
        )
        """
    )
    assert chains >= 5, "expected people whose anonymous ids rotate and are joined only through cookie syncs"


def test_people_have_several_emails_and_households_share_devices(generated_duckdb: Warehouse) -> None:
    several_emails = generated_duckdb.scalar(
        """
        select count(*) from (
            select g.person_id
            from raw.crm_contacts as c
            join ground_truth.record_people as g on g.source_table = 'crm_contacts' and g.record_id = c.contact_id
            where c.email like '%@%.%'
            group by 1
            having count(distinct replace(split_part(split_part(lower(trim(c.email)), '@', 1), '+', 1), '.', '')) >= 2
        )
        """
    )
    assert several_emails >= DEMO_PEOPLE * 0.05
    shared_devices = generated_duckdb.scalar(
        """
        select count(*) from (
            select lower(a.device_id)
            from raw.app_events as a
            join ground_truth.record_people as g on g.source_table = 'app_events' and g.record_id = a.event_id
            group by 1
            having count(distinct g.person_id) > 1
        )
        """
    )
    assert shared_devices >= 1


def test_some_events_arrive_late(generated_duckdb: Warehouse) -> None:
    total, late = generated_duckdb.query(
        "select count(*), count(*) filter (where received_at > timestamp + interval 1 day) from raw.tracks"
    )[0]
    assert 0.01 <= late / total <= 0.1


@pytest.mark.postgres
def test_postgres_gets_the_same_tables_as_duckdb(
    generated_duckdb: Warehouse, generated_postgres: Warehouse
) -> None:
    for table, columns in RAW_TABLES.items():
        key = columns[0][0]
        duck = generated_duckdb.query(f"select {key} from raw.{table} order by 1")
        pg = generated_postgres.query(f"select {key} from raw.{table} order by 1")
        assert duck == pg, table
    assert generated_duckdb.query("select sum(total_amount) from raw.orders")[0][0] == pytest.approx(
        generated_postgres.query("select sum(total_amount) from raw.orders")[0][0]
    )


def test_cli_refuses_a_negative_people_count() -> None:
    result = CliRunner().invoke(cli, ["generate", "--people", "-1"])
    assert result.exit_code != 0
    assert "--people" in result.output


def test_cli_names_an_unwritable_duckdb_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDP_TARGET", "duckdb")
    monkeypatch.setenv("CDP_DUCKDB_PATH", str(tmp_path / "missing-folder" / "cdp.duckdb"))
    result = CliRunner().invoke(cli, ["generate", "--people", "10"])
    assert result.exit_code != 0
    assert isinstance(result.exception, WarehouseError)
    assert "missing-folder" in str(result.exception)


def test_cli_names_an_unreachable_postgres(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDP_PG_PORT", "1")
    result = CliRunner().invoke(cli, ["generate", "--people", "10", "--target", "postgres"])
    assert isinstance(result.exception, WarehouseError)
    assert "127.0.0.1:1" in str(result.exception)


def test_main_prints_one_line_and_exits_non_zero(tmp_path: Path) -> None:
    import subprocess
    import sys

    completed = subprocess.run(
        [sys.executable, "-m", "reverse_etl.cli", "generate", "--people", "5"],
        env={
            **__import__("os").environ,
            "CDP_TARGET": "duckdb",
            "CDP_DUCKDB_PATH": str(tmp_path / "no" / "x.duckdb"),
        },
        capture_output=True,
        text=True,
    )
    assert completed.returncode == WarehouseError.exit_code
    assert completed.stderr.strip().count("\n") == 0
    assert completed.stderr.startswith("error: DuckDB path")


def failing_after_first_table(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded: list[str] = []

    def interrupt(table: str) -> None:
        loaded.append(table)
        if len(loaded) == 2:
            raise RuntimeError("interrupted while loading")

    monkeypatch.setattr(generator_load, "_after_table_loaded", interrupt)


@pytest.mark.parametrize("kind", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_failed_load_leaves_the_previous_tables_untouched(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    if kind == "duckdb":
        warehouse = new_duckdb_warehouse(tmp_path)
    else:
        from conftest import make_pg_database, new_postgres_warehouse

        name, drop = make_pg_database("cdp_gen_atomic")
        request.addfinalizer(drop)
        warehouse = new_postgres_warehouse(name)
    warehouse.generate(people=50, seed=DEMO_SEED)
    before = {table: warehouse.scalar(f"select count(*) from raw.{table}") for table in RAW_TABLES}
    failing_after_first_table(monkeypatch)
    with pytest.raises(RuntimeError, match="interrupted"):
        warehouse.generate(people=120, seed=DEMO_SEED)
    after = {table: warehouse.scalar(f"select count(*) from raw.{table}") for table in RAW_TABLES}
    assert after == before


def test_generating_more_people_than_memory_allows_is_refused_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reverse_etl.errors import ConfigError
    from reverse_etl.generator import memory

    assert memory.estimated_bytes(20_000_000) > 100 * 10**9, "20M people take far more than this machine has"
    assert memory.largest_fitting(memory.estimated_bytes(1_000_000)) == 1_000_000
    assert memory.largest_fitting(10**6) == 0
    # 8 GB available: the estimate of 20M people does not fit, 1M does.
    monkeypatch.setattr(generator_load, "available_bytes", lambda: 8 * 10**9)
    monkeypatch.setenv("CDP_TARGET", "duckdb")
    monkeypatch.setenv("CDP_DUCKDB_PATH", str(tmp_path / "cdp.duckdb"))
    built: list[int] = []
    monkeypatch.setattr(generator_load, "build_in_memory", lambda people, *_: built.append(people))
    result = CliRunner().invoke(cli, ["generate", "--people", "20000000"])
    assert isinstance(result.exception, ConfigError) and result.exception.exit_code == 2
    assert str(result.exception) == (
        "--people 20,000,000 needs about 150.2 GB of memory to generate, and this machine has 8.0 GB "
        "available: use --people 1,040,000 or fewer"
    )
    assert built == [] and not (tmp_path / "cdp.duckdb").exists()
    memory.check_fits(1_040_000, 8 * 10**9)
    memory.check_fits(20_000_000, None)  # unknown available memory: not refused


def test_available_memory_is_read_from_meminfo(tmp_path: Path) -> None:
    from reverse_etl.generator import memory

    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24683772 kB\nMemFree:  100 kB\nMemAvailable:   23864740 kB\n")
    assert memory.available_bytes(meminfo) == 23864740 * 1024
    meminfo.write_text("MemTotal: 1 kB\n")
    assert memory.available_bytes(meminfo) is None
    assert memory.available_bytes(tmp_path / "absent") is None
