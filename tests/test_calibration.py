"""Weight calibration: recovery of known effects and independent checks."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from known_effects import BETAS, DAY, simulate_wide
from scipy.stats import norm, spearmanr

from healthlab.calibration import (
    WeightCalibrator,
    check_directions,
    compare_weights_out_of_time,
    compute_weighted_score,
)
from healthlab.errors import SmallSampleWarning
from healthlab.validation import (
    build_horizon_frame,
    build_intervals,
    compute_concordance,
    fit_landmark_km,
    pivot_indices,
)

CURRENT = {"i0": 10.0, "i1": 20.0, "i2": 30.0, "i3": 40.0}


@pytest.fixture(scope="module")
def world():
    return simulate_wide()


@pytest.fixture(scope="module")
def horizon(world):
    wide, churn, end = world
    return build_horizon_frame(wide, churn, end, horizon_days=90)


def test_weighted_score_renormalises_over_available_indices():
    values = np.array([[80.0, np.nan, 20.0], [np.nan, np.nan, np.nan]])
    got = compute_weighted_score(values, [1.0, 5.0, 3.0])
    assert got[0] == pytest.approx((80 * 1 + 20 * 3) / 4)
    assert np.isnan(got[1])


def _grid_loglik(frame, names, step=0.05):
    # brute force over the simplex: logistic fit of churn on each score
    best = (-np.inf, None)
    grid = np.arange(0, 1 + 1e-9, step)
    y = frame["churned"].to_numpy(float)
    for head in itertools.product(grid, repeat=len(names) - 1):
        if sum(head) > 1 + 1e-9:
            continue
        w = np.r_[head, 1 - sum(head)]
        s = compute_weighted_score(frame[names], w) / 100
        fit = sm.Logit(y, sm.add_constant(s)).fit(disp=0)
        if fit.params[1] <= 0 and fit.llf > best[0]:
            best = (fit.llf, w)
    return best


def test_unpenalised_fit_is_the_likelihood_maximum(horizon):
    names = ["i0", "i1", "i2"]
    frame = horizon.iloc[::3]
    cal = WeightCalibrator(shrinkage=0.0, n_boot=0).fit(
        frame, {n: CURRENT[n] for n in names}
    )
    w = np.array([cal.weights_[n] for n in names]) / 100
    s = compute_weighted_score(frame[names], w) / 100
    y = frame["churned"].to_numpy(float)
    fit = sm.Logit(y, sm.add_constant(s)).fit(disp=0)
    best_llf, best_w = _grid_loglik(frame, names)
    assert fit.llf >= best_llf - 1e-6
    np.testing.assert_allclose(w, best_w, atol=0.05)
    assert cal.slope_ == pytest.approx(fit.params[1], rel=1e-3)


def test_fitted_weights_rank_like_the_true_effects(horizon):
    cal = WeightCalibrator(n_boot=30).fit(horizon, CURRENT)
    fitted = [cal.weights_[n] for n in BETAS]
    assert sum(fitted) == pytest.approx(100.0)
    assert min(fitted) >= 0
    rho = spearmanr(fitted, [-b for b in BETAS.values()]).statistic
    assert rho >= 0.8
    assert cal.weights_["i3"] < 10
    table = cal.intervals_.set_index("index")
    assert (table["lower"] <= table["fitted"] + 1e-9).all()
    assert (table["fitted"] <= table["upper"] + 1e-9).all()


def test_bootstrap_is_reproducible(horizon):
    a = WeightCalibrator(n_boot=5, seed=1).fit(horizon, CURRENT).bootstrap_
    b = WeightCalibrator(n_boot=5, seed=1).fit(horizon, CURRENT).bootstrap_
    pd.testing.assert_frame_equal(a, b)


def test_strong_shrinkage_keeps_current_weights(horizon):
    cal = WeightCalibrator(shrinkage=1e4, n_boot=0).fit(horizon, CURRENT)
    for name, weight in CURRENT.items():
        assert cal.weights_[name] == pytest.approx(weight, abs=0.5)


def test_out_of_time_fitted_beats_equal_and_nears_the_truth(world):
    wide, churn, end = world
    table, cal = compare_weights_out_of_time(
        wide, churn, end, "2025-10-31", CURRENT, horizon_days=90
    )
    table = table.set_index("weights")
    later = wide.loc[wide["as_of"] >= "2025-10-31"]
    truth = compute_concordance(
        build_intervals(later, churn, end), "true_risk", higher_is_healthier=False
    )
    assert table.loc["fitted", "concordance"] > table.loc["equal", "concordance"]
    assert table.loc["fitted", "concordance"] > table.loc["current", "concordance"]
    assert abs(table.loc["fitted", "concordance"] - truth) < 0.05
    assert table.loc["fitted", "auc"] > table.loc["current", "auc"]
    # training never sees churn after the split
    assert cal.n_rows_ == int(
        (wide["as_of"] + DAY + 90 * DAY <= pd.Timestamp("2025-11-01")).sum()
    )


def test_few_events_warn(horizon):
    few = horizon.loc[horizon["account_id"] < "a0010"]
    with pytest.warns(SmallSampleWarning, match=r"fewer than 10\); fitted weights"):
        WeightCalibrator(n_boot=0).fit(few, CURRENT)


def test_contradicting_direction_is_reported_not_flipped():
    betas = {"i0": -0.8, "i1": -0.4, "i2": 0.5}
    wide, churn, end = simulate_wide(n=800, months=10, betas=betas, seed=2)
    frame = build_horizon_frame(wide, churn, end, 90)
    report = check_directions(frame, list(betas)).set_index("index")
    assert report["contradicts"].tolist() == [False, False, True]

    # independent route: statsmodels on the single index
    y = frame["churned"].astype(float)
    alone = sm.Logit(y, sm.add_constant(frame["i2"] / 10)).fit(disp=0)
    assert report.loc["i2", "alone_coef"] == pytest.approx(alone.params["i2"])
    cal = WeightCalibrator(n_boot=0).fit(frame, {"i0": 40, "i1": 30, "i2": 30})
    assert cal.weights_["i2"] < 5 and cal.slope_ < 0


# ---------------------------------------------------------------------------
# On the package's simulated world (truth in truth.json and latent/)


@pytest.fixture(scope="module")
def scored_world(tmp_path_factory):
    """A medium default world (500 accounts, 24 months) simulated and scored."""
    from healthlab.pipeline import score_source
    from healthlab.simulate import simulate_world
    from healthlab.validation import load_validation_inputs

    root = tmp_path_factory.mktemp("medium_world")
    simulate_world(root / "world", n_accounts=500)
    score_source(root / "world", store_path=root / "healthlab.duckdb")
    inputs = load_validation_inputs(root / "healthlab.duckdb", root / "world")
    truth = json.loads((root / "world" / "truth.json").read_text())["coefficients"]
    latent = pd.read_parquet(root / "world" / "latent")
    latent["instant"] = latent["month"].dt.tz_convert("UTC").dt.tz_localize(None)
    return inputs, truth, latent


def _true_risk_intervals(inputs, truth, latent):
    # intervals of the stored indices with the true log-hazard of each month
    wide = pivot_indices(inputs.indices)
    intervals = build_intervals(wide, inputs.churn, inputs.data_end)
    latent = latent.assign(true_risk=sum(b * latent[k] for k, b in truth.items()))
    return intervals.merge(
        latent[["account_id", "instant", "true_risk"]],
        on=["account_id", "instant"],
        how="left",
    )


@pytest.mark.slow
def test_world_km_orders_categories(scored_world):
    inputs, _, _ = scored_world
    km = fit_landmark_km(inputs.scores, inputs.churn, inputs.data_end)
    assert km.order == ["Strong", "Moderate", "Weak"]
    assert km.ordered
    assert km.logrank["p"] < 0.01


@pytest.mark.slow
def test_world_calibration_recovers_truth_from_latent_signals(scored_world):
    # the calibrator given the simulator's own signals (as percentiles of the
    # month each snapshot summarises) must rank them like the truth
    inputs, truth, latent = scored_world
    names = list(inputs.weights)
    month = latent.assign(instant=latent["instant"] + pd.offsets.MonthBegin(1))
    month["as_of"] = month["instant"] - DAY
    oracle = month[["account_id", "as_of"]].copy()
    for name in names:
        oracle[name] = 100 * norm.cdf(month[name])
    scored = inputs.scores[["account_id", "as_of"]]
    oracle = oracle.merge(scored, on=["account_id", "as_of"])
    frame = build_horizon_frame(oracle, inputs.churn, inputs.data_end, 90)
    cal = WeightCalibrator(n_boot=0).fit(frame, inputs.weights)
    rho = spearmanr(
        [cal.weights_[n] for n in names], [-truth[n] for n in names]
    ).statistic
    assert rho >= 0.8
    assert cal.weights_["integrations"] < 10


@pytest.mark.slow
def test_world_fitted_weights_beat_equal_weights(scored_world):
    inputs, truth, latent = scored_world
    names = list(inputs.weights)
    frame = build_horizon_frame(
        pivot_indices(inputs.indices), inputs.churn, inputs.data_end, 90
    )
    cal = WeightCalibrator(n_boot=0).fit(frame, inputs.weights)
    intervals = _true_risk_intervals(inputs, truth, latent)
    result = {}
    for label, w in (("fitted", cal.weights_), ("equal", dict.fromkeys(names, 1))):
        intervals["_s"] = compute_weighted_score(
            intervals[names], [w[n] for n in names]
        )
        result[label] = compute_concordance(intervals, "_s")
    assert result["fitted"] > result["equal"]


@pytest.mark.slow
def test_world_fitted_weights_match_truth(scored_world):
    inputs, truth, latent = scored_world
    names = list(inputs.weights)
    frame = build_horizon_frame(
        pivot_indices(inputs.indices), inputs.churn, inputs.data_end, 90
    )
    cal = WeightCalibrator(n_boot=0).fit(frame, inputs.weights)
    rho = spearmanr(
        [cal.weights_[n] for n in names], [-truth[n] for n in names]
    ).statistic
    intervals = _true_risk_intervals(inputs, truth, latent)
    intervals["_s"] = compute_weighted_score(
        intervals[names], [cal.weights_[n] for n in names]
    )
    fitted = compute_concordance(intervals, "_s")
    true = compute_concordance(intervals, "true_risk", higher_is_healthier=False)
    assert rho >= 0.8
    assert cal.weights_["integrations"] < 10
    assert abs(fitted - true) < 0.05
