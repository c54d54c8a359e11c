"""Validation statistics checked against independent computations.

The world here is simulated in the test with known truth: monthly snapshots
of four indices driven by latent signals whose effect on the monthly churn
hazard is known; churn times are exponential within each month.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from lifelines.utils import concordance_index
from scipy.stats import chi2, norm

from healthlab.errors import EmptyTableError, SmallSampleWarning
from healthlab.validation import (
    build_horizon_frame,
    build_intervals,
    compute_auc,
    compute_brier,
    compute_concordance,
    compute_lift,
    find_surprising_accounts,
    fit_horizon_logit,
    fit_index_cox,
    fit_landmark_km,
    fit_score_cox,
    pivot_indices,
    plot_calibration,
    plot_hazard_ratios,
    plot_km,
    plot_lift,
    summarise_landmarks,
    tabulate_reliability,
)

BETAS = (-0.8, -0.5, -0.2, 0.0)
DAY = pd.Timedelta(days=1)


def simulate_frames(n=800, months=15, betas=BETAS, base=0.03, seed=11):
    """Score and index history with churn driven by known latent signals."""
    rng = np.random.default_rng(seed)
    names = [f"i{k}" for k in range(len(betas))]
    labels = pd.date_range("2025-01-31", periods=months, freq="ME")
    data_end = labels[-1] + DAY
    z = rng.normal(size=(n, len(betas)))
    churned_at = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    parts = []
    for m, label in enumerate(labels):
        z = 0.8 * z + 0.6 * rng.normal(size=z.shape)
        instant = label + DAY
        following = labels[m + 1] + DAY if m + 1 < months else instant + 31 * DAY
        gap = (following - instant) / DAY
        alive = np.isnat(churned_at)
        part = pd.DataFrame(100 * norm.cdf(z[alive]), columns=names)
        part.insert(0, "as_of", label)
        part.insert(0, "account_id", [f"a{a:04d}" for a in np.flatnonzero(alive)])
        part["true_risk"] = z[alive] @ np.array(betas)
        parts.append(part)
        wait = rng.exponential(gap / (base * np.exp(z @ np.array(betas))))
        new = alive & (wait < gap)
        churned_at[new] = (instant + pd.to_timedelta(wait[new], unit="D")).to_numpy()
    wide = pd.concat(parts, ignore_index=True)
    wide["score"] = wide[names].mean(axis=1)
    wide["category"] = pd.cut(
        wide["score"],
        [-1, 40, 70, 101],
        right=False,
        labels=["Weak", "Moderate", "Strong"],
    ).astype(str)
    churn = pd.DataFrame(
        {"account_id": [f"a{a:04d}" for a in range(n)], "churned_at": churned_at}
    )
    churn = churn.loc[churn["churned_at"] < data_end]
    churn["churned_at"] = churn["churned_at"].dt.tz_localize("UTC")
    long = wide.melt(["account_id", "as_of"], names, var_name="index")
    return wide, long, churn, data_end, names


@pytest.fixture(scope="module")
def world():
    return simulate_frames()


def _hand_intervals(wide, churn, data_end):
    # plain loop: (instant, next instant or churn or end], event at churn
    churned = dict(
        zip(churn["account_id"], churn["churned_at"].dt.tz_localize(None), strict=True)
    )
    origin = wide["as_of"].min() + DAY
    rows = []
    for account, part in wide.sort_values("as_of").groupby("account_id"):
        instants = list(part["as_of"] + DAY)
        for k, start in enumerate(instants):
            stop = instants[k + 1] if k + 1 < len(instants) else start + 31 * DAY
            stop = min(stop, data_end)
            c = churned.get(account)
            event = c is not None and start < c <= stop
            stop = c if event else stop
            if stop > start:
                rows.append(
                    (
                        account,
                        (start - origin) / DAY,
                        (stop - origin) / DAY,
                        int(event),
                        part["score"].iloc[k],
                        part["true_risk"].iloc[k],
                    )
                )
    cols = ["account_id", "start", "stop", "event", "score", "true_risk"]
    return pd.DataFrame(rows, columns=cols)


def test_intervals_match_a_plain_loop(world):
    wide, _, churn, end, _ = world
    got = build_intervals(wide, churn, end).sort_values(["account_id", "start"])
    want = _hand_intervals(wide, churn, end).sort_values(["account_id", "start"])
    assert len(got) == len(want)
    np.testing.assert_allclose(got["stop"], want["stop"], atol=1e-9)
    np.testing.assert_array_equal(got["event"], want["event"])
    assert got["event"].sum() == len(churn)


def test_horizon_frame_leaves_out_incomplete_horizons():
    scores = pd.DataFrame(
        {
            "account_id": ["a", "b", "c", "a"],
            "as_of": pd.to_datetime(["2026-01-31"] * 3 + ["2026-03-31"]),
            "score": [50.0, 60.0, 70.0, 40.0],
        }
    )
    churn = pd.DataFrame(
        {
            "account_id": ["b", "c"],
            # b churns exactly at the end of the horizon: inside (t, t+90d]
            "churned_at": pd.to_datetime(
                ["2026-05-02 00:00:00", "2026-05-02 00:00:01"], utc=True
            ),
        }
    )
    frame = build_horizon_frame(scores, churn, "2026-06-01", horizon_days=90)
    # a's March snapshot needs data until 2026-06-29 and is left out
    assert frame.attrs["incomplete_horizon"] == 1
    assert dict(zip(frame["account_id"], frame["churned"], strict=True)) == {
        "a": 0,
        "b": 1,
        "c": 0,
    }


def _hand_km(duration, event, at):
    # product-limit estimate: prod over event times <= at of (1 - d/n)
    s = 1.0
    for u in np.unique(duration[event == 1]):
        if u > at:
            break
        s *= 1 - np.sum((duration == u) & (event == 1)) / np.sum(duration >= u)
    return s


def _hand_logrank(duration, event, groups):
    # k-group log-rank: (O - E) over event times, hypergeometric covariance
    labels = np.unique(groups)
    o_e = np.zeros(len(labels))
    v = np.zeros((len(labels), len(labels)))
    for u in np.unique(duration[event == 1]):
        at_risk = duration >= u
        n = at_risk.sum()
        d = np.sum(at_risk & (duration == u) & (event == 1))
        n_g = np.array([np.sum(at_risk & (groups == g)) for g in labels])
        d_g = np.array(
            [np.sum((duration == u) & (event == 1) & (groups == g)) for g in labels]
        )
        o_e += d_g - d * n_g / n
        if n > 1:
            share = n_g / n
            v += d * (n - d) / (n - 1) * (np.diag(share) - np.outer(share, share))
    stat = o_e[:-1] @ np.linalg.solve(v[:-1, :-1], o_e[:-1])
    return stat, chi2.sf(stat, len(labels) - 1)


def test_landmark_km_and_logrank_match_hand_computations(world):
    wide, _, churn, end, _ = world
    km = fit_landmark_km(wide, churn, end, "2025-01-31")
    cohort = wide.loc[wide["as_of"] == "2025-01-31"]
    c = churn.set_index("account_id")["churned_at"].dt.tz_localize(None)
    until = cohort["account_id"].map(c).fillna(end)
    duration = ((until - pd.Timestamp("2025-02-01")) / DAY).to_numpy()
    event = cohort["account_id"].map(c).notna().to_numpy().astype(int)
    groups = cohort["category"].to_numpy()
    for category in ["Strong", "Moderate", "Weak"]:
        mask = groups == category
        row = km.summary.set_index("category").loc[category]
        assert row["survival_180d"] == pytest.approx(
            _hand_km(duration[mask], event[mask], 180), abs=1e-12
        )
    stat, p = _hand_logrank(duration, event, groups)
    assert km.logrank["statistic"] == pytest.approx(stat, rel=1e-8)
    assert km.logrank["p"] == pytest.approx(p, rel=1e-6)
    assert km.order == ["Strong", "Moderate", "Weak"]
    assert km.ordered and km.logrank["p"] < 0.01


def test_km_bands_are_lifelines_greenwood(world):
    wide, _, churn, end, _ = world
    km = fit_landmark_km(wide, churn, end, "2025-01-31")
    part = km.accounts.loc[km.accounts["category"] == "Weak"]
    kmf = KaplanMeierFitter().fit(part["duration"], part["event"])
    curve = km.curves.loc[km.curves["category"] == "Weak"]
    np.testing.assert_allclose(
        curve["lower"], kmf.confidence_interval_.iloc[:, 0].to_numpy()
    )


def _hand_cox_coef(iv, column):
    # Newton-Raphson on the partial likelihood (no tied event times here)
    x = iv[column].to_numpy() / 10
    start, stop, event = iv["start"].to_numpy(), iv["stop"].to_numpy(), iv["event"]
    beta = 0.0
    for _ in range(30):
        grad = hess = 0.0
        for k in np.flatnonzero(event.to_numpy()):
            risk = (start < stop[k]) & (stop >= stop[k])
            w = np.exp(beta * x[risk])
            mean = np.sum(w * x[risk]) / w.sum()
            grad += x[k] - mean
            hess -= np.sum(w * x[risk] ** 2) / w.sum() - mean**2
        beta -= grad / hess
    return beta, np.sqrt(-1 / hess)


def test_time_varying_cox_matches_hand_partial_likelihood(world):
    wide, _, churn, end, _ = world
    result = fit_score_cox(wide, churn, end)
    beta, se = _hand_cox_coef(_hand_intervals(wide, churn, end), "score")
    row = result.hazard_ratios.iloc[0]
    assert row["coef"] == pytest.approx(beta, abs=1e-5)
    assert row["se"] == pytest.approx(se, rel=1e-4)
    assert row["upper"] == pytest.approx(np.exp(beta + 1.959964 * se), rel=1e-4)
    assert row["hazard_ratio"] < 1 and result.n_events == len(churn)


def _hand_concordance(iv, column):
    conc = total = 0.0
    rows = list(iv.itertuples())
    for i in rows:
        if not i.event:
            continue
        for j in rows:
            same_event = j.event and j.stop == i.stop
            if j.start < i.stop <= j.stop and not same_event:
                total += 1
                x_i, x_j = getattr(i, column), getattr(j, column)
                conc += 1.0 if x_j > x_i else 0.5 if x_j == x_i else 0.0
    return conc / total


def test_time_varying_concordance_matches_double_loop():
    wide, _, churn, end, _ = simulate_frames(n=60, months=6, seed=3)
    iv = _hand_intervals(wide, churn, end)
    iv["score"] = iv["score"].round(-1)  # create ties
    assert compute_concordance(iv, "score") == pytest.approx(
        _hand_concordance(iv, "score"), abs=1e-12
    )


def test_concordance_with_one_snapshot_is_harrells_c(world):
    wide, _, churn, end, _ = world
    first = wide.loc[wide["as_of"] == wide["as_of"].min()]
    iv = build_intervals(first, churn, end, max_age_days=10_000)
    want = concordance_index(iv["stop"], iv["score"], iv["event"])
    assert compute_concordance(iv, "score") == pytest.approx(want, abs=1e-9)


def test_index_cox_recovers_effect_order(world):
    wide, long, churn, end, names = world
    result = fit_index_cox(long, churn, end)
    coefs = result.hazard_ratios.set_index("covariate")["coef"]
    assert coefs["i0"] < coefs["i1"] < coefs["i2"] < 0
    assert result.hazard_ratios.set_index("covariate").loc["i3", "p"] > 0.01
    assert result.concordance > compute_concordance(
        build_intervals(wide, churn, end), "score"
    )


def _newton_logit(x, y):
    beta = np.zeros(x.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-x @ beta))
        beta += np.linalg.solve(x.T @ (x * (p * (1 - p))[:, None]), x.T @ (y - p))
    return beta, p


def test_horizon_logit_matches_newton_raphson_and_sandwich(world):
    wide, _, churn, end, _ = world
    result = fit_horizon_logit(wide, churn, end, horizon_days=90)
    frame = result.frame
    x = np.column_stack([np.ones(len(frame)), frame["score"] / 10])
    y = frame["churned"].to_numpy(float)
    beta, p = _newton_logit(x, y)
    np.testing.assert_allclose(result.odds_ratios["coef"], beta, rtol=1e-6)

    # account-clustered sandwich with the usual small-sample factor
    bread = np.linalg.inv(x.T @ (x * (p * (1 - p))[:, None]))
    scores = pd.DataFrame(x * (y - p)[:, None]).groupby(frame["account_id"]).sum()
    g, n, k = len(scores), len(y), x.shape[1]
    meat = scores.T.to_numpy() @ scores.to_numpy()
    cov = bread @ meat @ bread * g / (g - 1) * (n - 1) / (n - k)
    np.testing.assert_allclose(
        result.odds_ratios["se"], np.sqrt(np.diag(cov)), rtol=1e-6
    )
    assert result.brier == pytest.approx(np.mean((p - y) ** 2), rel=1e-9)
    assert result.odds_ratios.loc[1, "odds_ratio"] < 1


def test_horizon_logit_rows_never_pass_the_data_end(world):
    wide, _, churn, end, _ = world
    result = fit_horizon_logit(wide, churn, end, horizon_days=90)
    last = result.frame["as_of"].max() + DAY + 90 * DAY
    assert last <= end
    assert result.incomplete_horizon == int(
        (wide["as_of"] + DAY + 90 * DAY > end).sum()
    )


def test_auc_equals_pairwise_mann_whitney():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 300)
    risk = np.round(rng.normal(size=300) + y, 1)
    pos, neg = risk[y == 1], risk[y == 0]
    diff = pos[:, None] - neg[None, :]
    want = (np.sum(diff > 0) + 0.5 * np.sum(diff == 0)) / diff.size
    assert compute_auc(y, risk) == pytest.approx(want, abs=1e-12)


def test_lift_brier_and_reliability_by_hand():
    y = np.array([1, 0, 0, 1, 0, 0, 0, 0, 1, 0])
    risk = np.array([0.9, 0.1, 0.2, 0.8, 0.3, 0.4, 0.2, 0.1, 0.05, 0.3])
    # top 20%: rows 0 and 3, both churned; overall rate 0.3
    assert compute_lift(y, risk, share=0.2) == pytest.approx(1.0 / 0.3)
    assert compute_brier(y, risk) == pytest.approx(np.mean((risk - y) ** 2))
    table = tabulate_reliability(y, risk, bins=2)
    assert table["rows"].tolist() == [5, 5]
    assert table["observed"].tolist() == pytest.approx([0.2, 0.4])


def test_surprising_accounts(world):
    wide, _, churn, end, _ = world
    high, low = find_surprising_accounts(wide, churn, end, high=60, low=30, n=5)
    frame = build_horizon_frame(wide, churn, end, 90)
    want = frame.loc[(frame["churned"] == 1) & (frame["score"] >= 60)]
    assert high["score"].iloc[0] == pytest.approx(want["score"].max())
    assert (high["score"] >= 60).all() and (low["score"] < 30).all()
    survivors = frame.loc[frame["churned"] == 0, "account_id"]
    assert set(low["account_id"]) <= set(survivors)


def test_small_samples_warn_and_empty_inputs_raise(world):
    wide, _, churn, end, _ = world
    few = wide.loc[wide["account_id"] < "a0006"]
    with pytest.warns(SmallSampleWarning, match="churn events"):
        fit_score_cox(few, churn, end)
    with pytest.raises(EmptyTableError, match="No scored account at landmark"):
        fit_landmark_km(wide, churn, end, "2020-01-31")


def test_pivot_indices_keeps_only_observed_snapshots(world):
    wide, long, _, _, names = world
    back = pivot_indices(long)
    assert len(back) == len(wide)
    assert back[names].notna().all().all()


def test_plots_return_figures(world):
    wide, long, churn, end, _ = world
    km = fit_landmark_km(wide, churn, end)
    logit = fit_horizon_logit(wide, churn, end)
    figures = [
        plot_km(km),
        plot_hazard_ratios(fit_index_cox(long, churn, end).hazard_ratios),
        plot_calibration(logit.reliability),
        plot_lift(logit.lift_table),
    ]
    assert all(len(fig.axes) == 1 for fig in figures)


def test_km_curves_use_the_portfolio_category_colours(world):
    from matplotlib.colors import to_hex

    wide, _, churn, end, _ = world
    ax = plot_km(fit_landmark_km(wide, churn, end)).axes[0]
    # the colour-blind-safe palette of the portfolio report (Paul Tol)
    expected = {"Strong": "#004488", "Moderate": "#ddaa33", "Weak": "#bb5566"}
    got = {
        line.get_label().split(" (")[0]: to_hex(line.get_color())
        for line in ax.get_lines()
    }
    assert got == expected


def test_score_cox_adjusts_for_account_age(world):
    wide, _, churn, end, _ = world
    aged = wide.assign(
        account_age_days=(wide["as_of"] - pd.Timestamp("2024-06-30")).dt.days
        + 40 * (wide["account_id"].str[1:].astype(int) % 7)
    )
    result = fit_score_cox(aged, churn, end, adjust_for_age=True)
    table = result.hazard_ratios.set_index("covariate")
    assert list(table.index) == ["score", "account_age_years"]
    # age is unrelated to churn here, so the score's effect barely moves
    alone = fit_score_cox(wide, churn, end).hazard_ratios["coef"].iloc[0]
    assert table.loc["score", "coef"] == pytest.approx(alone, abs=0.02)


def test_landmark_summary_repeats_km_with_a_common_horizon(world):
    wide, _, churn, end, _ = world
    table = summarise_landmarks(
        wide,
        churn,
        end,
        ["2025-01-31", "2025-06-30", "2026-01-31"],
        horizon_days=180,
    )
    # the last landmark lacks 180 days of follow-up before the data end
    assert sorted(table["landmark"].dt.strftime("%Y-%m").unique()) == [
        "2025-01",
        "2025-06",
    ]
    row = table.loc[
        (table["landmark"] == "2025-06-30") & (table["category"] == "Weak")
    ].iloc[0]
    cohort = wide.loc[(wide["as_of"] == "2025-06-30") & (wide["category"] == "Weak")]
    c = churn.set_index("account_id")["churned_at"].dt.tz_localize(None)
    t0 = pd.Timestamp("2025-07-01")
    churned = cohort["account_id"].map(c)
    alive = churned.isna() | (churned > t0)
    lost = alive & churned.notna() & (churned <= t0 + 180 * DAY)
    # no censoring before the horizon here, so KM survival is the plain share
    assert row["accounts"] == alive.sum()
    assert row["survival"] == pytest.approx(1 - lost.sum() / alive.sum())
