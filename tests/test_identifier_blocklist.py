"""The junk-identifier blocklist is data: seeds/identifier_blocklist.csv. A value added to the CSV is excluded by
the next ordinary (incremental) build, because the CSV's rows are part of the identity configuration's
fingerprint; a broken row is a compile error naming the CSV."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import ROOT, Warehouse, environment, new_duckdb_warehouse
from reverse_etl.dbt import run_dbt
from reverse_etl.errors import DbtError

BUILD = [
    "build",
    "--resource-type",
    "seed",
    "--resource-type",
    "model",
    "--select",
    "+int_identifiers_validated",
]
VALIDATED = "intermediate.int_identifiers_validated"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Warehouse]:
    """A copy of the project (its CSV is edited) with a small demo warehouse, identity built once."""
    root = tmp_path_factory.mktemp("blocklist")
    for name in ("dbt_project.yml", "profiles.yml"):
        shutil.copy(ROOT / name, root / name)
    for folder in ("models", "macros", "seeds", "data-tests"):
        shutil.copytree(ROOT / folder, root / folder)
    warehouse = new_duckdb_warehouse(root)
    warehouse.generate(people=40, seed=7)
    dbt(root, warehouse, *BUILD)
    return root, warehouse


def dbt(root: Path, warehouse: Warehouse, *args: str):
    with environment(warehouse.env):
        return run_dbt(list(args), target=warehouse.kind, root=root)


def reasons(warehouse: Warehouse, identifier_type: str, value: str) -> set[str | None]:
    return {
        row[0]
        for row in warehouse.query(
            f"select exclusion_reason from {VALIDATED} where identifier_type = ? and identifier_value = ?",
            (identifier_type, value),
        )
    }


def test_the_shipped_csv_blocks_placeholders(project: tuple[Path, Warehouse]) -> None:
    root, warehouse = project
    blocked = warehouse.query(
        f"select distinct identifier_type, lower(identifier_value) from {VALIDATED}"
        " where exclusion_reason = 'blocklisted'"
    )
    assert ("email", "test@test.com") in blocked
    assert any(
        kind == "anonymous_id" and value in {"-1", "null", "undefined", "anonymousid"}
        for kind, value in blocked
    )


def test_a_value_added_to_the_csv_is_excluded_by_the_next_build(project: tuple[Path, Warehouse]) -> None:
    root, warehouse = project
    email, phone = (
        warehouse.scalar(
            f"select min(identifier_value) from {VALIDATED}"
            " where identifier_type = ? and exclusion_reason is null",
            (kind,),
        )
        for kind in ("email", "phone")
    )
    assert reasons(warehouse, "email", email) == {None} and reasons(warehouse, "phone", phone) == {None}
    csv = root / "seeds" / "identifier_blocklist.csv"
    original = csv.read_text()
    csv.write_text(
        original
        + f"email,{email.upper()},,a shared test inbox\n"
        + f"phone,,^[+]{phone[1:]}$,a number printed on every receipt\n"
    )
    try:
        dbt(root, warehouse, *BUILD)  # an ordinary build, no --full-refresh
        assert reasons(warehouse, "email", email) == {"blocklisted"}
        assert reasons(warehouse, "phone", phone) == {"blocklisted"}
        mode = warehouse.query(
            "select name from intermediate.identity_build_log where kind = 'mode' order by logged_at desc limit 1"
        )
        assert mode == [("full",)], "an edited blocklist resolves every record again"
    finally:
        csv.write_text(original)
    dbt(root, warehouse, *BUILD)
    assert reasons(warehouse, "email", email) == {None}


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            "emial,x@y.com,,typo",
            r"identifier_blocklist.csv \(identifier_type emial, value x@y.com\): 'emial' is not an identifier type",
        ),
        (
            "email,x@y.com,^x,both",
            r"identifier_blocklist.csv \(identifier_type email, value x@y.com\): give either a value or a pattern",
        ),
        (
            "phone,,^[+1,broken",
            r"identifier_blocklist.csv \(identifier_type phone, pattern \^\[\+1\).pattern",
        ),
    ],
)
def test_a_broken_row_is_a_compile_error_naming_the_csv(
    project: tuple[Path, Warehouse], row: str, message: str
) -> None:
    root, warehouse = project
    csv = root / "seeds" / "identifier_blocklist.csv"
    original = csv.read_text()
    csv.write_text(original + row + "\n")
    try:
        dbt(root, warehouse, "seed", "--select", "identifier_blocklist")
        with pytest.raises(DbtError, match=message):
            dbt(root, warehouse, "compile", "--select", "int_identity_record_changes")
    finally:
        csv.write_text(original)
        dbt(root, warehouse, "seed", "--select", "identifier_blocklist")
