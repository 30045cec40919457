"""Incremental fuzzy matching: after records are added, changed and removed, `cdp match` scores only those
against the others and writes the same links as a full scoring run; a changed model file, training or `--full`
score everything again."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT, Warehouse, fresh_warehouse
from reverse_etl.errors import ConfigError
from reverse_etl.generator.load import generate
from reverse_etl.matching import statements
from reverse_etl.matching.config import MatchingConfig, load
from reverse_etl.matching.links import changed_rows, rows_digest, updated_digest
from reverse_etl.matching.run import MatchSummary, run_match

PEOPLE, SEED, SHARE = 250, 23, 0.3
STAGING = ("stg_crm__contacts", "stg_shop__orders", "stg_support__tickets")
ADDED = 8
LINKS = (
    "select source_table_l, record_id_l, source_table_r, record_id_r, match_probability, match_weight, "
    "fired_levels, model_version, scored_at from matching.record_links"
)


def config() -> MatchingConfig:
    return load(ROOT, {"enabled": True})


def links(warehouse: Warehouse) -> dict[tuple[str, ...], tuple[Any, ...]]:
    """Each pair's values, its probability and weight rounded (the same scores, summed in another order)."""
    return {tuple(row[:4]): (round(row[4], 9), round(row[5], 6), *row[6:]) for row in warehouse.query(LINKS)}


def scored(rows: dict[tuple[str, ...], tuple[Any, ...]]) -> dict[tuple[str, ...], tuple[Any, ...]]:
    """The links without when they were scored."""
    return {pair: values[:-1] for pair, values in rows.items()}


def groups(warehouse: Warehouse) -> set[tuple[Any, ...]]:
    return set(warehouse.query("select source_table, record_id, match_group from matching.record_groups"))


def fingerprint(warehouse: Warehouse) -> str:
    return str(warehouse.query("select fingerprint from matching.record_groups_version")[0][0])


