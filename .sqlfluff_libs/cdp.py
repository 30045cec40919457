"""Lint-time stand-ins for the project's macros (`cdp.<macro>(...)`): sqlfluff's jinja templater cannot run
adapter.dispatch, so each call renders as its first argument, which keeps the surrounding SQL parseable."""


def __getattr__(name):
    def render(*args, **kwargs):
        # A call without arguments (a relation-returning macro) renders as a table name.
        return str(args[0]) if args else name

    return render


def identity_rows_suppressed_by_this_build():
    """A from clause (tables validated and suppressions) rather than a name."""
    return (
        "from int_identifiers_validated as validated inner join privacy_suppressions as suppressions"
        " on validated.identifier_value = suppressions.identifier_value where validated.exclusion_reason is null"
    )


def json_array_elements(json_text, alias):
    """A lateral FROM-clause item with the columns value and position, named `alias`."""
    return f"lateral (select value, position from json_each({json_text})) as {alias}"


def incremental_mart_config(*args, **kwargs):
    """The shared config() arguments of the incremental marts: config(**...) needs a mapping."""
    return {}


def traits_as_of():
    """A one-row select of as_of_at."""
    return "select max(ordered_at) as as_of_at from int_orders_converted"


def customers_touched(*args):
    """A subquery of customer ids."""
    return "select customer_id from int_customers_touched"


def activity_trait_windows():
    """The windows in days per kind of record."""
    return {"email_events": [30, 90], "pages": [30]}


def moved_by_as_of(column, windows):
    """A condition on the column."""
    return f"{column} is not null"


def days_before(days, at):
    """A timestamp expression."""
    return str(at)


def another_identifier_of_the_record(identifier, other):
    """A join condition."""
    return f"{other}.record_id = {identifier}.record_id"
