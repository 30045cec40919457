"""Seeded, vectorized demo data: the raw source tables of docs/sources.md, with their mess, and the ground
truth of which records belong to which generated person."""

from __future__ import annotations

from reverse_etl.generator.load import GenerateSummary, generate
from reverse_etl.generator.schema import (
    GROUND_TRUTH_SCHEMA,
    GROUND_TRUTH_TABLE,
    PRIMARY_KEYS,
    RAW_SCHEMA,
    RAW_TABLES,
)

__all__ = [
    "GROUND_TRUTH_SCHEMA",
    "GROUND_TRUTH_TABLE",
    "PRIMARY_KEYS",
    "RAW_SCHEMA",
    "RAW_TABLES",
    "GenerateSummary",
    "generate",
]
