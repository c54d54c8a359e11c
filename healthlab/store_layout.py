"""The layout of the healthlab store: its file, its tables and their read order.

The store is one DuckDB file, ``healthlab.duckdb`` in a folder or any
``.duckdb`` path. :data:`SCHEMA` gives each table's columns and DuckDB types
in storage order; :class:`healthlab.store.Store` creates the tables from it,
casts every write to it and reads each table back sorted by
:data:`READ_ORDER`.
"""

from __future__ import annotations

from pathlib import Path

from healthlab.benchmarks import BENCHMARK_KEY

__all__ = ["STORE_FILENAME", "SCHEMA", "READ_ORDER", "HISTORIES", "store_file"]

STORE_FILENAME = "healthlab.duckdb"

# Column name -> DuckDB type, per table, in storage order.
SCHEMA: dict[str, dict[str, str]] = {
    "score_history": {
        "account_id": "VARCHAR",
        "as_of": "DATE",
        "definition_version": "VARCHAR",
        "score": "DOUBLE",
        "coverage": "DOUBLE",
        "category": "VARCHAR",
        "reason": "VARCHAR",
        "account_age_days": "INTEGER",
        "benchmark_version": "VARCHAR",
    },
    "index_history": {
        "account_id": "VARCHAR",
        "as_of": "DATE",
        "definition_version": "VARCHAR",
        "index": "VARCHAR",
        "source_index": "VARCHAR",
        "value": "DOUBLE",
        "weight": "DOUBLE",
        "contribution": "DOUBLE",
        "available": "BOOLEAN",
        "reason": "VARCHAR",
        "peer_level": "VARCHAR",
        "peer_group": "VARCHAR",
        "partial": "BOOLEAN",
    },
    "metric_history": {
        "account_id": "VARCHAR",
        "as_of": "DATE",
        "definition_version": "VARCHAR",
        "index": "VARCHAR",
        "metric": "VARCHAR",
        "value": "DOUBLE",
        "percentile": "DOUBLE",
        "peer_level": "VARCHAR",
        "peer_group": "VARCHAR",
    },
    "benchmarks": {
        "version": "VARCHAR",
        "as_of": "DATE",
        "index": "VARCHAR",
        "metric": "VARCHAR",
        "peer_level": "VARCHAR",
        "peer_group": "VARCHAR",
        "quantile": "SMALLINT",
        "value": "DOUBLE",
        "member_count": "BIGINT",
        "member_mean": "DOUBLE",
        "source_period": "VARCHAR",
    },
    "benchmark_versions": {
        "version": "VARCHAR",
        "created_at": "TIMESTAMPTZ",
        "definition_version": "VARCHAR",
        "description": "VARCHAR",
        "n_rows": "BIGINT",
    },
    "alerts": {
        "account_id": "VARCHAR",
        "as_of": "DATE",
        "definition_version": "VARCHAR",
        "kind": "VARCHAR",
        "previous_as_of": "DATE",
        "previous_category": "VARCHAR",
        "category": "VARCHAR",
        "previous_score": "DOUBLE",
        "score": "DOUBLE",
        "change": "DOUBLE",
        "top_index": "VARCHAR",
        "top_index_change": "DOUBLE",
        "message": "VARCHAR",
    },
    "definitions": {
        "version": "VARCHAR",
        "body": "VARCHAR",
        "stored_at": "TIMESTAMPTZ",
    },
    "runs": {
        "run_id": "VARCHAR",
        "kind": "VARCHAR",
        "started_at": "TIMESTAMPTZ",
        "finished_at": "TIMESTAMPTZ",
        "details": "VARCHAR",
    },
}

# Sort order of each table on read, so reads are deterministic.
READ_ORDER = {
    "score_history": ["definition_version", "as_of", "account_id"],
    "index_history": ["definition_version", "as_of", "account_id", "index"],
    "metric_history": ["definition_version", "as_of", "account_id", "index", "metric"],
    "benchmarks": ["version", *BENCHMARK_KEY],
    "benchmark_versions": ["version"],
    "alerts": ["definition_version", "as_of", "account_id", "kind"],
    "definitions": ["version"],
    "runs": ["started_at", "run_id"],
}

# The tables :meth:`healthlab.store.Store.export` writes by default.
HISTORIES = ("score_history", "index_history", "metric_history", "alerts")


def store_file(path) -> Path:
    """The store's ``.duckdb`` file: `path` itself, or ``<path>/healthlab.duckdb``.

    Examples
    --------
    >>> store_file("runs").as_posix()
    'runs/healthlab.duckdb'
    >>> store_file("runs/health.duckdb").as_posix()
    'runs/health.duckdb'
    """
    path = Path(path)
    return path if path.suffix == ".duckdb" else path / STORE_FILENAME
