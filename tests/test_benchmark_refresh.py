"""Benchmark refresh: content hash, idempotent versions, peer-group fallbacks."""

from __future__ import annotations

import numpy as np
import pandas as pd

from healthlab.benchmark_refresh import (
    benchmark_content_hash,
    peer_group_fallbacks,
    refresh_benchmark_version,
)
from healthlab.benchmarks import BENCHMARK_COLUMNS
from healthlab.store import Store


def _table(values: np.ndarray) -> pd.DataFrame:
    # one peer group's 101 quantiles of `values`, as a benchmark version
    return pd.DataFrame(
        {
            "as_of": pd.Timestamp("2025-10-31"),
            "index": "duration",
            "metric": "level",
            "peer_level": "everyone",
            "peer_group": "all",
            "quantile": np.arange(101),
            "value": np.quantile(values, np.arange(101) / 100),
            "member_count": len(values),
            "member_mean": float(np.mean(values)),
            "source_period": None,
        },
        columns=BENCHMARK_COLUMNS,
    )


def test_content_hash_survives_the_store_and_row_order(tmp_path):
    table = _table(np.random.default_rng(4).normal(size=50))
    digest = benchmark_content_hash(table)
    store = Store(tmp_path / "healthlab.duckdb")
    version = store.write_benchmarks(table)
    assert benchmark_content_hash(store.read_benchmarks(version)) == digest
    shuffled = table.sample(frac=1.0, random_state=1)
    assert benchmark_content_hash(shuffled) == digest
    changed = table.copy()
    changed.loc[37, "value"] += 1e-9
    assert benchmark_content_hash(changed) != digest


def test_refresh_twice_for_the_same_as_of_keeps_one_version(small_world, tmp_path):
    store_path = tmp_path / "healthlab.duckdb"
    first = refresh_benchmark_version(
        small_world, store_path=store_path, as_of="2025-09-30"
    )
    again = refresh_benchmark_version(
        small_world, store_path=store_path, as_of="2025-09-30"
    )
    assert (first.reused, again.reused) == (False, True)
    assert again.version == first.version
    assert list(Store(store_path).benchmark_versions()["version"]) == [first.version]
    later = refresh_benchmark_version(
        small_world, store_path=store_path, as_of="2025-10-31", min_group_size=5
    )
    assert not later.reused
    assert later.previous == first.version
    assert len(Store(store_path).benchmark_versions()) == 2
    # a smaller minimum lets more specific groups serve
    fallbacks = peer_group_fallbacks(
        later.benchmarks, later.accounts, later.definition.peer_groups.levels
    )
    accounts = pd.read_parquet(small_world / "accounts")
    sizes = accounts.groupby(["industry", "size_band", "app_type"]).size()
    assert fallbacks["accounts"].sum() == len(accounts) * len(
        later.benchmarks[["index", "metric"]].drop_duplicates()
    )
    assert set(fallbacks["accounts"]) <= set(sizes)
    assert (fallbacks["fallback"] == 0).any() and (fallbacks["fallback"] > 0).any()
