"""Lint-time stand-ins for dbt's cross-database macros (`dbt.<macro>(...)`)."""

TYPES = {
    "type_string": "varchar",
    "type_timestamp": "timestamp",
    "type_numeric": "numeric",
    "type_int": "integer",
    "type_bigint": "bigint",
    "type_float": "double",
    "type_boolean": "boolean",
}


def concat(fields):
    return " || ".join(str(field) for field in fields)


def listagg(measure, delimiter_text="','", order_by_clause=None, limit_num=None):
    return f"string_agg({measure}, {delimiter_text})"


def __getattr__(name):
    if name in TYPES:
        return lambda *args, **kwargs: TYPES[name]

    def render(*args, **kwargs):
        return str(args[0]) if args else "null"

    return render
