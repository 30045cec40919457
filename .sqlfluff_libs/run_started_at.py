"""Lint-time stand-in for dbt's run_started_at (only strftime is used in models)."""


def strftime(pattern):
    return "2026-01-01 00:00:00"
