"""Scoring: percentiles, index mixes, renormalised weights, contributions."""

from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from healthlab.definition import (
    DEFAULT_DEFINITION_PATH,
    load_definition,
    parse_definition,
)
from healthlab.definition_benchmarks import build_definition_benchmarks
from healthlab.errors import StoreError
from healthlab.scoring import compute_scores, score_raw_metrics

AS_OF = pd.Timestamp("2025-03-31")
CREATED = pd.Timestamp("2024-01-01", tz="UTC")


def _accounts(n_web=60, n_mobile=40) -> pd.DataFrame:
    n = n_web + n_mobile
    return pd.DataFrame(
        {
            "account_id": [f"a{i:03d}" for i in range(n)],
            "name": [f"Account {i}" for i in range(n)],
            "csm": ["ann"] * n,
            "industry": "retail",
            "size_band": "small",
            "app_type": ["web"] * n_web + ["mobile"] * n_mobile,
            "created_at": CREATED,
        }
    )


def _raw(acc: pd.DataFrame, seed=0, as_of=AS_OF) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []

    def add(index, metric, values, reason=None):
        rows.append(
            pd.DataFrame(
                {
                    "account_id": acc["account_id"],
                    "as_of": as_of,
                    "index": index,
                    "metric": metric,
                    "value": np.asarray(values, dtype=float),
                    "reason": reason,
                    "partial": False,
                }
            )
        )

    n = len(acc)
    web = (acc["app_type"] == "web").to_numpy()
    add("duration", "level", rng.gamma(2.0, size=n))
    add("duration", "trend", rng.normal(size=n))
    add("retention", "composite", rng.uniform(size=n))
    add("performance", "load_ms", np.where(web, rng.gamma(3, 300, size=n), np.nan))
    add("performance", "success_share", np.where(web, rng.uniform(0.8, 1, n), np.nan))
    add("rating", "mean_stars", np.where(~web, rng.uniform(1, 5, n), np.nan))
    add("rating", "n_ratings", np.where(~web, rng.integers(1, 40, n), 0))
    add("loyalty", "loyalty", rng.uniform(size=n))
    add("nps", "nps", rng.integers(-100, 101, size=n))
    add("nps", "change", rng.normal(0, 20, size=n))
    add("integrations", "value", rng.poisson(3, size=n))
    raw = pd.concat(rows, ignore_index=True)
    raw.loc[raw["value"].isna() & (raw["index"] == "performance"), "reason"] = "not_web"
    raw.loc[raw["value"].isna() & (raw["index"] == "rating"), "reason"] = "not_mobile"
    return raw


@pytest.fixture(scope="module")
def world():
    acc = _accounts()
    raw = _raw(acc)
    d = load_definition()
    bench = build_definition_benchmarks(raw, acc, d)
    return acc, raw, d, bench


def test_metric_percentiles_against_numpy_quantiles(world):
    acc, raw, d, bench = world
    result = score_raw_metrics(raw, acc, d, bench)
    m = result.metrics
    for index, metric, lower in [
        ("duration", "level", False),
        ("performance", "load_ms", True),
    ]:
        pop = raw[(raw["index"] == index) & (raw["metric"] == metric)]
        pop = pop.dropna(subset=["value"]).merge(acc, on="account_id")
        # peers share the app type (one industry and size band here)
        expected = pop.groupby("app_type")["value"].transform(
            lambda v: pd.Series(
                np.interp(v, np.percentile(v, np.arange(101)), np.arange(101)),
                index=v.index,
            )
        )
        if lower:
            expected = 100 - expected
        got = m[(m["index"] == index) & (m["metric"] == metric)].dropna(
            subset=["value"]
        )
        np.testing.assert_allclose(got["percentile"], expected)
        # 60 web and 40 mobile accounts: the most specific level serves
        assert set(got["peer_level"]) == {"industry+size_band+app_type"}
    informational = m[m["metric"] == "n_ratings"]
    assert informational["percentile"].isna().all()


