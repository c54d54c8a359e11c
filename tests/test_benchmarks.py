"""Peer benchmarks: percentiles, quantile tables, fallback, external population."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from healthlab.benchmarks import (
    assign_peer_groups,
    benchmarks_from_population,
    build_benchmarks,
    percentile_from_quantiles,
    percentile_of_score,
)
from healthlab.definition import load_definition

AS_OF = pd.Timestamp("2025-03-31")


# --------------------------------------------------------------- percentiles


@pytest.mark.parametrize("n", [1, 2, 3, 7, 50, 400])
def test_percentile_of_score_matches_scipy_mean_kind(n):
    rng = np.random.default_rng(n)
    # integers give many ties
    pop = rng.integers(0, 6, size=n).astype(float)
    probes = np.arange(-1, 8, 0.5)
    expected = [stats.percentileofscore(pop, x, kind="mean") for x in probes]
    np.testing.assert_allclose(percentile_of_score(pop, probes), expected)


def test_percentile_of_score_ignores_nan_members_and_keeps_nan_values():
    got = percentile_of_score([1.0, np.nan, 3.0], [np.nan, 2.0])
    assert np.isnan(got[0]) and got[1] == 50.0


def test_percentile_from_quantiles_is_the_linear_inverse():
    rng = np.random.default_rng(1)
    pop = rng.normal(size=500)
    q = np.quantile(pop, np.arange(101) / 100)
    x = rng.normal(size=200)
    # an independent inverse: numpy's own interpolation of (q_k, k)
    expected = np.interp(x, q, np.arange(101))
    np.testing.assert_allclose(percentile_from_quantiles(q, x), expected)


def test_percentile_from_quantiles_mid_rank_on_tied_quantiles():
    q = np.concatenate([np.zeros(41), np.linspace(0, 1, 61)[1:]])
    # q_0..q_40 are all 0: the mid-rank of that run is 20
    assert percentile_from_quantiles(q, [0.0])[0] == 20.0
    assert percentile_from_quantiles(q, [-1.0, 2.0]).tolist() == [0.0, 100.0]
    np.testing.assert_allclose(percentile_from_quantiles(q, [0.5])[0], 70.0)


@pytest.mark.parametrize("n", [2, 5, 30, 31, 200])
def test_table_percentile_is_close_to_the_exact_one(n):
    rng = np.random.default_rng(n)
    pop = rng.integers(0, 10, size=n).astype(float) + rng.uniform(size=n).round(1)
    q = np.quantile(pop, np.arange(101) / 100)
    probes = np.concatenate([pop, rng.uniform(-1, 11, size=50)])
    exact = [stats.percentileofscore(pop, x, kind="mean") for x in probes]
    got = percentile_from_quantiles(q, probes)
    assert np.max(np.abs(got - exact)) <= 1 + 100 / (n - 1) + 1e-9


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=60),
    st.lists(st.floats(-2e3, 2e3), min_size=2, max_size=20),
)
def test_percentile_properties(pop, probes):
    q = np.quantile(np.array(pop), np.arange(101) / 100)
    probes = np.sort(np.array(probes))
    for got in (percentile_from_quantiles(q, probes), percentile_of_score(pop, probes)):
        # bounded and monotone in the value
        assert np.all((got >= 0) & (got <= 100))
        assert np.all(np.diff(got) >= -1e-9)
    # the population's order does not matter
    shuffled = np.random.default_rng(0).permutation(pop)
    np.testing.assert_array_equal(
        percentile_of_score(shuffled, probes), percentile_of_score(pop, probes)
    )


# ------------------------------------------------------ quantiles and groups


def _accounts(groups: dict[tuple[str, str, str], int]) -> pd.DataFrame:
    rows = []
    for (industry, size, app), n in groups.items():
        for _ in range(n):
            rows.append((industry, size, app))
    frame = pd.DataFrame(rows, columns=["industry", "size_band", "app_type"])
    frame.insert(0, "account_id", [f"a{i:04d}" for i in range(len(frame))])
    return frame


def _raw(accounts, index="duration", metric="level", seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "account_id": accounts["account_id"],
            "as_of": AS_OF,
            "index": index,
            "metric": metric,
            "value": rng.gamma(2.0, size=len(accounts)),
        }
    )


def test_quantile_rows_match_numpy_per_group():
    acc = _accounts(
        {("a", "s", "web"): 40, ("a", "m", "web"): 33, ("b", "s", "web"): 5}
    )
    raw = _raw(acc)
    bench = build_benchmarks(raw, acc)
    data = raw.merge(acc, on="account_id")
    for (industry, size), part in data.groupby(["industry", "size_band"]):
        if len(part) < 30:
            continue
        got = bench[bench["peer_group"] == f"{industry}|{size}|web"]
        np.testing.assert_allclose(
            got["value"], np.percentile(part["value"], np.arange(101))
        )
        assert (got["member_count"] == len(part)).all()
        np.testing.assert_allclose(got["member_mean"], part["value"].mean())
    # the small group is not stored at the first level
    assert not (bench["peer_group"] == "b|s|web").any()
    everyone = bench[bench["peer_level"] == "everyone"]
    np.testing.assert_allclose(
        everyone["value"], np.percentile(raw["value"], range(101))
    )


@pytest.mark.parametrize(
    ("size", "level"),
    [
        (29, "industry+app_type"),
        (30, "industry+size_band+app_type"),
        (31, "industry+size_band+app_type"),
    ],
)
def test_fallback_on_group_size(size, level):
    acc = _accounts(
        {("a", "s", "web"): size, ("a", "m", "web"): 10, ("b", "s", "web"): 25}
    )
    raw = _raw(acc)
    bench = build_benchmarks(raw, acc)
    served = assign_peer_groups(raw.merge(acc, on="account_id"), bench)
    first = served.iloc[0]
    assert first["peer_level"] == level
    # 10 members in (a, m); (a, web) has size + 10 >= 30 always
    assert served.iloc[size]["peer_level"] == "industry+app_type"
    assert served.iloc[size]["peer_group"] == "a|web"
    # 25 members of industry b, alone on web in b: falls to app_type (web)
    assert served.iloc[-1]["peer_level"] == "app_type"
    assert served.iloc[-1]["peer_group"] == "web"


def test_fallback_counts_only_members_with_a_value():
    acc = _accounts({("a", "s", "web"): 31, ("z", "z", "web"): 40})
    raw = _raw(acc)
    raw.loc[:1, "value"] = np.nan  # 29 members with a value remain in (a, s, web)
    bench = build_benchmarks(raw, acc)
    served = assign_peer_groups(raw.merge(acc, on="account_id"), bench)
    assert served.iloc[5]["peer_level"] == "app_type"


def test_loyalty_never_leaves_the_app_type():
    acc = _accounts({("a", "s", "web"): 12, ("a", "s", "mobile"): 50})
    raw = _raw(acc, index="loyalty", metric="loyalty")
    d = load_definition()
    bench = build_benchmarks(
        raw, acc, peer_levels=d.peer_groups.levels, within=dict(d.peer_groups.within)
    )
    served = assign_peer_groups(raw.merge(acc, on="account_id"), bench)
    assert set(served.iloc[:12]["peer_group"]) == {"web"}
    assert set(served.iloc[:12]["peer_level"]) == {"app_type"}
    assert "everyone" not in set(bench["peer_level"])


# --------------------------------------------------------- external population


def _installs_band(text: pd.Series) -> pd.Series:
    installs = pd.to_numeric(text.str.replace(r"[+,]", "", regex=True))
    return pd.cut(
        installs,
        [-1, 9_999, 999_999, 99_999_999, np.inf],
        labels=["<10k", "10k-1M", "1M-100M", "100M+"],
    ).astype(str)


@pytest.mark.realdata
def test_google_play_rating_benchmark(datasets_dir):
    path = datasets_dir / "google_play" / "googleplaystore.csv"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    apps = pd.read_csv(path)
    # one row is shifted by a missing column: rating 19 and installs 'Free'
    malformed = apps["Rating"] > 5
    assert malformed.sum() == 1
    assert apps.loc[malformed, "Installs"].item() == "Free"
    apps = apps[~malformed].dropna(subset=["Rating"])
    apps = apps.drop_duplicates("App")
    frame = pd.DataFrame(
        {
            "industry": apps["Category"],
            "size_band": _installs_band(apps["Installs"]),
            "stars": apps["Rating"].astype(float),
        }
    )
    bench = benchmarks_from_population(
        frame,
        ["industry", "size_band"],
        "stars",
        index="rating",
        source_period="Google Play listing, updates 2010-2018",
    )
    # the everyone level is the whole population
    everyone = bench[bench["peer_level"] == "everyone"]
    np.testing.assert_allclose(
        everyone["value"], np.percentile(frame["stars"], np.arange(101))
    )
    assert everyone["member_count"].iloc[0] == len(frame)

    # groups below 30 apps fall back; each served group has at least 30
    served = assign_peer_groups(
        frame.assign(as_of=pd.NaT, index="rating", metric="stars"),
        bench.fillna({"as_of": pd.NaT}),
        peer_levels=[("industry", "size_band"), ("industry",), ()],
    )
    counts = frame.groupby(["industry", "size_band"]).size()
    small = counts[counts < 30].index
    in_small = pd.MultiIndex.from_frame(frame[["industry", "size_band"]]).isin(small)
    assert (served.loc[~in_small, "peer_level"] == "industry+size_band").all()
    assert (served.loc[in_small, "peer_level"] != "industry+size_band").all()

    # a 4.5-star app is placed like scipy places it in its group
    game = frame[(frame["industry"] == "GAME") & (frame["size_band"] == "1M-100M")]
    q = bench[bench["peer_group"] == "GAME|1M-100M"]["value"].to_numpy()
    exact = stats.percentileofscore(game["stars"], 4.5, kind="mean")
    got = percentile_from_quantiles(q, [4.5])[0]
    assert abs(got - exact) <= 1 + 100 / (len(game) - 1)
