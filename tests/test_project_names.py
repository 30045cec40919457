"""Names dbt turns into relations fit every warehouse's identifier limit (PostgreSQL: 63 bytes).

A unit test's name becomes the name of a temporary relation; a model's file name becomes a table or view.
PostgreSQL refuses a longer name only when the test or model runs there, so this check reads the project.
"""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_IDENTIFIER_LIMIT = 63


def _unit_test_names() -> list[str]:
    names = []
    for path in (ROOT / "models").rglob("*.yml"):
        document = yaml.safe_load(path.read_text()) or {}
        names += [test["name"] for test in document.get("unit_tests", [])]
    return names


def test_the_project_has_unit_tests_to_check() -> None:
    assert len(_unit_test_names()) > 10


def test_unit_test_names_fit_the_postgres_identifier_limit() -> None:
    too_long = [name for name in _unit_test_names() if len(name.encode()) > POSTGRES_IDENTIFIER_LIMIT]
    assert too_long == []


def test_model_names_fit_the_postgres_identifier_limit() -> None:
    models = [path.stem for path in (ROOT / "models").rglob("*.sql")]
    assert models, "no models found"
    assert [name for name in models if len(name.encode()) > POSTGRES_IDENTIFIER_LIMIT] == []
