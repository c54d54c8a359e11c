"""Weight calibration: fit the score's weights to churn (DESIGN section 8).

The fit keeps every index's declared direction (higher is healthier): it only
chooses non-negative weights that sum to 100, pulled toward the current
weights, and reports indices whose association with churn contradicts their
direction instead of flipping them. Proposed category thresholds and a
proposed definition file close the loop in :mod:`healthlab.proposal`.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy.optimize import minimize

from healthlab.errors import ParameterError, SmallSampleWarning
from healthlab.validation.frames import build_horizon_frame, build_intervals
from healthlab.validation.regression import compute_auc, compute_lift
from healthlab.validation.survival import compute_concordance

__all__ = [
    "WeightCalibrator",
    "check_directions",
    "compare_weights_out_of_time",
    "compute_weighted_score",
]


def compute_weighted_score(values, weights) -> np.ndarray:
    """Score from index values and weights, renormalised over available ones.

    Parameters
    ----------
    values : array-like, shape (n, k)
        Index values 0-100, NaN where unavailable.
    weights : array-like, shape (k,)
        Non-negative weights.

    Notes
    -----
    :math:`s = \\sum_i w_i x_i a_i / \\sum_i w_i a_i` with :math:`a_i = 1`
    when index :math:`i` is available; NaN when no weighted index is.

    Examples
    --------
    >>> compute_weighted_score([[80.0, np.nan], [20.0, 60.0]], [3, 1]).tolist()
    [80.0, 30.0]
    """
    x = np.asarray(values, dtype=float)
    w = np.asarray(weights, dtype=float)
    available = ~np.isnan(x)
    total = available @ w
    with np.errstate(invalid="ignore", divide="ignore"):
        score = (np.where(available, x, 0.0) @ w) / total
    return np.where(total > 0, score, np.nan)


def _objective(params, x, avail, y, freq, w0, penalty):
    # negative log-likelihood of churn ~ a + b * score(w), plus the L2 pull
    k = x.shape[1]
    w, a, b = params[:k], params[k], params[k + 1]
    # einsum rather than BLAS: threaded BLAS on these thin products is slower
    total = np.maximum(np.einsum("ij,j->i", avail, w), 1e-9)
    s = np.einsum("ij,j->i", x, w) / total
    eta = a + b * s
    # log(1 + e^eta) and the logistic function from one exponential
    e = np.exp(-np.abs(eta))
    nll = np.einsum("i,i->", freq, np.maximum(eta, 0.0) + np.log1p(e) - y * eta)
    p = np.where(eta >= 0.0, 1.0, e) / (1.0 + e)
    resid = freq * (p - y)
    # d s / d w_i = (x_i - s a_i) / sum(w a), since x_i = 0 where a_i = 0,
    # so sum_r resid_r ds_r/dw_i takes two matrix-vector products
    per_total = resid / total
    grad_w = b * (
        np.einsum("i,ij->j", per_total, x) - np.einsum("i,ij->j", per_total * s, avail)
    )
    grad = np.concatenate([grad_w, [resid.sum(), np.einsum("i,i->", resid, s)]])
    grad[:k] += 2.0 * penalty * (w - w0)
    return nll + penalty * np.sum((w - w0) ** 2), grad


def _fit_simplex(x, avail, y, freq, w0, shrinkage, start):
    # weights on the simplex, slope <= 0 (healthier must not mean more churn)
    k = x.shape[1]
    penalty = shrinkage * max(float(np.sum(freq * y)), 1.0)
    bounds = [(0.0, 1.0)] * k + [(None, None), (None, 0.0)]
    result = minimize(
        _objective,
        start,
        args=(x, avail, y, freq, w0, penalty),
        jac=True,
        method="SLSQP",
        bounds=bounds,
        constraints=[
            {
                "type": "eq",
                "fun": lambda p: np.sum(p[:k]) - 1.0,
                "jac": lambda p: np.r_[np.ones(k), 0.0, 0.0],
            }
        ],
        options={"maxiter": 500, "ftol": 1e-10},
    )
    params = result.x.copy()
    params[:k] = np.clip(params[:k], 0.0, None)
    params[:k] /= params[:k].sum()
    return params


class WeightCalibrator:
    """Fit non-negative index weights summing to 100 to churn within a horizon.

    Parameters
    ----------
    shrinkage : float, default 0.1
        Strength of the pull toward the current weights; 0 is pure maximum
        likelihood. The penalty is scaled by the number of churn events, so
        its effect does not fade as data grow.
    n_boot : int, default 200
        Account-level bootstrap replicates for the intervals (0: none).
    min_events_per_index : int, default 10
        Fewer churn events per index issues a :class:`SmallSampleWarning`.
    seed : int, default 20261203
        Seed of the bootstrap.

    Attributes
    ----------
    weights_ : dict of str to float
        Fitted weights (sum 100).
    intervals_ : DataFrame
        ``index``, ``current``, ``fitted``, ``lower``, ``upper`` (95%
        bootstrap percentile interval), ``equal``.
    intercept_, slope_ : float
        Logistic intercept and slope per score point (0-100 scale / 100).
    n_rows_, n_accounts_, n_events_ : int

    Notes
    -----
    With index values :math:`x_{ri}` (availability :math:`a_{ri}`), weights
    :math:`w` on the simplex and score
    :math:`s_r(w) = \\sum_i w_i x_{ri} a_{ri} / \\sum_i w_i a_{ri}`, the fit
    minimises

    .. math:: -\\sum_r [y_r \\eta_r - \\log(1 + e^{\\eta_r})]
              + \\lambda E \\lVert w - w_0 \\rVert^2,
              \\quad \\eta_r = \\alpha + \\beta s_r(w)/100,\\ \\beta \\le 0,

    by SLSQP, where :math:`y_r` is churn within the horizon after snapshot
    :math:`r`, :math:`E` the number of churn events, :math:`\\lambda` the
    `shrinkage` and :math:`w_0` the current weights. Bootstrap replicates
    resample accounts (all their snapshots together) with replacement.
    """

    def __init__(
        self, shrinkage=0.1, n_boot=200, min_events_per_index=10, seed=20261203
    ):
        if shrinkage < 0:
            raise ParameterError(f"`shrinkage` must be >= 0, got {shrinkage!r}.")
        self.shrinkage = shrinkage
        self.n_boot = n_boot
        self.min_events_per_index = min_events_per_index
        self.seed = seed

    def fit(
        self,
        frame: pd.DataFrame,
        current_weights: dict,
        outcome: str = "churned",
        group: str = "account_id",
    ):
        """Fit the weights on `frame` and return self.

        Parameters
        ----------
        frame : DataFrame
            One row per account (and snapshot) with a column per index of
            `current_weights` (0-100, NaN unavailable), the binary `outcome`
            and the `group` (account) column, e.g. from
            :func:`~healthlab.validation.frames.build_horizon_frame` on
            wide index history.
        current_weights : dict of str to float
            The definition's weights; their keys choose the indices.
        """
        names = list(current_weights)
        missing = [n for n in names if n not in frame.columns]
        if missing:
            raise ParameterError(
                f"Indices {missing} of `current_weights` have no column in "
                f"`frame`; it has {list(frame.columns)}."
            )
        rows = frame.loc[frame[names].notna().any(axis=1)]
        x_raw = rows[names].to_numpy(dtype=float) / 100.0
        avail = (~np.isnan(x_raw)).astype(float)
        x = np.nan_to_num(x_raw)
        y = rows[outcome].to_numpy(dtype=float)
        w0 = np.array([current_weights[n] for n in names], dtype=float)
        w0 = w0 / w0.sum()
        self.n_rows_, self.n_events_ = len(rows), int(y.sum())
        self.n_accounts_ = int(rows[group].nunique())
        if self.n_events_ < self.min_events_per_index * len(names):
            warnings.warn(
                f"Only {self.n_events_} churn events for {len(names)} indices "
                f"({self.n_events_ / len(names):.1f} per index, fewer than "
                f"{self.min_events_per_index}); fitted weights are unreliable.",
                SmallSampleWarning,
                stacklevel=2,
            )

        # start from the current weights and a one-covariate logistic fit
        s0 = compute_weighted_score(x_raw, w0)
        base = sm.Logit(y, sm.add_constant(s0)).fit(disp=0)
        start = np.r_[w0, base.params[0], min(base.params[1], 0.0)]
        ones = np.ones(len(y))
        params = _fit_simplex(x, avail, y, ones, w0, self.shrinkage, start)
        k = len(names)
        self.weights_ = dict(zip(names, 100.0 * params[:k], strict=True))
        self.intercept_, self.slope_ = float(params[k]), float(params[k + 1])

        # account-level bootstrap: resample accounts, weight rows by count
        codes, uniques = pd.factorize(rows[group])
        rng = np.random.default_rng(self.seed)
        draws = []
        for _ in range(self.n_boot):
            picked = rng.integers(0, len(uniques), len(uniques))
            freq = np.bincount(picked, minlength=len(uniques))[codes].astype(float)
            # rows of accounts not drawn weigh nothing: leave them out
            drawn = freq > 0
            boot = _fit_simplex(
                x[drawn],
                avail[drawn],
                y[drawn],
                freq[drawn],
                w0,
                self.shrinkage,
                params,
            )
            draws.append(100.0 * boot[:k])
        draws = np.array(draws) if draws else np.full((1, k), np.nan)
        self.bootstrap_ = pd.DataFrame(draws, columns=names)
        self.intervals_ = pd.DataFrame(
            {
                "index": names,
                "current": 100.0 * w0,
                "fitted": 100.0 * params[:k],
                "lower": np.percentile(draws, 2.5, axis=0),
                "upper": np.percentile(draws, 97.5, axis=0),
                "equal": 100.0 / k,
            }
        )
        return self


def check_directions(
    frame: pd.DataFrame,
    names,
    outcome: str = "churned",
    group: str = "account_id",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Indices whose association with churn contradicts "higher is healthier".

    Returns
    -------
    DataFrame
        Per index: ``alone_coef`` and ``alone_p`` (logistic regression of the
        outcome on that index alone, per 10 points), ``joint_coef`` and
        ``joint_p`` (all indices together, unavailable values set to 50),
        and ``contradicts`` (a positive coefficient significant at `alpha`
        alone or jointly). Standard errors are clustered by account.

    Notes
    -----
    A contradiction is reported, never acted on: the weight fit keeps the
    declared direction. Correlated indices can look healthy alone and
    harmful together, which is why both fits are shown.
    """
    names = list(names)
    y = frame[outcome].to_numpy(dtype=float)
    groups = pd.factorize(frame[group])[0]

    def fit(columns):
        design = sm.add_constant(frame[columns].fillna(50.0) / 10.0)
        return sm.Logit(y, design).fit(
            disp=0, cov_type="cluster", cov_kwds={"groups": groups}
        )

    joint = fit(names)
    rows = []
    for name in names:
        alone = fit([name])
        rows.append(
            {
                "index": name,
                "alone_coef": float(alone.params[name]),
                "alone_p": float(alone.pvalues[name]),
                "joint_coef": float(joint.params[name]),
                "joint_p": float(joint.pvalues[name]),
            }
        )
    out = pd.DataFrame(rows)
    out["contradicts"] = ((out["alone_coef"] > 0) & (out["alone_p"] < alpha)) | (
        (out["joint_coef"] > 0) & (out["joint_p"] < alpha)
    )
    return out


