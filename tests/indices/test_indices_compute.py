"""Raw metrics against an independent plain-pandas computation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import make_world, write_world
from indices_reference import reference_metrics

from healthlab.engine import open_source
from healthlab.errors import MissingTableError, ParameterError
from healthlab.indices import CustomIndexParams, IndexParams, compute_raw_metrics
from healthlab.indices.params import RetentionParams

LABELS = ["2025-03-31", "2025-06-30", "2025-09-30", "2025-12-31", "2026-02-28"]
CUSTOM = [
    ("integrations", "custom_metrics", "value", "mean", 30, "integrations"),
    ("seats_last", "custom_metrics", "value", "last", 60, "seats"),
    ("seats_max", "custom_metrics", "value", "max", 45, "seats"),
    ("seats_min", "custom_metrics", "value", "min", 45, "seats"),
    ("seats_sum", "custom_metrics", "value", "sum", 45, "seats"),
    ("session_count", "sessions", "duration_s", "count", 7, None),
]
WINDOWS = {
    "duration": 30,
    "retention": 180,
    "performance": 30,
    "rating": 90,
    "loyalty": 120,
    "nps": 180,
    "touchpoints_held": 90,
    "touchpoint_cancellations": 90,
    "rapport": 365,
    **{c[0]: c[4] for c in CUSTOM},
}


def custom_params():
    return IndexParams(
        custom=[
            CustomIndexParams(
                name=name,
                table=table,
                column=col,
                aggregation=agg,
                window_days=days,
                metric=metric,
            )
            for name, table, col, agg, days, metric in CUSTOM
        ]
    )


def assert_matches(result: pd.DataFrame, tables: dict, labels) -> None:
    expected = reference_metrics(tables, labels, CUSTOM)
    got = {
        (r.account_id, r.as_of, r.index, r.metric): r.value for r in result.itertuples()
    }
    assert set(got) == set(expected)
    keys = sorted(expected)
    exp = np.array([expected[k] for k in keys], dtype=float)
    obs = np.array([got[k] for k in keys], dtype=float)
    bad = [
        (k, e, o)
        for k, e, o in zip(keys, exp, obs, strict=True)
        if not (np.isnan(e) and np.isnan(o))
        and not np.isclose(e, o, rtol=1e-9, atol=1e-9)
    ]
    assert not bad, f"{len(bad)} mismatches, e.g. {bad[:5]}"


def test_every_metric_matches_pandas(world_dir, world_tables):
    result = compute_raw_metrics(open_source(world_dir), LABELS, custom_params())
    assert_matches(result, world_tables, LABELS)
    # a meaningful test: most metrics have values, not only NaN
    assert result["value"].notna().mean() > 0.5
    for index, frame in result.groupby("index"):
        assert frame["value"].notna().any(), index


def test_output_shape_reasons_and_partial(world_dir, world_tables):
    result = compute_raw_metrics(open_source(world_dir), LABELS, custom_params())
    assert list(result.columns) == [
        "account_id",
        "as_of",
        "index",
        "metric",
        "value",
        "reason",
        "partial",
    ]
    assert result["as_of"].dtype == "datetime64[ns]"
    keys = ["account_id", "as_of", "index", "metric"]
    assert result.equals(result.sort_values(keys).reset_index(drop=True))
    assert not result.duplicated(keys).any()
    # unavailable values carry a reason, available ones none
    assert (result["value"].isna() == result["reason"].notna()).all()
    # performance only for web accounts, rating only for mobile accounts
    app = world_tables["accounts"].set_index("account_id")["app_type"]
    perf = result[(result["index"] == "performance") & (result.metric == "load_ms")]
    mobile = perf["account_id"].map(app) == "mobile"
    assert (perf.loc[mobile, "reason"] == "not_web").all()
    stars = result[(result["index"] == "rating") & (result.metric == "mean_stars")]
    assert (
        stars.loc[stars["account_id"].map(app) == "web", "reason"] == "not_mobile"
    ).all()
    # partial: account younger than the index window at the instant
    created = pd.to_datetime(
        world_tables["accounts"].set_index("account_id")["created_at"], utc=True
    )
    instant = result["as_of"].dt.tz_localize("UTC") + pd.Timedelta(days=1)
    age = (instant - result["account_id"].map(created)) / pd.Timedelta(days=1)
    expected = age < result["index"].map(WINDOWS)
    assert (result["partial"] == expected).all()
    assert result["partial"].any() and not result["partial"].all()


def test_snapshot_ignores_rows_after_the_instant(world_tables, tmp_path):
    """Appending events at and after t leaves the snapshot at t unchanged."""
    label = "2025-09-30"
    t = pd.Timestamp(label, tz="UTC") + pd.Timedelta(days=1)
    before = compute_raw_metrics(
        open_source(write_world(world_tables, tmp_path / "a")), [label], custom_params()
    )
    later = make_world(seed=99)
    grown = {}
    for name, frame in world_tables.items():
        extra = later[name]
        if name in ("accounts", "churn"):
            grown[name] = frame
            continue
        col = next(c for c in extra.columns if c.endswith("_at"))
        # shift the other world's rows to start exactly at t (and after)
        shifted = extra.copy()
        shifted[col] = t + (pd.to_datetime(shifted[col], utc=True) - shifted[col].min())
        shifted["account_id"] = shifted["account_id"].where(
            shifted["account_id"].isin(frame["account_id"]), frame["account_id"].iloc[0]
        )
        grown[name] = pd.concat([frame, shifted], ignore_index=True)
    after = compute_raw_metrics(
        open_source(write_world(grown, tmp_path / "b")), [label], custom_params()
    )
    pd.testing.assert_frame_equal(before, after)
    # and the appended rows do show in a later snapshot
    later_snap = compute_raw_metrics(
        open_source(write_world(grown, tmp_path / "b")), ["2025-10-31"], custom_params()
    )
    base = compute_raw_metrics(
        open_source(tmp_path / "a"), ["2025-10-31"], custom_params()
    )
    assert not later_snap["value"].fillna(-1).equals(base["value"].fillna(-1))


def test_short_retention_interval_is_rejected():
    with pytest.raises(ParameterError, match="at least 7 days") as info:
        RetentionParams(intervals=(3, 7, 14, 28, 56))
    assert str(info.value) == (
        "Invalid RetentionParams: retention intervals must be at least 7 days "
        "(data younger than a week skews the shares), got [3]"
    )
    with pytest.raises(ParameterError, match="retention intervals must be"):
        compute_raw_metrics(None, LABELS, {"retention": {"intervals": [5]}})


def test_missing_sessions_table_is_an_error(world_tables, tmp_path):
    tables = {k: v for k, v in world_tables.items() if k == "accounts"}
    source = open_source(write_world(tables, tmp_path))
    with pytest.raises(MissingTableError, match="Table 'sessions' is missing"):
        compute_raw_metrics(source, LABELS)


def test_loyalty_over_more_snapshots_than_one_bit_mask_holds(tmp_path):
    # 66 weekly snapshots: the day masks need a second 62-bit block
    tables = make_world(n_accounts=8, n_sessions=6_000, seed=5)
    labels = [
        d.date().isoformat() for d in pd.date_range("2025-02-02", periods=66, freq="7D")
    ]
    result = compute_raw_metrics(open_source(write_world(tables, tmp_path)), labels)
    expected = reference_metrics(tables, labels)
    loyalty = result[result["index"] == "loyalty"]
    got = loyalty.set_index(["account_id", "as_of", "metric"])["value"]
    want = pd.Series(
        {(a, t, m): v for (a, t, i, m), v in expected.items() if i == "loyalty"}
    )
    assert len(want) == len(got) > 66
    want = want.reindex(got.index)
    assert want.notna().sum() > 100
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=1e-12)
    assert (got.isna() == want.isna()).all()