@pytest.fixture(scope="module", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A matched warehouse; then offline CRM contacts copied with a typo (added, keeping the old contact's
    updated_at: rows arriving late), one contact's surname changed with its updated_at moved back a day (a
    writer's clock behind), the newest contact changed in place within its updated_at (the last run's mark), a
    support ticket's surname changed (tickets have no change time: hashed) and one linked contact removed,
    matched incrementally; then the same records matched in full."""
    warehouse = fresh_warehouse(request.param, request, tmp_path_factory.mktemp("incremental"), "cdp_incr")
    generate(warehouse.target, people=PEOPLE, seed=SEED, offline_share=SHARE)
    warehouse.dbt("seed")  # staging reads the dialling plan and the event names
    warehouse.dbt("run", "--select", *STAGING)  # views: raw changes show through
    first = run_match(warehouse.target, config())
    before = links(warehouse)
    offline = sorted(
        {record for pair in before for record in (pair[:2], pair[2:]) if record[1].endswith("_o")}
        & {
            ("stg_crm__contacts", row[0])
            for row in warehouse.query("select contact_id from raw.crm_contacts")
        }
    )
    added, changed, removed = offline[:ADDED], offline[ADDED], offline[ADDED + 1]
    for _, contact in added:
        warehouse.execute(
            "insert into raw.crm_contacts select contact_id || '_copy', email, phone, first_name || 'e', "
            "last_name, street, city, postal_code, country, lifecycle_stage, created_at, updated_at, "
            "date_of_birth from raw.crm_contacts where contact_id = %s",
            (contact,),
        ) if request.param == "postgres" else warehouse.execute(
            "insert into raw.crm_contacts by name select * replace (contact_id || '_copy' as contact_id, "
            "first_name || 'e' as first_name) from raw.crm_contacts where contact_id = ?",
            (contact,),
        )
    mark = "%s" if request.param == "postgres" else "?"
    warehouse.execute(
        "update raw.crm_contacts set last_name = last_name || 'x', updated_at = updated_at - interval '1 day' "
        f"where contact_id = {mark}",
        (changed[1],),
    )
    warehouse.execute(f"delete from raw.crm_contacts where contact_id = {mark}", (removed[1],))
    newest = warehouse.query(
        "select contact_id from raw.crm_contacts where last_name is not null "
        "order by updated_at desc, contact_id limit 1"
    )[0][0]
    warehouse.execute(
        f"update raw.crm_contacts set last_name = last_name || 'z' where contact_id = {mark}", (newest,)
    )
    ticket = warehouse.query(
        "select ticket_id from raw.support_tickets where last_name is not null order by ticket_id limit 1"
    )[0][0]
    warehouse.execute(
        f"update raw.support_tickets set last_name = last_name || 'y' where ticket_id = {mark}", (ticket,)
    )
    updated = [("stg_crm__contacts", newest), ("stg_support__tickets", str(ticket))]
    incremental = run_match(warehouse.target, config())
    after, after_groups, after_fingerprint = links(warehouse), groups(warehouse), fingerprint(warehouse)
    again = run_match(warehouse.target, config())
    unchanged = links(warehouse)
    full = run_match(warehouse.target, config(), full=True)
    return {
        "first": first, "before": before, "incremental": incremental, "after": after, "again": again,
        "unchanged": unchanged, "full": full, "full_links": links(warehouse), "full_groups": groups(warehouse),
        "after_groups": after_groups, "after_fingerprint": after_fingerprint,
        "full_fingerprint": fingerprint(warehouse), "added": added, "changed": changed, "removed": removed,
        "updated": updated, "warehouse": warehouse,
    }  # fmt: skip


def test_incremental_links_equal_a_full_scoring_run(runs: dict[str, Any]) -> None:
    incremental: MatchSummary = runs["incremental"]
    assert runs["first"].full and not incremental.full
    assert incremental.scored_records == ADDED + 3, "only the added and the changed records are scored"
    assert runs["full"].full and runs["full"].scored_records == runs["full"].records
    assert scored(runs["after"]) == scored(runs["full_links"])
    assert runs["after_groups"] == runs["full_groups"]
    # The identity build reads the groups' fingerprint; kept up to date, it is the one a full run computes.
    assert runs["after_fingerprint"] == runs["full_fingerprint"]
    assert (incremental.links, incremental.above_threshold) == (
        runs["full"].links,
        runs["full"].above_threshold,
    )


def test_changes_replace_their_links_and_keep_the_others(runs: dict[str, Any]) -> None:
    before, after = runs["before"], runs["after"]
    touched = {*runs["added"], runs["changed"], runs["removed"], *runs["updated"]}
    copies = {(table, f"{record}_copy") for table, record in runs["added"]}
    for pair, values in after.items():
        if not {pair[:2], pair[2:]} & (touched | copies):
            assert before[pair] == values, "a link between unchanged records is kept, scored_at included"
    linked = {record for pair in after for record in (pair[:2], pair[2:])}
    assert runs["removed"] not in linked
    assert copies <= linked, "each added copy links at least to the record it was copied from"
    assert not any(runs["changed"] in (pair[:2], pair[2:]) and pair in before and after[pair] == before[pair]
                   for pair in after), "the changed record's links are scored again"  # fmt: skip


def test_a_run_without_changes_scores_nothing(runs: dict[str, Any]) -> None:
    assert not runs["again"].full and runs["again"].scored_records == 0
    assert runs["unchanged"] == runs["after"]


def test_a_moved_change_time_alone_scores_nothing(runs: dict[str, Any]) -> None:
    """A row whose change time moves with its matching columns the same (a record saved again, an order
    delivered again) is hashed and found unchanged: nothing is scored, and its new time is kept, so the next run
    does not hash it again."""
    warehouse: Warehouse = runs["warehouse"]
    contact = runs["added"][0][1]
    mark = "%s" if warehouse.kind == "postgres" else "?"
    warehouse.execute(
        f"update raw.crm_contacts set updated_at = updated_at + interval '1 hour' where contact_id = {mark}",
        (contact,),
    )
    before = links(warehouse)
    touched = run_match(warehouse.target, config())
    assert not touched.full and touched.scored_records == 0
    assert links(warehouse) == before
    kept = warehouse.query(
        "select kept.changed_at, cast(contacts.updated_at as text) from matching.scored_records as kept "
        "join staging.stg_crm__contacts as contacts on contacts.contact_id = kept.record_id "
        f"where kept.source_table = 'stg_crm__contacts' and kept.record_id = {mark}",
        (contact,),
    )
    assert len(kept) == 1 and kept[0][0] == kept[0][1]


def test_a_change_time_must_be_a_time(runs: dict[str, Any]) -> None:
    warehouse: Warehouse = runs["warehouse"]
    sources = [dataclasses.replace(source, changed_at="email") if source.model == "stg_crm__contacts" else source
               for source in config().sources]  # fmt: skip
    with pytest.raises(ConfigError, match="changed_at 'email' of stg_crm__contacts is of type"):
        run_match(warehouse.target, dataclasses.replace(config(), sources=sources))
    assert scored(links(warehouse)) == scored(runs["full_links"]), "nothing was written"


def test_a_changed_model_file_scores_everything_again(runs: dict[str, Any], tmp_path: Path) -> None:
    warehouse: Warehouse = runs["warehouse"]
    model = json.loads(config().model_file.read_text())
    model_file = tmp_path / "model.json"
    model_file.write_text(json.dumps(model, indent=1))  # same parameters, another file: another version
    changed = run_match(warehouse.target, dataclasses.replace(config(), model_file=model_file))
    assert changed.full and changed.model_version != runs["full"].model_version
    back = run_match(warehouse.target, config())
    assert back.full, "the model version differs from the one the last run scored with"
    assert scored(links(warehouse)) == scored(runs["full_links"])


def test_a_changed_threshold_forms_every_group_again(runs: dict[str, Any]) -> None:
    """The links do not depend on the threshold (kept from 0.5), so a new threshold scores nothing again, but
    the groups of records no change touches must be formed at it too: the same groups as a full run."""
    warehouse: Warehouse = runs["warehouse"]
    lower = dataclasses.replace(config(), threshold=0.6)
    incremental = run_match(warehouse.target, lower)
    regrouped = groups(warehouse)
    assert not incremental.full and incremental.scored_records == 0
    run_match(warehouse.target, lower, full=True)
    assert regrouped == groups(warehouse) != runs["full_groups"]
    back = run_match(warehouse.target, config())
    assert not back.full and groups(warehouse) == runs["full_groups"]


def test_a_record_is_matched_from_when_it_has_a_matching_column(runs: dict[str, Any]) -> None:
    """A row with none of its matching columns filled (most orders) is no record: not kept. Given a name it is
    scored as a new record; emptied again it is removed, its links with it; each time as a full run would."""
    warehouse: Warehouse = runs["warehouse"]
    kept = warehouse.query(
        "select count(*) from matching.scored_records where source_table = 'stg_shop__orders'"
    )[0][0]
    named = warehouse.query(
        "select count(*) from staging.stg_shop__orders where first_name is not null or last_name is not null "
        "or date_of_birth is not null or postal_code is not null"
    )[0][0]
    total = warehouse.query("select count(*) from staging.stg_shop__orders")[0][0]
    assert kept == named < total
    # An order without a name, of a person whose CRM contact (the newest, _0) the order can be given the name of.
    order, first, last, born, postal = warehouse.query(
        "select orders.order_id, contacts.first_name, contacts.last_name, contacts.date_of_birth, "
        "contacts.postal_code from raw.orders as orders join raw.crm_contacts as contacts "
        "on contacts.contact_id = 'crm_' || split_part(orders.order_id, '_', 2) || '_0' "
        "where orders.first_name is null and orders.last_name is null and orders.date_of_birth is null "
        "and orders.postal_code is null order by orders.order_id limit 1"
    )[0]
    mark = "%s" if warehouse.kind == "postgres" else "?"
    warehouse.execute(
        f"update raw.orders set first_name = {mark}, last_name = {mark}, date_of_birth = {mark}, "
        f"postal_code = {mark} where order_id = {mark}",
        (first, last, born, postal, order),
    )
    named_run = run_match(warehouse.target, config())
    assert not named_run.full and named_run.scored_records == 1
    named_links = scored(links(warehouse))
    assert any(("stg_shop__orders", order) in (pair[:2], pair[2:]) for pair in named_links)
    assert named_links == scored(links(_full(warehouse)))
    warehouse.execute(
        "update raw.orders set first_name = null, last_name = null, date_of_birth = null, postal_code = null "
        f"where order_id = {mark}",
        (order,),
    )
    emptied = run_match(warehouse.target, config())
    assert not emptied.full and emptied.scored_records == 0
    emptied_links = scored(links(warehouse))
    assert not any(("stg_shop__orders", order) in (pair[:2], pair[2:]) for pair in emptied_links)
    assert emptied_links == scored(links(_full(warehouse)))


def _full(warehouse: Warehouse) -> Warehouse:
    run_match(warehouse.target, config(), full=True)
    return warehouse


def test_scoring_statements_are_kept_for_the_scoring_version(runs: dict[str, Any]) -> None:
    """A full run keeps Splink's link-only statements for its scoring version; an incremental run executes them
    (the equality test above) or, when none are kept (a state from before, another Splink version), has a
    linker generate them, keeps them and scores as a full run would."""
    warehouse: Warehouse = runs["warehouse"]
    version = "select distinct scoring_version, splink_version from matching.scoring_statements"
    kept = warehouse.query(version)
    assert kept == [(warehouse.scalar("select distinct scoring_version from matching.scored_records"),
                     statements.splink_version())]  # fmt: skip
    created = [row[0] for row in warehouse.query("select table_name from matching.scoring_statements")]
    assert len(created) >= 2 and created[-1].startswith("__splink__df_predict")
    for reset in (
        "drop table matching.scoring_statements",
        "update matching.scoring_statements set splink_version = '0'",
    ):
        warehouse.execute(reset)
        mark = "%s" if warehouse.kind == "postgres" else "?"
        ticket = warehouse.scalar(
            "select ticket_id from raw.support_tickets where last_name is not null order by ticket_id desc limit 1"
        )
        warehouse.execute(
            f"update raw.support_tickets set last_name = last_name || 'q' where ticket_id = {mark}", (ticket,)
        )
        changed = run_match(warehouse.target, config())
        assert not changed.full and changed.scored_records == 1
        assert warehouse.query(version) == kept, "generated again and kept"
        incremental_links = scored(links(warehouse))
        assert incremental_links == scored(links(_full(warehouse)))


def test_a_change_within_a_fractional_mark_is_found(runs: dict[str, Any]) -> None:
    """A high-water mark with fractional seconds keeps them (the kept text cast back to the source's type), so
    a row changed in place at the mark is still hashed and scored (a mark rounded up would miss it)."""
    warehouse: Warehouse = runs["warehouse"]
    contact = runs["added"][1][1]
    mark = "%s" if warehouse.kind == "postgres" else "?"
    latest = "(select max(updated_at) from raw.crm_contacts)"
    warehouse.execute(
        f"update raw.crm_contacts set updated_at = {latest} + interval '1.234567 second' "  # noqa: S608
        f"where contact_id = {mark}",
        (contact,),
    ) if warehouse.kind == "duckdb" else warehouse.execute(
        "update raw.crm_contacts set updated_at = latest.at + interval '1.234567 second' "
        f"from (select max(updated_at) as at from raw.crm_contacts) as latest where contact_id = {mark}",
        (contact,),
    )
    moved = run_match(warehouse.target, config())
    assert not moved.full and moved.scored_records == 0
    kept = warehouse.scalar(
        "select max(changed_at) from matching.scored_records where source_table = 'stg_crm__contacts' "
        f"and record_id = {mark}",
        (contact,),
    )
    assert str(kept).endswith(".234567")
    warehouse.execute(
        f"update raw.crm_contacts set first_name = first_name || 'w' where contact_id = {mark}", (contact,)
    )
    changed = run_match(warehouse.target, config())
    assert not changed.full and changed.scored_records == 1
    assert scored(links(warehouse)) == scored(links(_full(warehouse)))


def test_only_the_group_rows_that_differ_are_written() -> None:
    """Regrouping deletes and inserts only the rows whose group changed (a record joining a group named by a
    smaller record leaves that group's rows as they are), and the digest follows the rows written."""
    old = [("crm", "1", "crm|1"), ("crm", "2", "crm|1"), ("shop", "3", "shop|3")]
    new = [("crm", "1", "crm|1"), ("crm", "2", "crm|1"), ("crm", "4", "crm|1"), ("shop", "3", "crm|1")]
    deleted, inserted = changed_rows(old, new)
    assert deleted == [("shop", "3", "shop|3")]
    assert inserted == [("crm", "4", "crm|1"), ("shop", "3", "crm|1")]
    assert updated_digest(rows_digest(old), deleted, inserted) == rows_digest(new)
    assert changed_rows(new, new) == ([], [])
