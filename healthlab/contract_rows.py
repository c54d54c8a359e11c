"""Row-level rules of the data contract: raise, or drop where allowed.

A row-level rule (a null, NaN, infinite or out-of-range value, a category
outside the allowed ones, ``items_loaded > items_requested``, an account id
absent from ``accounts``) is an ibis boolean expression over one table, a
:class:`RowCheck`. :func:`count_rules` counts in one query the rows each rule
is first to catch; :func:`report_violation` raises the rule's
:class:`~healthlab.errors.InputError`, or records the rows to drop and warns
with a :class:`~healthlab.errors.DroppedRowsWarning`.
:func:`healthlab.contract.validate_source` runs them; nothing here is public
API.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass

import ibis

from healthlab.contract_queries import (
    count_rows,
    fetch_examples,
    fetch_rows,
    rows_have,
)
from healthlab.engine import Source
from healthlab.errors import (
    DroppedRowsWarning,
    InputError,
    NullValueError,
    OutOfRangeError,
    UnknownAccountError,
)
from healthlab.tables import ColumnSpec, TableSpec

__all__: list[str] = []

_FIX_ROWS = "fix the export or set drop_invalid_rows in the score definition."


@dataclass(frozen=True)
class RowCheck:
    """One row-level rule: which rows break it and what to show for them."""

    column: str
    problem: str
    bad: ibis.Value
    examples: tuple[ibis.Value, ...]
    error: type[InputError]


def row_checks(
    source: Source, name: str, spec: TableSpec, table: ibis.Table, typed: set[str]
) -> list[RowCheck]:
    """The rules of table `name` by column, in contract order, then across columns.

    A column outside `typed` (of another type, but holding no values) keeps
    its null rule only.
    """
    checks = []
    account = (table.account_id,) if "account_id" in table.columns else ()
    for col in spec.columns:
        if col.name not in table.columns:
            continue
        column = table[col.name]
        floating = col.name in typed and column.type().is_floating()
        nan = _is_nan(source, column) if floating else None

        # nulls (and NaN, which no contract column means as a value)
        if not col.nullable:
            bad = column.isnull() | nan if floating else column.isnull()
            what = "null or NaN values" if floating else "null values"
            shown = account if col.name != "account_id" else ()
            checks.append(RowCheck(col.name, what, bad, shown, NullValueError))
        if col.name not in typed:
            continue
        valid = column.notnull() & ~nan if floating else column.notnull()

        # infinite values are never a measurement
        if floating:
            bad = valid & column.isinf()
            checks.append(
                RowCheck(col.name, "infinite values", bad, (column,), OutOfRangeError)
            )
            valid = valid & ~column.isinf()

        # bounds and categories declared by the contract
        bounds = _bounds_check(col, column, valid)
        if bounds is not None:
            checks.append(bounds)
        if col.allowed is not None:
            bad = valid & ~column.isin(col.allowed)
            what = f"values not in {list(col.allowed)!r}"
            checks.append(RowCheck(col.name, what, bad, (column,), OutOfRangeError))

    # a page cannot load more items than it asked for
    if name == "page_loads" and {"items_loaded", "items_requested"} <= typed:
        loaded, requested = table.items_loaded, table.items_requested
        checks.append(
            RowCheck(
                "items_loaded",
                "items_loaded above items_requested",
                loaded > requested,
                (loaded, requested),
                OutOfRangeError,
            )
        )
    return [dataclasses.replace(c, bad=c.bad.fill_null(False)) for c in checks]


@ibis.udf.scalar.builtin(name="isfinite")
def _isfinite(value: float) -> bool:
    """DuckDB's ``isfinite``."""


def _is_nan(source: Source, column):
    """NaN test that survives DuckDB's Parquet statistics.

    DuckDB folds ``isnan(x)`` to false when a Parquet file's min/max
    statistics (which skip NaN) exclude NaN, so NaN rows would slip
    through. ``isfinite`` is evaluated row by row: NaN = not finite and not
    infinite.
    """
    if source.engine == "duckdb":
        return column.notnull() & ~_isfinite(column) & ~column.isinf()
    return column.isnan()


def known_account_check(table: ibis.Table, accounts: ibis.Table) -> RowCheck:
    """The rule that every account id of `table` is one of `accounts`."""
    column = table.account_id
    bad = column.notnull() & ~column.isin(accounts.account_id)
    return RowCheck(
        "account_id",
        "account_ids absent from accounts",
        bad.fill_null(False),
        (column,),
        UnknownAccountError,
    )


def _bounds_check(col: ColumnSpec, column, valid) -> RowCheck | None:
    if col.min is None and col.max is None:
        return None
    if col.min is not None and col.max is not None:
        bad = (column < col.min) | (column > col.max)
        what = f"values outside [{col.min:g}, {col.max:g}]"
    elif col.min is not None:
        bad = column < col.min
        what = f"values below {col.min:g}"
    else:
        bad = column > col.max
        what = f"values above {col.max:g}"
    return RowCheck(col.name, what, valid & bad, (column,), OutOfRangeError)


def count_rules(
    name: str, table: ibis.Table, checks: list[RowCheck]
) -> tuple[int, list[int]]:
    """Count the table's rows and, per rule, the rows it is first to catch."""
    if not checks:
        return count_rows(table, name), []
    first = ibis.cases(*((c.bad, i) for i, c in enumerate(checks)), else_=-1)
    query = table.select(_rule=first).group_by("_rule").aggregate(n=ibis._.count())
    found = {r["_rule"]: int(r["n"]) for r in fetch_rows(query, name)}
    return sum(found.values()), [found.get(i, 0) for i in range(len(checks))]


def report_violation(name, table, check, n, drop, dropped, earlier) -> None:
    """Raise the violation, or record and warn about the rows to drop."""
    where = f"{name}.{check.column}"
    if check.examples:
        # examples come from the rows this rule was the first to catch
        first = check.bad & ~ibis.or_(*earlier) if earlier else check.bad
        label = "accounts" if check.error is NullValueError else "examples"
        examples = fetch_examples(table, first, check.examples, name)
        detail = f" ({label}: {examples})"
    else:
        detail = ""
    if not drop:
        raise check.error(
            f"{where}: {rows_have(n)} {check.problem}{detail}; {_FIX_ROWS}"
        )
    dropped[where] = dropped.get(where, 0) + n
    # stacklevel 3 points at the caller of validate_source, which calls this
    warnings.warn(
        f"{where}: dropped {n:,} {'row' if n == 1 else 'rows'} with "
        f"{check.problem}{detail}, as the score definition allows.",
        DroppedRowsWarning,
        stacklevel=3,
    )
