"""Where event-level work runs: one place opens a data source as ibis tables.

DuckDB (embedded, the default), a local or remote Apache Spark session, or
any backend ibis can reach through a connection URL. Everything downstream
receives a :class:`Source` and writes ibis expressions against its tables;
only account-level results are brought into pandas.

A folder source holds one entry per contract table, either a folder of
Parquet files (``sessions/part-0000.parquet``, partitions allowed), a single
``sessions.parquet`` or a ``sessions.csv``. Unknown entries are ignored.
"""

from __future__ import annotations

import functools
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import ibis
import ibis.expr.datatypes as dt

from healthlab.errors import ParameterError, SourceError
from healthlab.tables import TABLES

__all__ = ["Source", "open_source", "get_spark_session", "ENGINES", "MEMORY_LIMIT_ENV"]

ENGINES = ("duckdb", "spark")
# environment variable with the default DuckDB memory_limit of open_source
MEMORY_LIMIT_ENV = "HEALTHLAB_DUCKDB_MEMORY_LIMIT"


@dataclass
class Source:
    """An opened data source: an ibis backend and the contract tables in it.

    Attributes
    ----------
    con : ibis backend
        The connection every expression runs on.
    tables : dict of str to ibis.Table
        The contract tables found in the source, by contract name.
    location : str
        Where the data came from (folder, file or URL), for reports.
    engine : str
        Backend name (``'duckdb'``, ``'pyspark'``, ...).
    dropped_rows : dict of str to int
        Rows dropped by contract validation per ``table.column`` (filled in
        by :func:`healthlab.contract.validate_source`).
    csv_files : dict of str to str
        The CSV file behind each table read from one, so the contract can
        look at the text the CSV reader parsed.
    """

    con: object
    tables: dict[str, ibis.Table]
    location: str
    engine: str
    dropped_rows: dict[str, int] = field(default_factory=dict)
    csv_files: dict[str, str] = field(default_factory=dict)

    def table(self, name: str) -> ibis.Table | None:
        """Return the contract table `name`, or None when the source lacks it."""
        return self.tables.get(name)


def open_source(
    source,
    *,
    engine: str = "duckdb",
    threads: int | None = None,
    memory_limit: str | None = None,
):
    """Open `source` as ibis tables on the chosen engine.

    Parameters
    ----------
    source : str, Path or ibis backend
        A folder of Parquet/CSV tables, a ``.duckdb`` file, an ibis
        connection URL (``'postgres://...'``) or an ibis backend object.
    engine : {'duckdb', 'spark'}
        Engine that reads a folder source. Ignored for the other kinds,
        which carry their own engine.
    threads : int, optional
        DuckDB worker threads (default: DuckDB's own choice).
    memory_limit : str, optional
        DuckDB's ``memory_limit`` (``'1GB'``, ``'500MB'``); beyond it DuckDB
        spills to the system temporary folder. Default: the
        ``HEALTHLAB_DUCKDB_MEMORY_LIMIT`` environment variable, else DuckDB's
        own (80% of RAM). Ignored by the other engines and by a backend
        object, which is used as configured.

    Returns
    -------
    Source
    """
    if engine not in ENGINES:
        raise ParameterError(f"`engine` must be one of {ENGINES}, got {engine!r}.")
    if not isinstance(source, str | Path):
        return _from_backend(source, location=repr(source))
    text = str(source)
    if "://" in text:
        try:
            con = ibis.connect(text)
        except Exception as exc:  # noqa: BLE001 - any driver error means the same
            raise SourceError(f"Cannot connect to {text!r}: {exc}") from exc
        if con.name == "duckdb":
            _set_utc(con, threads, memory_limit)
        return _from_backend(con, location=text)
    path = Path(source)
    if not path.exists():
        raise SourceError(
            f"Data source {str(path)!r} does not exist; pass a folder of "
            "Parquet/CSV tables, a .duckdb file or an ibis connection URL."
        )
    if path.is_file():
        if path.suffix != ".duckdb":
            raise SourceError(
                f"Data source {str(path)!r} is a file but not a .duckdb database."
            )
        con = ibis.duckdb.connect(str(path), read_only=True)
        _set_utc(con, threads, memory_limit)
        return _from_backend(con, location=str(path))
    if engine == "spark":
        con = ibis.pyspark.connect(get_spark_session())
    else:
        con = ibis.duckdb.connect()
        _set_utc(con, threads, memory_limit)
    csv_files = {
        name: str(entry)
        for name in TABLES
        if (entry := _folder_entry(path, name)) is not None and entry.suffix == ".csv"
    }
    return Source(con, _read_folder(con, path), str(path), con.name, {}, csv_files)


