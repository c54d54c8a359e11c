"""The DuckDB store: round trips, idempotent writes, atomicity, export."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from healthlab.alerts import ALERT_COLUMNS
from healthlab.definition import load_definition
from healthlab.errors import StoreError
from healthlab.store import Store
from healthlab.store_layout import SCHEMA


def _frames(as_of="2025-01-31", score=50.0, n=3):
    ids = [f"a{i}" for i in range(n)]
    date = pd.Timestamp(as_of)
    scores = pd.DataFrame(
        {
            "account_id": ids,
            "as_of": date,
            "definition_version": "v1",
            "score": [score + i for i in range(n)],
            "coverage": 1.0,
            "category": "Moderate",
            "reason": None,
            "account_age_days": 100,
            "benchmark_version": "b0001",
        }
    )
    indices = pd.DataFrame(
        {
            "account_id": ids,
            "as_of": date,
            "definition_version": "v1",
            "index": "duration",
            "source_index": "duration",
            "value": scores["score"],
            "weight": 1.0,
            "contribution": scores["score"],
            "available": True,
            "reason": None,
            "peer_level": "everyone",
            "peer_group": "all",
            "partial": False,
        }
    )
    metrics = pd.DataFrame(
        {
            "account_id": ids,
            "as_of": date,
            "definition_version": "v1",
            "index": "duration",
            "metric": "level",
            "value": [1.5, 2.5, np.nan][:n],
            "percentile": scores["score"],
            "peer_level": "everyone",
            "peer_group": "all",
        }
    )
    alerts = pd.DataFrame(columns=ALERT_COLUMNS)
    return scores, indices, metrics, alerts


def test_round_trip_and_types(tmp_path):
    store = Store(tmp_path)
    assert store.path == tmp_path / "healthlab.duckdb"
    scores, indices, metrics, alerts = _frames()
    store.write_scores(scores, indices, metrics, alerts)
    got = store.read_scores("v1")
    pd.testing.assert_frame_equal(
        got.drop(columns="account_age_days"),
        scores.drop(columns="account_age_days"),
        check_dtype=False,
    )
    assert str(got["as_of"].dtype) == "datetime64[ns]"
    assert got["account_age_days"].tolist() == [100, 100, 100]
    assert np.isnan(store.read_metrics("v1")["value"].iloc[2])
    assert store.read_scores("other").empty


def test_rewrite_of_an_as_of_is_idempotent(tmp_path):
    store = Store(tmp_path / "x.duckdb")
    store.write_scores(*_frames("2025-01-31", 50))
    store.write_scores(*_frames("2025-02-28", 60))
    store.write_scores(*_frames("2025-01-31", 70))
    got = store.read_scores()
    assert len(got) == 6
    jan = got[got["as_of"] == pd.Timestamp("2025-01-31")]
    assert jan["score"].tolist() == [70.0, 71.0, 72.0]
    feb = store.read_scores(as_of="2025-02-28")
    assert feb["score"].tolist() == [60.0, 61.0, 62.0]
    assert len(store.read_indices()) == 6


def test_failed_write_leaves_previous_contents(tmp_path):
    store = Store(tmp_path)
    store.write_scores(*_frames("2025-01-31", 50))
    scores, indices, metrics, alerts = _frames("2025-01-31", 90)
    broken = metrics.drop(columns="percentile")
    with pytest.raises(StoreError) as info:
        store.write_scores(scores, indices, broken, alerts)
    assert str(info.value) == (
        "Cannot write table 'metric_history': frame lacks column(s) ['percentile']."
    )
    # scores and indices were deleted and rewritten inside the same transaction
    assert store.read_scores()["score"].tolist() == [50.0, 51.0, 52.0]
    assert store.read_indices()["value"].tolist() == [50.0, 51.0, 52.0]


def test_definition_versions_cannot_change_meaning(tmp_path):
    store = Store(tmp_path)
    d = load_definition()
    store.write_definition(d)
    store.write_definition(d)
    changed = d.model_copy(update={"min_coverage": 0.6})
    with pytest.raises(StoreError) as info:
        store.write_definition(changed)
    assert str(info.value) == (
        "Score definition version 'default-1' is already stored with different "
        "content; bump `version` in the definition file."
    )
    assert len(store.read_table("definitions")) == 1


def test_missing_benchmark_version_is_named(tmp_path):
    store = Store(tmp_path)
    with pytest.raises(StoreError) as info:
        store.read_benchmarks()
    assert str(info.value) == (
        f"Store {str(store.path)!r} holds no benchmarks; run "
        "`healthlab benchmarks refresh` first."
    )


def test_export_parquet_and_csv(tmp_path):
    store = Store(tmp_path / "s")
    store.write_scores(*_frames())
    written = store.export(tmp_path / "out")
    assert sorted(p.name for p in written) == [
        "alerts.parquet",
        "index_history.parquet",
        "metric_history.parquet",
        "score_history.parquet",
    ]
    back = pd.read_parquet(tmp_path / "out" / "score_history.parquet")
    assert back["score"].tolist() == [50.0, 51.0, 52.0]
    store.export(tmp_path / "csv", fmt="csv", tables=["score_history"])
    text = (tmp_path / "csv" / "score_history.csv").read_text().splitlines()
    assert text[0] == ",".join(SCHEMA["score_history"])
    assert len(text) == 4


def test_tables_follow_the_schema(tmp_path):
    store = Store(tmp_path)
    con = duckdb.connect(str(store.path), read_only=True)
    try:
        for table, columns in SCHEMA.items():
            names = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]
            assert names == list(columns)
    finally:
        con.close()
