"""Determinism: the same inputs and definition give byte-identical tables.

The small world is scored twice on DuckDB and once on Spark, each into its
own store; the score, index, metric and alert histories and the benchmark
rows must be identical bit for bit. Rows are compared sorted, through a
SHA-256 of their Parquet export and, on a mismatch, the largest difference
per column so the failure says where the tables part.
"""

from __future__ import annotations

import hashlib
import pprint

import numpy as np
import pandas as pd
import pytest

from healthlab.pipeline import score_source
from healthlab.store import Store

pytestmark = pytest.mark.timeout(900)

TABLES = ("score_history", "index_history", "metric_history", "alerts", "benchmarks")


def tables_of(store_path) -> dict[str, pd.DataFrame]:
    """Every output table of the store, rows sorted by all columns."""
    store = Store(store_path)
    out = {}
    for table in TABLES:
        frame = store.read_table(table)
        out[table] = frame.sort_values(list(frame.columns), ignore_index=True)
    return out


def digest(frame: pd.DataFrame, tmp_path) -> str:
    path = tmp_path / "rows.parquet"
    frame.to_parquet(path, index=False)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def differences(left: pd.DataFrame, right: pd.DataFrame) -> dict[str, object]:
    """Where two tables of the same key differ: row count or per column."""
    if len(left) != len(right) or list(left.columns) != list(right.columns):
        return {"rows": (len(left), len(right))}
    found = {}
    for col in left.columns:
        a, b = left[col], right[col]
        if a.dtype.kind == "f":
            same = (a.to_numpy() == b.to_numpy()) | (a.isna() & b.isna()).to_numpy()
            if not same.all():
                gap = np.nanmax(np.abs(a.to_numpy() - b.to_numpy()))
                found[col] = f"{int((~same).sum())} values differ, max {gap:.3g}"
        elif not a.equals(b):
            found[col] = f"{int((a != b).sum())} values differ"
    return found


def assert_identical(first, second, tmp_path) -> None:
    report = {}
    for table in TABLES:
        if digest(first[table], tmp_path) != digest(second[table], tmp_path):
            report[table] = differences(first[table], second[table])
    assert report == {}, pprint.pformat(report)


@pytest.fixture(scope="module")
def duckdb_runs(small_world, tmp_path_factory):
    """The small world scored twice on DuckDB into two stores."""
    runs = []
    for i in range(2):
        store = tmp_path_factory.mktemp(f"determinism_{i}") / "healthlab.duckdb"
        score_source(small_world, store_path=store)
        runs.append(tables_of(store))
    return runs


@pytest.mark.slow
def test_two_duckdb_runs_give_identical_tables(duckdb_runs, tmp_path):
    first, second = duckdb_runs
    assert len(first["score_history"]) > 0 and len(first["benchmarks"]) > 0
    assert_identical(first, second, tmp_path)


@pytest.mark.slow
@pytest.mark.spark
@pytest.mark.filterwarnings("ignore:unclosed <socket:ResourceWarning")
def test_spark_gives_the_tables_of_duckdb(
    duckdb_runs, small_world, spark_session, tmp_path
):
    store = tmp_path / "healthlab.duckdb"
    score_source(small_world, store_path=store, engine="spark")
    assert_identical(duckdb_runs[0], tables_of(store), tmp_path)
