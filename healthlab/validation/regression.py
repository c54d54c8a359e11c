"""Churn within a horizon after each snapshot: logistic regression and
discrimination/calibration measures, plus the accounts that surprise.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy.stats import rankdata

from healthlab.errors import EmptyTableError, SmallSampleWarning
from healthlab.validation.frames import build_horizon_frame

__all__ = [
    "HorizonLogit",
    "compute_auc",
    "compute_brier",
    "compute_lift",
    "find_surprising_accounts",
    "fit_horizon_logit",
    "tabulate_lift",
    "tabulate_reliability",
]


@dataclass
class HorizonLogit:
    """Logistic regression of churn within a horizon after each snapshot.

    Attributes
    ----------
    odds_ratios : DataFrame
        Per covariate: ``coef``, ``se`` (account-clustered), ``odds_ratio``,
        ``lower``, ``upper`` (95%), ``p``.
    auc, lift, brier : float
        Discrimination of the score (AUC, churn rate of the riskiest tenth
        over the overall rate) and Brier score of the fitted probabilities.
    reliability : DataFrame
        Calibration table: predicted versus observed churn per bin.
    lift_table : DataFrame
        Churn rate per score decile, riskiest first.
    frame : DataFrame
        The rows fitted, with ``churned`` and ``predicted``.
    horizon_days : int
    n_rows, n_accounts, n_events, incomplete_horizon : int
    result : statsmodels results
    """

    odds_ratios: pd.DataFrame
    auc: float
    lift: float
    brier: float
    reliability: pd.DataFrame
    lift_table: pd.DataFrame
    frame: pd.DataFrame
    horizon_days: int
    n_rows: int
    n_accounts: int
    n_events: int
    incomplete_horizon: int
    result: object


def compute_auc(churned, risk) -> float:
    """Area under the ROC curve of `risk` for the binary `churned`.

    Notes
    -----
    The Mann-Whitney form: with mid-ranks :math:`r` of the risk,
    :math:`AUC = (\\sum_{y=1} r - n_1(n_1+1)/2) / (n_1 n_0)`, the chance a
    random churner is riskier than a random survivor (ties count one half).

    Examples
    --------
    >>> compute_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    """
    y = np.asarray(churned).astype(bool)
    ranks = rankdata(np.asarray(risk, dtype=float))
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def compute_lift(churned, risk, share: float = 0.1) -> float:
    """Churn rate among the riskiest `share` of rows over the overall rate.

    Notes
    -----
    Rows are ordered by decreasing risk (ties broken by position, after a
    stable sort); the top :math:`\\lceil share \\cdot n \\rceil` rows form
    the group. Lift 1 means the score picks churners no better than chance.

    Examples
    --------
    >>> compute_lift([1, 0, 0, 0, 1, 0, 0, 0, 0, 0], [9, 1, 2, 3, 8, 1, 1, 1, 1, 1],
    ...              share=0.2)
    5.0
    """
    y = np.asarray(churned, dtype=float)
    order = np.argsort(-np.asarray(risk, dtype=float), kind="stable")
    top = order[: int(np.ceil(share * len(y)))]
    overall = y.mean()
    return float(y[top].mean() / overall) if overall > 0 else float("nan")


def compute_brier(churned, predicted) -> float:
    """Mean squared difference between predicted probability and outcome."""
    y = np.asarray(churned, dtype=float)
    return float(np.mean((np.asarray(predicted, dtype=float) - y) ** 2))


def tabulate_reliability(churned, predicted, bins: int = 10) -> pd.DataFrame:
    """Calibration (reliability) table: predicted versus observed churn.

    Rows are grouped into `bins` quantile bins of the predicted probability;
    each row gives ``rows``, ``predicted`` (mean) and ``observed`` (churn
    share) with a Wilson 95% interval ``observed_lower``/``observed_upper``.
    """
    frame = pd.DataFrame({"y": np.asarray(churned, float), "p": predicted})
    ranks = rankdata(frame["p"], method="ordinal")
    frame["bin"] = np.ceil(ranks / len(frame) * bins).astype(int)
    table = frame.groupby("bin").agg(
        rows=("y", "size"), predicted=("p", "mean"), observed=("y", "mean")
    )
    # Wilson score interval of each observed share
    z, n, q = 1.959964, table["rows"], table["observed"]
    centre = (q + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(q * (1 - q) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    table["observed_lower"] = centre - half
    table["observed_upper"] = centre + half
    return table.reset_index()


def tabulate_lift(churned, risk, bins: int = 10) -> pd.DataFrame:
    """Churn rate and lift per risk decile (decile 1 = riskiest)."""
    y = np.asarray(churned, dtype=float)
    ranks = rankdata(-np.asarray(risk, dtype=float), method="ordinal")
    decile = np.ceil(ranks / len(y) * bins).astype(int)
    table = (
        pd.DataFrame({"decile": decile, "y": y})
        .groupby("decile")
        .agg(rows=("y", "size"), churners=("y", "sum"), churn_rate=("y", "mean"))
    )
    table["lift"] = table["churn_rate"] / y.mean()
    table["cumulative_capture"] = table["churners"].cumsum() / y.sum()
    return table.reset_index()


def fit_horizon_logit(
    scores: pd.DataFrame,
    churn: pd.DataFrame | None,
    data_end,
    *,
    horizon_days: int = 90,
    covariates=("score",),
    per: float = 10.0,
    bins: int = 10,
) -> HorizonLogit:
    """Logistic regression of churn within `horizon_days` after each snapshot.

    Parameters
    ----------
    scores : DataFrame
        Snapshot rows with ``account_id``, ``as_of`` and the `covariates`.
        Rows with a missing covariate are left out.
    churn : DataFrame or None
        The ``churn`` table.
    data_end : timestamp-like
        Exclusive end of the data; snapshots whose horizon passes it are
        left out (counted in ``incomplete_horizon``).
    horizon_days : int, default 90
    covariates : sequence of str, default ('score',)
        Columns scaled per `per` points (e.g. add ``'account_age_days'``,
        which is scaled per 365 days instead).
    per : float, default 10
    bins : int, default 10
        Bins of the reliability table.

    Returns
    -------
    HorizonLogit

    Notes
    -----
    :math:`\\operatorname{logit} P(C \\in (t, t+h] \\mid s_t) = a +
    \\sum_k b_k x_{k,t}`, one row per account and snapshot :math:`t`.
    Snapshots of the same account overlap in their horizons, so standard
    errors are clustered by account (sandwich estimator). The odds ratio per
    10 points is :math:`e^{b}`. AUC and lift use the first covariate as the
    score (risk = minus score); the Brier score uses the fitted
    probabilities.
    """
    covariates = list(covariates)
    frame = build_horizon_frame(scores, churn, data_end, horizon_days)
    frame = frame.dropna(subset=covariates).reset_index(drop=True)
    if len(frame) == 0:
        raise EmptyTableError(
            f"No snapshot has a complete {horizon_days}-day horizon before the "
            "end of the data; shorten `horizon_days` or extend the data."
        )
    n_events = int(frame["churned"].sum())
    if n_events < 10 * len(covariates):
        warnings.warn(
            f"Only {n_events} churn events within {horizon_days} days for "
            f"{len(covariates)} covariate(s); odds ratios are unreliable.",
            SmallSampleWarning,
            stacklevel=2,
        )

    # design matrix: score points per `per`, account age per year
    design = pd.DataFrame(index=frame.index)
    for name in covariates:
        scale = 365.0 if name == "account_age_days" else per
        design[name] = frame[name].astype(float) / scale
    design = sm.add_constant(design, has_constant="add")
    groups = pd.factorize(frame["account_id"])[0]
    result = sm.Logit(frame["churned"].astype(float), design).fit(
        disp=0, cov_type="cluster", cov_kwds={"groups": groups}
    )
    ci = result.conf_int()
    odds = pd.DataFrame(
        {
            "covariate": list(design.columns),
            "coef": result.params.to_numpy(),
            "se": result.bse.to_numpy(),
            "odds_ratio": np.exp(result.params.to_numpy()),
            "lower": np.exp(ci.iloc[:, 0].to_numpy()),
            "upper": np.exp(ci.iloc[:, 1].to_numpy()),
            "p": result.pvalues.to_numpy(),
        }
    )

    # discrimination of the score itself, calibration of the fitted model
    frame["predicted"] = result.predict(design).to_numpy()
    risk = -frame[covariates[0]].to_numpy(dtype=float)
    y = frame["churned"].to_numpy()
    return HorizonLogit(
        odds,
        compute_auc(y, risk),
        compute_lift(y, risk),
        compute_brier(y, frame["predicted"]),
        tabulate_reliability(y, frame["predicted"], bins),
        tabulate_lift(y, risk),
        frame,
        int(horizon_days),
        len(frame),
        int(frame["account_id"].nunique()),
        n_events,
        int(frame.attrs.get("incomplete_horizon", 0)),
        result,
    )


def find_surprising_accounts(
    scores: pd.DataFrame,
    churn: pd.DataFrame | None,
    data_end,
    *,
    horizon_days: int = 90,
    high: float = 70.0,
    low: float = 40.0,
    accounts: pd.DataFrame | None = None,
    n: int = 10,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """High-score churners and low-score survivors, for review.

    Parameters
    ----------
    scores, churn, data_end, horizon_days
        As for :func:`fit_horizon_logit`.
    high, low : float
        Score at or above which a churn surprises, and below which survival
        over the whole horizon surprises (defaults: the Strong and Weak
        boundaries of the default definition).
    accounts : DataFrame, optional
        The ``accounts`` table, to add ``name`` and ``csm``.
    n : int, default 10
        Rows per list.

    Returns
    -------
    (churned_high, survived_low) : tuple of DataFrame
        One row per account (its most surprising snapshot): ``account_id``,
        ``as_of``, ``score``, ``category``, ``churned_at``; the first sorted
        by score descending, the second ascending.

    Notes
    -----
    Only snapshots with a complete horizon count, so a survivor has truly
    survived :math:`h` days after a low score.
    """
    frame = build_horizon_frame(scores, churn, data_end, horizon_days)
    frame = frame.loc[frame["score"].notna()]
    keep = [
        c
        for c in ("account_id", "as_of", "score", "category", "churned_at")
        if c in frame.columns
    ]
    churned = (
        frame.loc[(frame["churned"] == 1) & (frame["score"] >= high), keep]
        .sort_values("score", ascending=False)
        .drop_duplicates("account_id")
        .head(n)
    )
    survived = (
        frame.loc[(frame["churned"] == 0) & (frame["score"] < low), keep]
        .sort_values("score")
        .drop_duplicates("account_id")
        .head(n)
    )
    if accounts is not None:
        info = accounts.assign(account_id=accounts["account_id"].astype(str))
        info = info[[c for c in ("account_id", "name", "csm") if c in info.columns]]
        churned = churned.merge(info, on="account_id", how="left")
        survived = survived.merge(info, on="account_id", how="left")
    return churned.reset_index(drop=True), survived.reset_index(drop=True)