def _set_utc(con, threads: int | None, memory_limit: str | None = None) -> None:
    # Days are UTC calendar days whatever the machine's time zone.
    con.raw_sql("SET TimeZone = 'UTC'")
    # An in-memory database spills to ./.tmp by default; keep the working
    # directory clean.
    spill = Path(tempfile.gettempdir()) / "healthlab-duckdb-spill"
    con.raw_sql(f"SET temp_directory = '{spill.as_posix()}'")
    if threads is not None:
        con.raw_sql(f"SET threads = {int(threads)}")
    limit = memory_limit or os.environ.get(MEMORY_LIMIT_ENV)
    if limit:
        _set_memory_limit(con, str(limit))


def _set_memory_limit(con, limit: str) -> None:
    # a quoted literal: reject anything but a size such as '1GB' or '1.5 GiB'
    if not re.fullmatch(r"\d+(\.\d+)?\s*[A-Za-z]{0,3}", limit.strip()):
        raise ParameterError(
            f"`memory_limit` must be a size such as '1GB' or '500MB', got {limit!r} "
            f"(argument or {MEMORY_LIMIT_ENV})."
        )
    try:
        con.raw_sql(f"SET memory_limit = '{limit.strip()}'")
    except Exception as exc:  # noqa: BLE001 - DuckDB's parser error, reworded
        raise ParameterError(
            f"DuckDB does not accept memory_limit {limit!r}: {exc}"
        ) from exc


def _from_backend(con, location: str) -> Source:
    names = _table_names(con)
    tables = {
        name: _normalise_types(con, con.table(name)) for name in TABLES if name in names
    }
    return Source(con, tables, location, con.name)


def _table_names(con) -> set[str]:
    if con.name != "duckdb":
        return set(con.list_tables())
    # ibis 12's DuckDB list_tables() calls a cursor method DuckDB 2 removed
    rows = con.raw_sql("SELECT table_name FROM information_schema.tables").fetchall()
    return {row[0] for row in rows}


def _normalise_types(con, table: ibis.Table) -> ibis.Table:
    """Give nanosecond UTC timestamps a type ibis knows.

    DuckDB reads pandas' default ``timestamp[ns, tz=UTC]`` Parquet columns as
    TIMESTAMPTZ_NS, which ibis 12 leaves as an unknown type. Casting to
    microsecond TIMESTAMPTZ keeps the instant (events are never finer than a
    microsecond); every other column is left exactly as stored.
    """
    if con.name != "duckdb":
        return table
    casts = {
        name: table[name].cast(dt.Timestamp(timezone="UTC"))
        for name, dtype in table.schema().items()
        if dtype.is_unknown() and dtype.raw_type.sql().upper() == "TIMESTAMPTZ_NS"
    }
    return table.mutate(**casts) if casts else table


def _read_folder(con, path: Path) -> dict[str, ibis.Table]:
    tables = {}
    for name in TABLES:
        entry = _folder_entry(path, name)
        if entry is None:
            continue
        try:
            if entry.suffix == ".csv":
                table = con.read_csv(str(entry), table_name=f"src_{name}")
            else:
                table = con.read_parquet(
                    _parquet_glob(entry, con.name), table_name=f"src_{name}"
                )
            tables[name] = _normalise_types(con, table)
        except Exception as exc:  # noqa: BLE001 - reader errors vary by engine
            raise SourceError(
                f"Cannot read table {name!r} from {str(entry)!r}: "
                f"{type(exc).__name__}: {_reader_message(exc)}"
            ) from exc
    return tables


def _reader_message(exc: Exception) -> str:
    # DuckDB's first line is generic ("CSV Error on Line: 2"); say the cause
    text = str(exc)
    if "not utf-8 encoded" in text.lower():
        return "the file is not UTF-8 encoded; re-export it as UTF-8."
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else "no message"


def _folder_entry(path: Path, name: str) -> Path | None:
    for candidate in (path / name, path / f"{name}.parquet", path / f"{name}.csv"):
        if candidate.exists():
            return candidate
    return None


def _parquet_glob(entry: Path, backend: str) -> str:
    # Spark reads a folder of part files itself and does not expand "**"
    if entry.is_dir() and backend != "pyspark":
        return str(entry / "**" / "*.parquet")
    return str(entry)


@functools.cache
def get_spark_session(master: str | None = None):
    """Return one shared Spark session configured for healthlab.

    The session uses UTC, a temporary warehouse folder (so nothing is written
    into the working directory) and few shuffle partitions, which suits
    account-level results on one machine. Starting it takes several seconds;
    it is created once per process.

    Parameters
    ----------
    master : str, optional
        Spark master URL (``'local[2]'``, ``'spark://host:7077'``, ``'yarn'``).
        Default: the ``HEALTHLAB_SPARK_MASTER`` environment variable, else
        ``'local[2]'``.
    """
    master = master or os.environ.get("HEALTHLAB_SPARK_MASTER", "local[2]")
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise SourceError(
            "The Spark engine needs pyspark: pip install 'healthlab[spark]'."
        ) from exc
    warehouse = tempfile.mkdtemp(prefix="healthlab-spark-warehouse-")
    return (
        SparkSession.builder.master(master)
        .appName("healthlab")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.warehouse.dir", warehouse)
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "4g")
        .getOrCreate()
    )