def test_index_values_mix_the_percentiles(world):
    acc, raw, d, bench = world
    result = score_raw_metrics(raw, acc, d, bench)
    p = result.metrics.pivot_table(
        index="account_id", columns=["index", "metric"], values="percentile"
    )
    ind = result.indices.set_index(["account_id", "index"])["value"]
    duration = 0.7 * p[("duration", "level")] + 0.3 * p[("duration", "trend")]
    np.testing.assert_allclose(ind.xs("duration", level="index"), duration)
    nps = 0.5 * p[("nps", "nps")] + 0.5 * p[("nps", "change")]
    np.testing.assert_allclose(ind.xs("nps", level="index"), nps)

    # the performance slot: page loads for web, shrunk stars for mobile
    perf = ind.xs("performance", level="index")
    web = acc.set_index("account_id")["app_type"].eq("web")
    mix = (
        0.5 * p[("performance", "load_ms")] + 0.5 * p[("performance", "success_share")]
    )
    np.testing.assert_allclose(perf[web], mix[web])
    np.testing.assert_allclose(perf[~web], p[("rating", "shrunk_stars")][~web])
    sources = result.indices[result.indices["index"] == "performance"]
    assert sorted(set(sources["source_index"])) == ["performance", "rating"]


def test_index_with_one_missing_metric_uses_the_other(world):
    acc, raw, d, bench = world
    raw = raw.copy()
    gone = (raw["account_id"] == "a000") & (raw["metric"] == "trend")
    raw.loc[gone, "value"] = np.nan
    result = score_raw_metrics(raw, acc, d, bench)
    m = result.metrics.set_index(["account_id", "index", "metric"])["percentile"]
    ind = result.indices.set_index(["account_id", "index"])["value"]
    assert ind[("a000", "duration")] == m[("a000", "duration", "level")]


def _index_values(rows):
    frame = pd.DataFrame(
        rows, columns=["account_id", "index", "value", "available", "reason"]
    )
    return frame.assign(as_of=AS_OF, partial=False, peer_level=None, peer_group=None)


def test_scores_renormalise_over_available_indices():
    acc = _accounts(2, 1)
    d = load_definition()
    full = {
        "duration": 80,
        "retention": 60,
        "performance": 40,
        "loyalty": 20,
        "nps": 90,
        "integrations": 10,
    }
    rows = []
    for account in acc["account_id"]:
        for index, value in full.items():
            # a001 has no NPS; a002 (mobile) fills performance from rating
            if account == "a001" and index == "nps":
                rows.append((account, index, np.nan, False, "too_few_responses"))
            elif account == "a002" and index == "performance":
                rows.append((account, "rating", 30.0, True, None))
            else:
                rows.append((account, index, float(value), True, None))
    scores, indices = compute_scores(_index_values(rows), acc, d)
    scores = scores.set_index("account_id")

    w = {
        "duration": 25,
        "retention": 20,
        "performance": 20,
        "loyalty": 15,
        "nps": 10,
        "integrations": 10,
    }
    expected_a000 = sum(w[i] * full[i] for i in w) / 100
    expected_a001 = sum(w[i] * full[i] for i in w if i != "nps") / 90
    mobile = dict(full, performance=30)
    expected_a002 = sum(w[i] * mobile[i] for i in w) / 100
    np.testing.assert_allclose(
        scores["score"], [expected_a000, expected_a001, expected_a002]
    )
    np.testing.assert_allclose(scores["coverage"], [1.0, 0.9, 1.0])

    # contributions add up to the score exactly
    summed = indices.groupby("account_id")["contribution"].agg(
        lambda v: math.fsum(v.dropna())
    )
    assert (summed == scores["score"]).all()
    nps_a001 = indices[(indices["account_id"] == "a001") & (indices["index"] == "nps")]
    assert nps_a001["contribution"].isna().all()
    assert nps_a001["reason"].item() == "too_few_responses"
    assert scores["category"].tolist() == ["Moderate", "Moderate", "Moderate"]
    age = (pd.Timestamp("2025-04-01", tz="UTC") - CREATED).days
    assert scores["account_age_days"].tolist() == [age] * 3


def test_score_unavailable_below_minimum_coverage():
    acc = _accounts(1, 0)
    d = load_definition()
    rows = [
        ("a000", "duration", 90.0, True, None),
        ("a000", "retention", np.nan, False, "too_few_users"),
        ("a000", "performance", np.nan, False, "no_page_loads"),
        ("a000", "loyalty", 50.0, True, None),
        ("a000", "nps", np.nan, False, "too_few_responses"),
    ]
    scores, indices = compute_scores(_index_values(rows), acc, d)
    row = scores.iloc[0]
    assert np.isnan(row["score"]) and row["category"] is None
    assert row["coverage"] == pytest.approx(0.4)
    assert row["reason"] == (
        "coverage 0.40 below minimum 0.50; unavailable: integrations (no_data), "
        "nps (too_few_responses), performance (no_page_loads), "
        "retention (too_few_users)"
    )
    assert indices["contribution"].isna().all()


