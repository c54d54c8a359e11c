"""Cox models of churn with time-varying covariates, and concordance.

Every function takes pandas frames (score history, index history, the churn
table) and the exclusive end of the data, and honours the point-in-time
rule: the score at a snapshot explains only churn after that snapshot.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter, CoxTimeVaryingFitter
from lifelines.statistics import proportional_hazard_test

from healthlab.errors import SmallSampleWarning
from healthlab.validation.frames import build_intervals, pivot_indices
from healthlab.validation.landmark import fit_landmark_km

__all__ = [
    "CoxResult",
    "check_proportional_hazards",
    "compute_concordance",
    "fit_index_cox",
    "fit_score_cox",
]


@dataclass
class CoxResult:
    """A fitted Cox model with its hazard ratios and concordance.

    Attributes
    ----------
    hazard_ratios : DataFrame
        Per covariate: ``coef``, ``se``, ``hazard_ratio``, ``lower``,
        ``upper`` (95%), ``p``. Covariates are scaled per `per` points.
    concordance : float
        Time-dependent concordance of the linear predictor (Harrell's C
        over risk sets, 0.5 = chance).
    n_accounts, n_intervals, n_events : int
        Sizes of the fitted data.
    per : float
        Points of the 0-100 scale one unit of each covariate stands for.
    fitter : lifelines fitter
        The fitted lifelines object, for anything else.
    notes : list of str
        Imputations or other caveats.
    """

    hazard_ratios: pd.DataFrame
    concordance: float
    n_accounts: int
    n_intervals: int
    n_events: int
    per: float
    fitter: object
    notes: list = field(default_factory=list)


def compute_concordance(
    intervals: pd.DataFrame, column: str, higher_is_healthier: bool = True
) -> float:
    """Time-dependent concordance of a covariate with churn.

    Parameters
    ----------
    intervals : DataFrame
        Output of :func:`~healthlab.validation.frames.build_intervals`
        (``account_id``, ``start``, ``stop``, ``event``) with `column`.
    column : str
        The covariate (a score, or a risk where `higher_is_healthier` is
        False).
    higher_is_healthier : bool, default True
        Orientation of `column`.

    Returns
    -------
    float
        Share of comparable pairs ordered correctly, ties counting one half.

    Notes
    -----
    For every churn at time :math:`T` of account :math:`i`, the comparable
    accounts are those at risk at :math:`T` (an interval with
    :math:`start < T \\le stop`) that do not churn at :math:`T` themselves.
    Each covariate is the one in force at :math:`T`, i.e. from the last
    snapshot before :math:`T`. The pair is concordant when the survivor's
    covariate is healthier:

    .. math:: C = \\frac{\\sum_{i,j} [x_j > x_i] + \\tfrac12 [x_j = x_i]}
                       {\\#\\{(i, j)\\}}.

    With a single snapshot per account this is Harrell's C.
    """
    data = intervals.loc[intervals[column].notna()]
    value = data[column].to_numpy(dtype=float)
    if not higher_is_healthier:
        value = -value
    start, stop = data["start"].to_numpy(), data["stop"].to_numpy()
    event = data["event"].to_numpy().astype(bool)
    concordant = ties = total = 0.0
    for k in np.flatnonzero(event):
        at_risk = (start < stop[k]) & (stop >= stop[k])
        # accounts churning at the same time are not comparable with each other
        at_risk &= ~(event & (stop == stop[k]))
        others = value[at_risk]
        concordant += np.sum(others > value[k])
        ties += np.sum(others == value[k])
        total += others.size
    if total == 0:
        return float("nan")
    return float((concordant + 0.5 * ties) / total)


def _hazard_table(summary: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "covariate": summary.index.astype(str),
            "coef": summary["coef"].to_numpy(),
            "se": summary["se(coef)"].to_numpy(),
            "hazard_ratio": summary["exp(coef)"].to_numpy(),
            "lower": summary["exp(coef) lower 95%"].to_numpy(),
            "upper": summary["exp(coef) upper 95%"].to_numpy(),
            "p": summary["p"].to_numpy(),
        }
    )


def _fit_time_varying(intervals, covariates, per, penalizer, notes):
    n_events = int(intervals["event"].sum())
    if n_events < 10 * len(covariates):
        warnings.warn(
            f"Only {n_events} churn events for {len(covariates)} covariate(s) "
            "in the Cox model; hazard ratios are unreliable below 10 per "
            "covariate.",
            SmallSampleWarning,
            stacklevel=3,
        )
    data = intervals[["account_id", "start", "stop", "event"]].copy()
    for name in covariates:
        data[name] = intervals[name].to_numpy(dtype=float) / per
    fitter = CoxTimeVaryingFitter(penalizer=penalizer)
    fitter.fit(
        data,
        id_col="account_id",
        event_col="event",
        start_col="start",
        stop_col="stop",
        show_progress=False,
    )
    linear = data[list(covariates)].to_numpy() @ fitter.params_.to_numpy()
    data["_risk"] = linear
    concordance = compute_concordance(data, "_risk", higher_is_healthier=False)
    return CoxResult(
        _hazard_table(fitter.summary),
        concordance,
        int(data["account_id"].nunique()),
        len(data),
        n_events,
        per,
        fitter,
        notes,
    )


def fit_score_cox(
    scores: pd.DataFrame,
    churn: pd.DataFrame | None,
    data_end,
    *,
    per: float = 10.0,
    adjust_for_age: bool = False,
    penalizer: float = 0.0,
) -> CoxResult:
    """Cox model with the health score as a time-varying covariate.

    Parameters
    ----------
    scores : DataFrame
        Score history (``account_id``, ``as_of``, ``score``; with
        ``account_age_days`` when `adjust_for_age`). Unavailable scores are
        left out.
    churn : DataFrame or None
        The ``churn`` table.
    data_end : timestamp-like
        Exclusive end of the data.
    per : float, default 10
        Hazard ratios are per this many score points.
    adjust_for_age : bool, default False
        Add account age (per 365 days) as a second covariate.
    penalizer : float, default 0
        lifelines L2 penalizer.

    Returns
    -------
    CoxResult

    Notes
    -----
    The hazard at calendar time :math:`u` is
    :math:`h(u) = h_0(u)\\exp(\\beta\\, s(u)/10)` with :math:`s(u)` the score
    of the latest snapshot before :math:`u`; intervals come from
    :func:`~healthlab.validation.frames.build_intervals`, and accounts enter
    the risk set at their first snapshot (left truncation). The hazard
    ratio per 10 points is :math:`e^{\\beta}` with Wald 95% limits
    :math:`e^{\\beta \\pm 1.96\\,se}`; below 1 means healthier accounts
    churn less.
    """
    rows = scores.loc[scores["score"].notna()]
    intervals = build_intervals(rows, churn, data_end)
    covariates = ["score"]
    if adjust_for_age:
        intervals["account_age_years"] = intervals["account_age_days"] / 365.0 * per
        covariates.append("account_age_years")
    return _fit_time_varying(intervals, covariates, per, penalizer, [])


def fit_index_cox(
    indices: pd.DataFrame,
    churn: pd.DataFrame | None,
    data_end,
    *,
    per: float = 10.0,
    fill_value: float = 50.0,
    penalizer: float = 0.0,
) -> CoxResult:
    """Cox model with the indices as time-varying covariates.

    Parameters
    ----------
    indices : DataFrame
        Index history in long form (``account_id``, ``as_of``, ``index``,
        ``value`` 0-100).
    churn : DataFrame or None
        The ``churn`` table.
    data_end : timestamp-like
        Exclusive end of the data.
    per : float, default 10
        Hazard ratios are per this many index points.
    fill_value : float, default 50
        Value given to an unavailable index (the peer median); the share
        imputed per index is reported in ``notes``.
    penalizer : float, default 0
        lifelines L2 penalizer (raise it when indices are collinear).

    Returns
    -------
    CoxResult

    Notes
    -----
    :math:`h(u) = h_0(u)\\exp(\\sum_i \\beta_i x_i(u)/10)`; each
    :math:`e^{\\beta_i}` is the hazard ratio of 10 more points of index
    :math:`i` holding the others fixed. Correlated indices share their
    effect, so a healthy-alone index can turn harmful here.
    """
    wide = pivot_indices(indices)
    names = [c for c in wide.columns if c not in ("account_id", "as_of")]
    notes = []
    for name in names:
        share = float(wide[name].isna().mean())
        if share > 0:
            notes.append(f"{name}: {share:.1%} of snapshots imputed {fill_value:g}")
    wide[names] = wide[names].fillna(fill_value)
    intervals = build_intervals(wide, churn, data_end)
    return _fit_time_varying(intervals, names, per, penalizer, notes)


def check_proportional_hazards(
    scores: pd.DataFrame,
    churn: pd.DataFrame | None,
    data_end,
    landmark=None,
    *,
    per: float = 10.0,
) -> pd.DataFrame:
    """Proportional-hazards diagnostics of the score at a landmark.

    Parameters
    ----------
    scores, churn, data_end, landmark
        As for :func:`fit_landmark_km`.
    per : float, default 10
        Scale of the score covariate.

    Returns
    -------
    DataFrame
        One row per time transform (``rank``, ``km``, ``identity``, ``log``):
        ``statistic`` and ``p`` of the scaled-Schoenfeld-residual test;
        ``hazard_ratio`` and ``concordance`` of the static fit in ``attrs``.

    Notes
    -----
    A static Cox model :math:`h(u) = h_0(u)\\exp(\\beta s_0/10)` with the
    landmark score :math:`s_0` is fitted, then the Grambsch-Therneau test
    checks whether the scaled Schoenfeld residuals trend with (a transform
    of) time. A small p means the score's effect fades or grows with time
    since the landmark, so one hazard ratio summarises it poorly.
    """
    km = fit_landmark_km(scores, churn, data_end, landmark)
    data = km.accounts[["duration", "event"]].assign(score=km.accounts["score"] / per)
    cph = CoxPHFitter().fit(data, duration_col="duration", event_col="event")
    rows = []
    for transform in ("rank", "km", "identity", "log"):
        test = proportional_hazard_test(cph, data, time_transform=transform)
        rows.append(
            {
                "time_transform": transform,
                "statistic": float(test.summary["test_statistic"].iloc[0]),
                "p": float(test.summary["p"].iloc[0]),
            }
        )
    out = pd.DataFrame(rows)
    out.attrs["landmark"] = km.landmark
    out.attrs["hazard_ratio"] = float(np.exp(cph.params_["score"]))
    out.attrs["concordance"] = float(cph.concordance_index_)
    return out
