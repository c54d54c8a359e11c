"""Benchmark drift: PSI and KS, version comparison, the refresh report."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp

from healthlab import drift
from healthlab.benchmarks import BENCHMARK_COLUMNS
from healthlab.errors import ParameterError
from healthlab.store import Store

LEVELS = np.arange(101) / 100


def plain_psi(expected, actual, bins=10, floor=1e-4):
    """PSI written out bin by bin: decile edges of `expected`, right-closed."""
    expected = np.asarray(expected, float)
    actual = np.asarray(actual, float)
    inner = sorted(set(np.quantile(expected, [k / bins for k in range(1, bins)])))
    bounds = [-np.inf, *inner, np.inf]
    total = 0.0
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        e = max(np.mean((expected > lo) & (expected <= hi)), floor)
        a = max(np.mean((actual > lo) & (actual <= hi)), floor)
        total += (a - e) * np.log(a / e)
    return total


def _samples():
    rng = np.random.default_rng(11)
    return [
        (rng.normal(0, 1, 500), rng.normal(0.3, 1.2, 700)),
        (rng.gamma(2, 1, 300), rng.gamma(2, 1, 300)),
        # heavy ties: repeated decile edges merge into fewer bins
        (rng.integers(0, 4, 400).astype(float), rng.integers(0, 6, 250).astype(float)),
        (rng.poisson(0.3, 200).astype(float), rng.poisson(1.5, 200).astype(float)),
        # an empty bin in the new sample uses the floor
        (rng.uniform(0, 1, 1000), rng.uniform(0.5, 1, 1000)),
    ]


@pytest.mark.parametrize("case", range(5))
def test_psi_matches_a_plain_computation(case):
    expected, actual = _samples()[case]
    assert drift.population_stability_index(expected, actual) == pytest.approx(
        plain_psi(expected, actual), rel=1e-12, abs=1e-12
    )


def test_psi_of_a_sample_against_itself_is_zero_and_nan_when_empty():
    x = np.random.default_rng(2).normal(size=300)
    assert drift.population_stability_index(x, x) == 0.0
    assert np.isnan(drift.population_stability_index([], x))
    assert np.isnan(drift.population_stability_index(x, [np.nan]))
    with pytest.raises(ParameterError, match="bins"):
        drift.population_stability_index(x, x, bins=0)


@pytest.mark.parametrize("case", range(5))
def test_ks_matches_scipy(case):
    first, second = _samples()[case]
    assert drift.ks_statistic(first, second) == pytest.approx(
        ks_2samp(first, second).statistic, abs=1e-12
    )


def test_quantile_tables_approximate_the_members():
    # the 101-point stand-in of a quantile table: KS within 0.02, PSI close
    rng = np.random.default_rng(5)
    for shift in (0.0, 0.1, 0.3, 0.6):
        a = rng.gamma(2, 1, 4000)
        b = rng.gamma(2, 1, 5000) + shift
        psi, ks = drift.quantile_shift(np.quantile(a, LEVELS), np.quantile(b, LEVELS))
        assert ks == pytest.approx(ks_2samp(a, b).statistic, abs=0.02)
        raw_psi = plain_psi(a, b)
        assert abs(psi - raw_psi) <= 0.02 + 0.1 * raw_psi


def _table(as_of, groups):
    # a benchmark table from {(peer_level, peer_group): member values}
    rows = []
    for (level, group), values in groups.items():
        q = np.quantile(values, LEVELS)
        for k in range(101):
            rows.append(
                {
                    "as_of": pd.Timestamp(as_of),
                    "index": "duration",
                    "metric": "level",
                    "peer_level": level,
                    "peer_group": group,
                    "quantile": k,
                    "value": q[k],
                    "member_count": len(values),
                    "member_mean": float(np.mean(values)),
                    "source_period": None,
                }
            )
    return pd.DataFrame(rows, columns=BENCHMARK_COLUMNS)


def test_compare_benchmarks_per_group():
    rng = np.random.default_rng(9)
    old_all, new_all = rng.normal(0, 1, 80), rng.normal(0.5, 1, 90)
    old_web, new_web = rng.normal(0, 1, 40), rng.normal(0, 1, 45)
    previous = _table(
        "2025-09-30",
        {
            ("everyone", "all"): old_all,
            ("app_type", "web"): old_web,
            ("app_type", "mobile"): rng.normal(size=40),
        },
    )
    current = _table(
        "2025-10-31", {("everyone", "all"): new_all, ("app_type", "web"): new_web}
    )
    shifts = drift.compare_benchmarks(previous, current).set_index("peer_group")
    for group, old, new in (("all", old_all, new_all), ("web", old_web, new_web)):
        qo, qn = np.quantile(old, LEVELS), np.quantile(new, LEVELS)
        row = shifts.loc[group]
        assert row["psi"] == pytest.approx(plain_psi(qo, qn), abs=1e-12)
        assert row["ks"] == pytest.approx(ks_2samp(qo, qn).statistic, abs=1e-12)
        assert row["previous_members"] == len(old)
        assert row["current_members"] == len(new)
        n, m = len(old), len(new)
        assert row["ks_noise"] == pytest.approx(1.36 * np.sqrt((n + m) / (n * m)))
    # a group of one version only has no shift
    assert np.isnan(shifts.loc["mobile", "psi"])
    assert np.isnan(shifts.loc["mobile", "current_members"])

    flagged = drift.flag_shifts(shifts.reset_index(), psi_threshold=0.2, ks_threshold=1)
    expected = {g for g in ("all", "web") if shifts.loc[g, "psi"] > 0.2}
    assert set(flagged["peer_group"]) == expected
    assert set(flagged["reason"]) <= {"PSI"}
    everything = drift.flag_shifts(
        shifts.reset_index(), psi_threshold=0, ks_threshold=0
    )
    assert set(everything["peer_group"]) == {"all", "web"}
    with pytest.raises(ParameterError, match="psi_threshold"):
        drift.flag_shifts(shifts.reset_index(), psi_threshold=-1)


@pytest.mark.slow
def test_cli_refresh_runs_the_notebook_and_is_idempotent(small_world, tmp_path):
    from healthlab.cli import main

    store = tmp_path / "healthlab.duckdb"
    reports = tmp_path / "reports"
    common = ["--source", str(small_world), "--store", str(store)]
    for as_of in ("2025-09-30", "2025-10-31", "2025-10-31"):
        main(
            [
                "benchmarks",
                "refresh",
                *common,
                "--as-of",
                as_of,
                "--reports",
                str(reports),
            ]
        )
    versions = Store(store).benchmark_versions()
    assert list(versions["version"]) == ["b0001", "b0002"]

    folder = reports / "2025-10-31"
    done = json.loads((folder / "benchmarks.json").read_text())
    assert done["version"] == "b0002" and done["reused"] is True
    assert done["previous"] == "b0001"
    html = (folder / "benchmarks.html").read_text()
    for text in (
        "Shifts above the thresholds",
        "Peer groups and their fallback",
        "Quantile curves",
        "Shift of every peer group",
        "b0001",
        "<img",
    ):
        assert text in html
    assert "Traceback" not in html

    # the warnings listed are the shifts above the default thresholds, counted
    # here from the stored quantile tables with the plain PSI and scipy's KS
    stored = Store(store)
    old, new = stored.read_benchmarks("b0001"), stored.read_benchmarks("b0002")
    keys = ["index", "metric", "peer_level", "peer_group"]
    merged = old.merge(new, on=[*keys, "quantile"], suffixes=("_old", "_new"))
    above = 0
    for _, group in merged.groupby(keys):
        qo, qn = group["value_old"].to_numpy(), group["value_new"].to_numpy()
        qo, qn = qo[~np.isnan(qo)], qn[~np.isnan(qn)]
        if len(qo) and len(qn):
            above += plain_psi(qo, qn) > 0.2 or ks_2samp(qo, qn).statistic > 0.1
    assert done["shifts_above_thresholds"] == above
