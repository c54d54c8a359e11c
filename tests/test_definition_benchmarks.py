"""Benchmarks of a score definition: rating shrinkage, refresh, as-of dates."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from test_benchmarks import _accounts, _raw

from healthlab.benchmarks import build_benchmarks
from healthlab.definition import load_definition
from healthlab.definition_benchmarks import (
    build_definition_benchmarks,
    refresh_benchmarks,
    shrink_ratings,
)
from healthlab.errors import StoreError
from healthlab.store import Store

# ----------------------------------------------------------- rating shrinkage


def test_rating_shrinkage_toward_the_peer_mean():
    acc = _accounts({("a", "s", "mobile"): 35, ("b", "s", "mobile"): 40})
    rng = np.random.default_rng(3)
    stars = rng.uniform(1, 5, size=len(acc))
    counts = rng.integers(1, 30, size=len(acc)).astype(float)
    raw = pd.concat(
        [
            _raw(acc, "rating", "mean_stars").assign(value=stars),
            _raw(acc, "rating", "n_ratings").assign(value=counts),
        ]
    ).assign(reason=None, partial=False)
    d = load_definition()
    first = build_benchmarks(raw[raw["metric"] == "mean_stars"], acc)
    got = shrink_ratings(raw, acc, first, peer_levels=d.peer_groups.levels)

    # independent: each group's plain mean of account means, then shrink
    peer_mean = pd.Series(stars).groupby(acc["industry"]).transform("mean")
    expected = (counts * stars + 10 * peer_mean) / (counts + 10)
    np.testing.assert_allclose(got["value"], expected)
    assert set(got["metric"]) == {"shrunk_stars"}


# ------------------------------------------------------------ store versions


def _world_raw(n=80, seed=5):
    rng = np.random.default_rng(seed)
    acc = pd.DataFrame(
        {
            "account_id": [f"a{i:03d}" for i in range(n)],
            "industry": rng.choice(["retail", "finance"], n),
            "size_band": rng.choice(["small", "large"], n),
            "app_type": rng.choice(["web", "mobile"], n),
        }
    )
    rows = []
    for as_of in pd.to_datetime(["2025-01-31", "2025-02-28"]):
        for index, metric in [("duration", "level"), ("loyalty", "loyalty")]:
            rows.append(
                pd.DataFrame(
                    {
                        "account_id": acc["account_id"],
                        "as_of": as_of,
                        "index": index,
                        "metric": metric,
                        "value": rng.uniform(size=n),
                        "reason": None,
                        "partial": False,
                    }
                )
            )
    return acc, pd.concat(rows, ignore_index=True)


def _digest(frame: pd.DataFrame) -> str:
    return hashlib.sha256(frame.to_parquet(index=False)).hexdigest()


def test_benchmark_versions_are_immutable(tmp_path):
    acc, raw = _world_raw()
    d = load_definition()
    store = Store(tmp_path / "healthlab.duckdb")
    first = refresh_benchmarks(store, raw, acc, d)
    before = store.read_benchmarks(first)
    before_bytes = _digest(before)

    # a second refresh on different data is a new version; the first is intact
    _, raw2 = _world_raw(seed=6)
    second = refresh_benchmarks(store, raw2, acc, d)
    assert (first, second) == ("b0001", "b0002")
    assert _digest(store.read_benchmarks(first)) == before_bytes
    assert _digest(store.read_benchmarks(second)) != before_bytes
    assert store.latest_benchmark_version() == "b0002"

    with pytest.raises(StoreError) as info:
        refresh_benchmarks(store, raw2, acc, d, version="b0001")
    assert str(info.value) == (
        f"Benchmark version 'b0001' already exists in {str(store.path)!r}; "
        "versions are immutable, choose a new name."
    )
    assert _digest(store.read_benchmarks(first)) == before_bytes


def test_refresh_restricts_to_as_of_dates():
    acc, raw = _world_raw()
    table = build_definition_benchmarks(raw, acc, load_definition(), ["2025-02-28"])
    assert set(table["as_of"]) == {pd.Timestamp("2025-02-28")}
    assert set(table["source_period"]) == {"before 2025-03-01 00:00 UTC"}
