"""Run multi-statement SQL on Spark: the project's macros send several statements separated by `;` in one call
(DuckDB and PostgreSQL run them as one batch), while Spark's SQL parser takes one statement per call. The text
is split on the semicolons outside string literals, quoted identifiers and comments, and run in order; the
last statement's result is the batch's result, as on the other warehouses."""

from __future__ import annotations

import re
from typing import Any


def split_statements(sql: str) -> list[str]:
    """The statements of `sql`, in order, without empty ones. Quotes: '...' (with backslash escapes, as Spark
    reads them), "..." and `...`; comments: -- to the end of the line and /* ... */."""
    statements: list[str] = []
    current: list[str] = []
    index, length = 0, len(sql)
    while index < length:
        char = sql[index]
        if char in "'\"`":
            end = index + 1
            while end < length and sql[end] != char:
                end += 2 if sql[end] == "\\" and char != "`" else 1
            current.append(sql[index : end + 1])
            index = end + 1
        elif sql.startswith("--", index):
            end = sql.find("\n", index)
            end = length if end < 0 else end
            current.append(sql[index:end])
            index = end
        elif sql.startswith("/*", index):
            end = sql.find("*/", index + 2)
            end = length if end < 0 else end + 2
            current.append(sql[index:end])
            index = end
        elif char == ";":
            statements.append("".join(current))
            current = []
            index += 1
        else:
            current.append(char)
            index += 1
    statements.append("".join(current))
    return [statement for statement in statements if _has_code(statement)]


def _has_code(statement: str) -> bool:
    """False for a statement of only whitespace and comments (nothing for Spark to run)."""
    without_comments = re.sub(r"/\*.*?\*/", "", statement, flags=re.DOTALL)
    return any(line.split("--", 1)[0].strip() for line in without_comments.splitlines())


def install_statement_splitting() -> None:
    """Make dbt-spark's session cursor run a batch of statements one by one (see the module doc)."""
    from dbt.adapters.spark import session

    cursor_class: Any = session.Cursor
    if getattr(cursor_class, "_cdp_splits_statements", False):
        return
    execute_one = cursor_class.execute

    def execute(self: Any, sql: str, *parameters: Any) -> None:
        statements = split_statements(sql) if ";" in sql else [sql]
        for statement in statements or [sql]:
            execute_one(self, statement, *parameters)

    cursor_class.execute = execute
    cursor_class._cdp_splits_statements = True


def spark_literal(value: Any) -> str | float:
    """A bound value as Spark reads it inside SQL text: dbt-spark's session cursor pastes `'value'` without
    escaping, so a seed cell holding a quote broke the statement and an empty cell (None) became the text
    'None'. Here None is null, and a string's backslashes and single quotes are escaped (Spark's literal
    syntax); numbers and timestamps keep dbt-spark's own rendering."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return _dbt_spark_fix_binding()(value)


_DBT_SPARK_FIX_BINDING: Any = None


def _dbt_spark_fix_binding() -> Any:
    """dbt-spark's own binding, kept aside when install_binding_escaping replaced it."""
    from dbt.adapters.spark.session import SessionConnectionWrapper

    return _DBT_SPARK_FIX_BINDING or SessionConnectionWrapper._fix_binding


def install_binding_escaping() -> None:
    """Make dbt-spark's session connection bind values through spark_literal (see its doc)."""
    global _DBT_SPARK_FIX_BINDING
    from dbt.adapters.spark.session import SessionConnectionWrapper

    wrapper: Any = SessionConnectionWrapper
    if getattr(wrapper, "_cdp_escapes_bindings", False):
        return
    _DBT_SPARK_FIX_BINDING = wrapper._fix_binding
    wrapper._fix_binding = classmethod(lambda cls, value: spark_literal(value))
    wrapper._cdp_escapes_bindings = True
