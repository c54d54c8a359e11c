"""Tests of the account-batched raw metrics and of DuckDB's memory limit.

The reference is :func:`compute_raw_metrics` on the whole source; part files
are inspected with pyarrow directly.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

import healthlab.indices.batched as batched
from healthlab.engine import MEMORY_LIMIT_ENV, open_source
from healthlab.errors import ParameterError
from healthlab.indices import compute_raw_metrics, write_raw_metrics
from healthlab.indices.batched import read_raw_metrics
from healthlab.indices.compute import compute_blocks

AS_OF = ["2025-01-31", "2025-06-30", "2025-12-31", "2026-09-30"]


@pytest.fixture(scope="module")
def world(small_world) -> Path:
    return small_world


@pytest.fixture(scope="module")
def source(world):
    return open_source(world, threads=2)


@pytest.fixture(scope="module")
def whole(source) -> pd.DataFrame:
    return compute_raw_metrics(source, AS_OF)


def test_batches_equal_the_whole_computation(source, whole, tmp_path):
    out = tmp_path / "m"
    summary = write_raw_metrics(source, AS_OF, None, out, accounts_per_batch=17)
    assert (summary.batches, summary.accounts, summary.rows) == (8, 120, len(whole))
    got = read_raw_metrics(tmp_path / "m")
    pd.testing.assert_frame_equal(got, whole)
    # plain pandas reads the same rows
    plain = pd.read_parquet(tmp_path / "m")
    pd.testing.assert_frame_equal(plain, whole)


# the tables each index reads besides the accounts (sessions: always batched)
SMALL_TABLE_INDICES = {
    "performance": ["page_loads"],
    "rating": ["ratings"],
    "nps": ["nps_responses", "nps_invitations"],
    "touchpoints": ["touchpoints"],
    "rapport": ["rapport"],
}


def _rows(world: Path, table: str) -> int:
    folder = world / table
    return pq.ParquetDataset(sorted(folder.rglob("*.parquet"))).read().num_rows


@pytest.mark.parametrize("limit", ["none", "below_page_loads", "all"])
def test_small_tables_run_once_over_every_account(
    world, source, whole, tmp_path, limit
):
    counts = {
        t: _rows(world, t) for tables in SMALL_TABLE_INDICES.values() for t in tables
    }
    rows = {
        "none": 0,
        "below_page_loads": counts["page_loads"] - 1,
        "all": max(counts.values()),
    }[limit]
    expected = tuple(
        name
        for name, tables in SMALL_TABLE_INDICES.items()
        if rows > 0 and all(counts[t] <= rows for t in tables)
    )
    summary = write_raw_metrics(
        source,
        AS_OF,
        None,
        tmp_path / "m",
        accounts_per_batch=23,
        whole_pass_rows=rows,
    )
    assert summary.whole_pass == expected
    assert ("performance" in expected) == (limit == "all")
    pd.testing.assert_frame_equal(read_raw_metrics(tmp_path / "m"), whole)


def test_parts_hold_contiguous_account_ranges(world, source, whole, tmp_path):
    write_raw_metrics(source, AS_OF, None, tmp_path / "m", accounts_per_batch=50)
    files = sorted((tmp_path / "m").iterdir())
    assert [f.name for f in files] == [f"part-{i:05d}.parquet" for i in range(3)]
    # batches are ranges of the accounts table; a part holds those alive
    accounts = sorted(pd.read_parquet(world / "accounts")["account_id"])
    alive = set(whole["account_id"])
    ranges = [accounts[:50], accounts[50:100], accounts[100:]]
    for file, ids in zip(files, ranges, strict=True):
        part = pq.read_table(file)
        assert sorted(set(part["account_id"].to_pylist())) == sorted(alive & set(ids))
        # strings are stored as Parquet dictionary pages
        column = pq.ParquetFile(file).metadata.row_group(0).column(0)
        assert column.path_in_schema == "account_id"
        assert any("DICTIONARY" in e for e in column.encodings)


def test_one_batch_and_a_rerun_replace_the_output(source, whole, tmp_path):
    out = tmp_path / "m"
    write_raw_metrics(source, AS_OF, None, out, accounts_per_batch=40)
    summary = write_raw_metrics(source, AS_OF, None, out, accounts_per_batch=1000)
    assert summary.batches == 1
    assert [f.name for f in out.iterdir()] == ["part-00000.parquet"]
    pd.testing.assert_frame_equal(read_raw_metrics(out), whole)


def test_failure_leaves_the_previous_output_untouched(
    source, whole, tmp_path, monkeypatch
):
    out = tmp_path / "m"
    write_raw_metrics(source, AS_OF, None, out, accounts_per_batch=60)
    before = {f.name: f.read_bytes() for f in out.iterdir()}
    calls = []

    def failing(ctx, passes):
        # the first call is the pass over every account, then one per batch
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("engine gave up")
        return compute_blocks(ctx, passes)

    monkeypatch.setattr(batched, "compute_blocks", failing)
    with pytest.raises(RuntimeError, match="engine gave up"):
        write_raw_metrics(source, AS_OF, None, out, accounts_per_batch=30)
    assert len(calls) == 3
    assert {f.name: f.read_bytes() for f in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]

    calls.clear()
    with pytest.raises(RuntimeError, match="engine gave up"):
        write_raw_metrics(source, AS_OF, None, tmp_path / "new", accounts_per_batch=40)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_refuses_a_folder_that_is_not_an_output(source, tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "notes.txt").write_text("mine")
    with pytest.raises(ParameterError, match="is not a raw-metrics folder"):
        write_raw_metrics(source, AS_OF, None, tmp_path / "m")
    assert (tmp_path / "m" / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("value", [0, -3, 2.5, "10", True])
def test_rejects_a_bad_batch_size(source, tmp_path, value):
    with pytest.raises(ParameterError, match="`accounts_per_batch` must be a posi"):
        write_raw_metrics(source, AS_OF, None, tmp_path / "m", accounts_per_batch=value)
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("value", [-1, 2.5, "10", False])
def test_rejects_a_bad_whole_pass_size(source, tmp_path, value):
    message = f"`whole_pass_rows` must be a non-negative integer, got {value!r}."
    with pytest.raises(ParameterError) as caught:
        write_raw_metrics(source, AS_OF, None, tmp_path / "m", whole_pass_rows=value)
    assert str(caught.value) == message
    assert not (tmp_path / "m").exists()


def test_read_refuses_a_folder_without_parts(tmp_path):
    with pytest.raises(ParameterError, match="holds no raw-metric part files"):
        read_raw_metrics(tmp_path)


# --- DuckDB memory limit --------------------------------------------------------


def _limit(source) -> str:
    sql = "SELECT current_setting('memory_limit')"
    return source.con.raw_sql(sql).fetchone()[0]


def test_memory_limit_reaches_duckdb(world, monkeypatch):
    monkeypatch.delenv(MEMORY_LIMIT_ENV, raising=False)
    # DuckDB reports the limit in binary units: 700 MB = 667.5 MiB
    assert _limit(open_source(world, memory_limit="700MB")) == "667.5 MiB"
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "1GiB")
    assert _limit(open_source(world)) == "1.0 GiB"
    # the argument wins over the environment
    assert _limit(open_source(world, memory_limit="2GiB")) == "2.0 GiB"


@pytest.mark.parametrize("value", ["1GB'; SET threads = 1; --", "lots", "12 parsecs"])
def test_memory_limit_rejects_what_is_not_a_size(world, value):
    with pytest.raises(ParameterError, match="`memory_limit` must be a size"):
        open_source(world, memory_limit=value)


def test_batches_run_under_a_small_memory_limit(world, whole, tmp_path):
    source = open_source(world, threads=2, memory_limit="200MB")
    write_raw_metrics(source, AS_OF, None, tmp_path / "m", accounts_per_batch=40)
    pd.testing.assert_frame_equal(read_raw_metrics(tmp_path / "m"), whole)


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:unclosed <socket:ResourceWarning")
def test_batches_on_spark_equal_duckdb(spark_session, world, whole, tmp_path):
    source = open_source(world, engine="spark")
    summary = write_raw_metrics(
        source, AS_OF, None, tmp_path / "m", accounts_per_batch=70
    )
    assert summary.batches == 2
    got = read_raw_metrics(tmp_path / "m")
    pd.testing.assert_frame_equal(got, whole, rtol=1e-9, atol=1e-9)
