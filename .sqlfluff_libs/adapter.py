"""Lint-time stand-in for dbt's `adapter` object in models: only quote is used there."""


def quote(name):
    return f'"{name}"'