def test_linear_custom_index():
    data = yaml.safe_load(DEFAULT_DEFINITION_PATH.read_text())
    data = copy.deepcopy(data)
    data["indices"]["custom"][0].update(scoring="linear", worst=0, best=8)
    d = parse_definition(data)
    acc = _accounts(40, 0)
    raw = _raw(acc)
    bench = build_definition_benchmarks(raw, acc, d)
    result = score_raw_metrics(raw, acc, d, bench)
    got = result.indices[result.indices["index"] == "integrations"]["value"]
    values = raw[raw["index"] == "integrations"]["value"]
    np.testing.assert_allclose(got, np.clip(values / 8 * 100, 0, 100))
    assert not (bench["index"] == "integrations").any()


def test_scores_are_deterministic_and_order_invariant(world):
    acc, raw, d, bench = world
    first = score_raw_metrics(raw, acc, d, bench, benchmark_version="b1")
    shuffled = raw.sample(frac=1.0, random_state=3)
    second = score_raw_metrics(
        shuffled, acc.iloc[::-1], d, bench, benchmark_version="b1"
    )
    for name in ("scores", "indices", "metrics"):
        a, b = getattr(first, name), getattr(second, name)
        assert a.to_parquet(index=False) == b.to_parquet(index=False)
    assert list(first.scores.dtypes.astype(str)) == [
        "object",
        "datetime64[ns]",
        "object",
        "float64",
        "float64",
        "object",
        "object",
        "Int64",
        "object",
    ]


def test_missing_benchmark_date_is_an_error(world):
    acc, raw, d, bench = world
    later = raw.assign(as_of=pd.Timestamp("2025-04-30"))
    with pytest.raises(StoreError) as info:
        score_raw_metrics(later, acc, d, bench, benchmark_version="b0001")
    assert str(info.value) == (
        "Benchmark version 'b0001' has no rows for 1 as-of date(s) "
        "['2025-04-30']; refresh the benchmarks for them or pin a version that "
        "covers them."
    )


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), st.floats(0, 100)), min_size=6, max_size=6),
    seed=st.integers(0, 10),
)
def test_score_bounds_and_row_order(values, seed):
    acc = _accounts(1, 0)
    d = load_definition()
    names = ["duration", "retention", "performance", "loyalty", "nps", "integrations"]
    rows = [
        ("a000", n, np.nan if v is None else v, v is not None, None if v else "x")
        for n, v in zip(names, values, strict=True)
    ]
    frame = _index_values(rows)
    scores, indices = compute_scores(frame, acc, d)
    shuffled, _ = compute_scores(frame.sample(frac=1.0, random_state=seed), acc, d)
    assert scores.to_parquet() == shuffled.to_parquet()
    score = scores["score"].iloc[0]
    if not np.isnan(score):
        assert 0 <= score <= 100
        assert math.fsum(indices["contribution"].dropna()) == score
        assert indices["contribution"].sum() == pytest.approx(score, abs=1e-12)
        available = [v for v in values if v is not None]
        assert min(available) - 1e-9 <= score <= max(available) + 1e-9


@settings(max_examples=8, deadline=None)
@given(account=st.integers(0, 59), factor=st.floats(1.01, 50.0))
def test_score_monotone_in_raw_value(world, account, factor):
    acc, raw, d, bench = world
    base = score_raw_metrics(raw, acc, d, bench)

    # more usage never lowers the account's score (pinned benchmark)
    higher = raw.copy()
    key = f"a{account:03d}"
    sel = (higher["account_id"] == key) & (higher["metric"] == "level")
    higher.loc[sel, "value"] *= factor
    moved = score_raw_metrics(higher, acc, d, bench)
    before = base.scores.set_index("account_id").loc[key, "score"]
    after = moved.scores.set_index("account_id").loc[key, "score"]
    assert after >= before - 1e-9
    others = moved.scores["account_id"] != key
    pd.testing.assert_series_equal(
        moved.scores.loc[others, "score"], base.scores.loc[others, "score"]
    )
