"""Check a data source against the data contract (DESIGN section 2).

:func:`validate_source` runs every check of the contract described in
:mod:`healthlab.tables` as ibis aggregate queries where the data lives, so
event tables never pass through pandas: only counts and at most a handful of
example values come back. Each violation raises a
:class:`~healthlab.errors.InputError` subclass whose message has one shape::

    <table>.<column>: <n> rows have <problem> (examples: [...]); <fix>

For nulls the examples are the accounts of the offending rows; problems of
a whole table (missing, empty) name the table alone.

Structural problems (a missing table or column, a wrong type, naive or
unparseable timestamps, duplicate account ids, an empty required table)
always raise. Row-level problems (nulls, NaN, infinite or out-of-range
values, unknown accounts) may instead drop the offending rows, with a
:class:`~healthlab.errors.DroppedRowsWarning` per column and the counts kept
in :attr:`healthlab.engine.Source.dropped_rows`.

This module holds the entry point and the structural checks; the row-level
rules are in :mod:`healthlab.contract_rows` and the queries for counts and
examples in :mod:`healthlab.contract_queries`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Collection

import ibis

from healthlab.asof import as_of_instant
from healthlab.contract_queries import (
    N_EXAMPLES,
    count_rows,
    fetch_examples,
    fetch_rows,
    rows_have,
)
from healthlab.contract_rows import (
    count_rules,
    known_account_check,
    report_violation,
    row_checks,
)
from healthlab.engine import Source
from healthlab.errors import (
    ColumnTypeError,
    DuplicateKeyError,
    EmptyTableError,
    MissingColumnError,
    MissingTableError,
    ParameterError,
    SourceError,
    TimestampError,
    format_examples,
)
from healthlab.tables import EVENT_TIME_COLUMN, TABLES, ColumnSpec, TableSpec

__all__ = ["validate_source"]

logger = logging.getLogger("healthlab")

_FIX_TYPE = "change the column's type in the export."
_FIX_TIME = "export timestamps in UTC with their offset, e.g. '2026-01-31T12:00:00Z'."

_EXPECTED = {
    "id": "a string or integer id",
    "string": "a string",
    "float": "an integer or float",
    "integer": "an integer",
    "timestamp": "a time-zone-aware timestamp",
}


def validate_source(
    source: Source,
    *,
    drop_invalid: bool | Collection[str] = False,
    as_of=None,
) -> Source:
    """Check `source` against the data contract and return the checked tables.

    Parameters
    ----------
    source : Source
        An opened source (:func:`healthlab.engine.open_source`), on DuckDB,
        Spark or any ibis backend.
    drop_invalid : bool or collection of str, default False
        Drop rows that break a row-level rule instead of raising: ``True``
        for every table, or the names of the tables where dropping is
        allowed (the score definition's ``drop_invalid_rows``).
    as_of : date-like, optional
        As-of label of the run. Rows timestamped at or after its instant are
        not an error (point-in-time filtering ignores them); their count is
        logged.

    Returns
    -------
    Source
        A copy of `source` whose ``tables`` hold the checked (and, when
        dropping, filtered) ibis tables and whose ``dropped_rows`` maps
        ``'table.column'`` to the number of rows dropped for that column.

    Raises
    ------
    MissingTableError, MissingColumnError, ColumnTypeError, TimestampError,
    EmptyTableError, DuplicateKeyError
        Structural problems, whatever `drop_invalid` says.
    NullValueError, OutOfRangeError, UnknownAccountError
        Row-level problems in a table where dropping is not allowed.
    SourceError
        The backend failed while reading the data.

    Notes
    -----
    Checks run table by table in contract order, accounts first, so rows
    dropped from ``accounts`` make the events of those accounts unknown.
    Within a table a row is counted once, under the first rule it breaks:
    columns in contract order and, per column, nulls (NaN counts as null in
    float columns), infinite values, values outside ``[min, max]`` or the
    allowed categories; then ``items_loaded > items_requested`` and account
    ids absent from ``accounts``. Nothing is cast: a column of another type
    passes only when it holds no value at all.

    Each table costs one aggregate query (plus one for a unique key), and
    one small query per violation found, for its examples.
    """
    if not isinstance(source, Source):
        raise ParameterError(
            f"`source` must be a healthlab Source (see open_source), got "
            f"{type(source).__name__!r}."
        )
    drop_tables = _resolve_drop(drop_invalid)
    instant = as_of_instant(as_of) if as_of is not None else None

    _check_required_tables(source)
    typed = {}
    for name, spec in _present(source):
        _check_columns(name, spec, source.tables[name])
        typed[name] = _check_types(source, name, spec, source.tables[name])
    _check_account_id_types(source)

    checked: dict[str, ibis.Table] = {}
    dropped: dict[str, int] = {}
    for name, spec in _present(source):
        table = source.tables[name]
        checks = row_checks(source, name, spec, table, typed[name])
        if name != "accounts" and "account_id" in typed[name]:
            checks.append(known_account_check(table, checked["accounts"]))

        # one pass over the table counts its rows and each rule's offenders
        n_rows, counts = count_rules(name, table, checks)
        if spec.required and n_rows == 0:
            raise EmptyTableError(
                f"{name}: table has 0 rows; the contract requires at least one row."
            )
        if spec.unique_key:
            _check_unique(name, spec, table)

        drop = name in drop_tables
        for i, (check, n) in enumerate(zip(checks, counts, strict=True)):
            if n:
                earlier = [c.bad for c in checks[:i]]
                report_violation(name, table, check, n, drop, dropped, earlier)
        if drop and any(counts):
            table = table.filter(~ibis.or_(*(c.bad for c in checks)))
            if spec.required and n_rows == sum(counts):
                raise EmptyTableError(
                    f"{name}: 0 rows are left after dropping {sum(counts):,} "
                    "invalid rows; fix the export, the contract requires at "
                    "least one row."
                )
        if instant is not None:
            _log_late_rows(name, table, instant)
        checked[name] = table

    return dataclasses.replace(source, tables=checked, dropped_rows=dropped)


def _resolve_drop(drop_invalid) -> set[str]:
    if isinstance(drop_invalid, bool):
        return set(TABLES) if drop_invalid else set()
    if isinstance(drop_invalid, str):
        drop_invalid = [drop_invalid]
    names = set(drop_invalid)
    unknown = sorted(names - set(TABLES))
    if unknown:
        raise ParameterError(
            f"`drop_invalid` names tables absent from the contract: {unknown!r}; "
            f"choose among {sorted(TABLES)!r}."
        )
    return names


def _present(source: Source):
    # contract order puts accounts first, which the account checks rely on
    return [(n, spec) for n, spec in TABLES.items() if n in source.tables]


def _log_late_rows(name: str, table: ibis.Table, instant) -> None:
    column = EVENT_TIME_COLUMN.get(name)
    if column is None or column not in table.columns:
        return
    late = count_rows(table.filter(table[column] >= instant.to_pydatetime()), name)
    if late:
        logger.info(
            "%s: %d rows at or after the as-of instant %s are ignored by "
            "point-in-time filtering",
            name,
            late,
            instant,
        )


# ---------------------------------------------------------------------------
# structural checks: always raise


def _check_required_tables(source: Source) -> None:
    for name, spec in TABLES.items():
        if spec.required and name not in source.tables:
            raise MissingTableError(
                f"{name}: required table is missing from {source.location!r} "
                f"(tables found: {sorted(source.tables)!r}); provide it as "
                f"{name}/ (Parquet files), {name}.parquet or {name}.csv, or as "
                f"a table named {name}."
            )


def _check_columns(name: str, spec: TableSpec, table: ibis.Table) -> None:
    found = list(table.columns)
    for col in spec.required_columns:
        if col not in found:
            raise MissingColumnError(
                f"{name}.{col}: required column is missing (columns found: "
                f"{found!r}); rename the column in the export."
            )


def _check_types(
    source: Source, name: str, spec: TableSpec, table: ibis.Table
) -> set[str]:
    """Raise on a column of the wrong type; return the well-typed columns."""
    typed = set()
    for col in spec.columns:
        if col.name not in table.columns:
            continue
        dtype = table.schema()[col.name]
        if _kind_matches(source, table, col, dtype):
            if col.kind == "timestamp" and name in source.csv_files:
                _check_csv_offsets(source, name, col.name)
            typed.add(col.name)
            continue
        # a column that holds no values at all has no wrong values
        column = table[col.name]
        present = column.notnull()
        n = count_rows(table.filter(present), name)
        if n == 0:
            continue
        examples = fetch_examples(table, present, (column,), name)
        error, fix = ColumnTypeError, _FIX_TYPE
        if col.kind == "timestamp" and _is_naive_timestamp(source, table, col, dtype):
            raise TimestampError(
                f"{name}.{col.name}: {rows_have(n)} timestamps without a time zone "
                f"(examples: {examples}); {_FIX_TIME}"
            )
        if col.kind == "timestamp" and dtype.is_string():
            error, fix = TimestampError, _FIX_TIME
        raise error(
            f"{name}.{col.name}: {rows_have(n)} {_type_name(dtype)} values where the "
            f"contract expects {_EXPECTED[col.kind]} (examples: {examples}); {fix}"
        )
    return typed


def _check_csv_offsets(source: Source, name: str, column: str) -> None:
    """Raise when CSV text behind an aware timestamp column lacks an offset.

    DuckDB's CSV reader types a column TIMESTAMPTZ when some values carry an
    offset and reads the others as UTC wall-clock times; the raw text tells.
    """
    if source.engine != "duckdb":
        return
    try:
        text = source.con.read_csv(source.csv_files[name], all_varchar=True)
    except Exception as exc:  # noqa: BLE001 - reader errors vary
        raise SourceError(
            f"{name}: cannot reread {source.csv_files[name]!r} as text "
            f"({type(exc).__name__})."
        ) from exc
    value = text[column]
    # a time of day, then Z, UTC or a +hh[:mm] offset
    offset = r"\d:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|UTC|[+-]\d{2}(:?\d{2})?)$"
    naive = value.notnull() & ~value.strip().re_search(offset)
    n = count_rows(text.filter(naive), name)
    if n:
        examples = fetch_examples(text, naive, (value,), name)
        raise TimestampError(
            f"{name}.{column}: {rows_have(n)} timestamps without a time zone "
            f"(examples: {examples}); {_FIX_TIME}"
        )


def _kind_matches(source: Source, table, col: ColumnSpec, dtype) -> bool:
    if col.kind == "id":
        return dtype.is_string() or dtype.is_integer()
    if col.kind == "string":
        return dtype.is_string()
    if col.kind == "float":
        return dtype.is_integer() or dtype.is_floating() or dtype.is_decimal()
    if col.kind == "integer":
        return dtype.is_integer()
    if col.kind == "timestamp":
        return dtype.is_timestamp() and not _is_naive_timestamp(
            source, table, col, dtype
        )
    raise ValueError(f"unknown column kind {col.kind!r} in the contract")


def _is_naive_timestamp(source: Source, table, col: ColumnSpec, dtype) -> bool:
    if not dtype.is_timestamp():
        return False
    if dtype.timezone is not None:
        return False
    if source.engine == "pyspark":
        # ibis shows Spark's instant type (TimestampType) without a zone;
        # only TimestampNTZType is truly naive.
        return _spark_is_ntz(source, table, col.name)
    return True


def _spark_is_ntz(source: Source, table: ibis.Table, column: str) -> bool:
    from pyspark.sql import SparkSession
    from pyspark.sql.types import TimestampNTZType

    session = getattr(source.con, "_session", None)
    session = session or SparkSession.getActiveSession()
    frame = session.sql(str(ibis.to_sql(table.select(column), dialect="pyspark")))
    return isinstance(frame.schema[column].dataType, TimestampNTZType)


def _type_name(dtype) -> str:
    if dtype.is_unknown():
        return dtype.raw_type.sql().strip('"').lower()
    return str(dtype)


def _check_account_id_types(source: Source) -> None:
    accounts = source.tables["accounts"]
    reference = accounts.schema()["account_id"]
    if _id_family(reference) is None:
        return  # an all-null accounts.account_id fails the null rule instead
    for name, _spec in _present(source):
        table = source.tables[name]
        if name == "accounts" or "account_id" not in table.columns:
            continue
        dtype = table.schema()["account_id"]
        if _id_family(dtype) in (None, _id_family(reference)):
            continue
        column = table.account_id
        n = count_rows(table.filter(column.notnull()), name)
        examples = fetch_examples(table, column.notnull(), (column,), name)
        raise ColumnTypeError(
            f"{name}.account_id: {rows_have(n)} {_type_name(dtype)} values where "
            f"accounts.account_id holds {_type_name(reference)} ids (examples: "
            f"{examples}); export account ids with one type in every table."
        )


def _id_family(dtype) -> str | None:
    if dtype.is_string():
        return "string"
    if dtype.is_integer():
        return "integer"
    return None


def _check_unique(name: str, spec: TableSpec, table: ibis.Table) -> None:
    key = list(spec.unique_key)
    present = ibis.and_(*(table[k].notnull() for k in key))
    groups = table.filter(present).group_by(key).aggregate(_n=ibis._.count())
    dup = groups.filter(groups._n > 1)
    stats = fetch_rows(dup.aggregate(rows=dup._n.sum()), name)[0]
    n = int(stats["rows"] or 0)
    if n == 0:
        return
    rows = fetch_rows(dup.select(*key).order_by(key).limit(N_EXAMPLES), name)
    shown = [r[key[0]] if len(key) == 1 else tuple(r[k] for k in key) for r in rows]
    raise DuplicateKeyError(
        f"{name}.{'+'.join(key)}: {rows_have(n)} duplicated values (examples: "
        f"{format_examples(shown)}); each account must appear once."
    )