def compare_weights_out_of_time(
    wide: pd.DataFrame,
    churn: pd.DataFrame | None,
    data_end,
    split,
    current_weights: dict,
    *,
    horizon_days: int = 90,
    calibrator: WeightCalibrator | None = None,
) -> tuple[pd.DataFrame, WeightCalibrator]:
    """Fit weights on earlier snapshots and compare them on later ones.

    Parameters
    ----------
    wide : DataFrame
        Wide index history (``account_id``, ``as_of``, one column per index),
        e.g. :func:`~healthlab.validation.frames.pivot_indices`.
    churn, data_end
        The churn table and the exclusive end of the data.
    split : date-like
        First as-of label of the evaluation period. Training uses snapshots
        whose whole horizon ends by the split instant, so no churn after the
        split informs the fit.
    current_weights : dict
    horizon_days : int, default 90
    calibrator : WeightCalibrator, optional
        Settings of the fit (default: ``WeightCalibrator(n_boot=0)``).

    Returns
    -------
    (table, calibrator)
        ``table`` has one row per weight set (current, fitted, equal) with
        ``concordance`` (time-dependent, evaluation period), ``auc`` and
        ``lift`` (top tenth) of churn within the horizon, and the weights.
    """
    split = pd.Timestamp(split).normalize()
    split_instant = split + pd.Timedelta(days=1)
    names = list(current_weights)
    train = build_horizon_frame(
        wide.loc[pd.to_datetime(wide["as_of"]) < split],
        churn,
        split_instant,
        horizon_days,
    )
    calibrator = calibrator or WeightCalibrator(n_boot=0)
    calibrator.fit(train, current_weights)

    later = wide.loc[pd.to_datetime(wide["as_of"]) >= split]
    horizon = build_horizon_frame(later, churn, data_end, horizon_days)
    intervals = build_intervals(later, churn, data_end)
    sets = {
        "current": current_weights,
        "fitted": calibrator.weights_,
        "equal": dict.fromkeys(names, 100.0 / len(names)),
    }
    rows = []
    for label, weights in sets.items():
        w = [weights[n] for n in names]
        horizon["_s"] = compute_weighted_score(horizon[names], w)
        intervals["_s"] = compute_weighted_score(intervals[names], w)
        scored = horizon.loc[horizon["_s"].notna()]
        rows.append(
            {
                "weights": label,
                "concordance": compute_concordance(intervals, "_s"),
                "auc": compute_auc(scored["churned"], -scored["_s"]),
                "lift": compute_lift(scored["churned"], -scored["_s"]),
                "rows": len(scored),
                "events": int(scored["churned"].sum()),
                **{f"w_{n}": float(v) for n, v in zip(names, w, strict=True)},
            }
        )
    return pd.DataFrame(rows), calibrator
