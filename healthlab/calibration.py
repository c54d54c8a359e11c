"""Weight calibration: fit the score's weights to churn (DESIGN section 8).

The fit keeps every index's declared direction (higher is healthier): it only
chooses non-negative weights that sum to 100, pulled toward the current
weights, and reports indices whose association with churn contradicts their
direction instead of flipping them. Proposed category thresholds and a
proposed definition file (with a readable diff) close the loop.

Advice: once a definition is adopted, leave it unchanged for some weeks so
that scores stay comparable and alerts are not caused by the definition.
"""

from __future__ import annotations

import difflib
import itertools
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
import yaml
from scipy.optimize import minimize

from healthlab.errors import ParameterError, SmallSampleWarning
from healthlab.validation.frames import build_horizon_frame, build_intervals
from healthlab.validation.regression import compute_auc, compute_lift
from healthlab.validation.survival import compute_concordance

__all__ = [
    "ProposedDefinition",
    "WeightCalibrator",
    "check_directions",
    "compare_weights_out_of_time",
    "compute_weighted_score",
    "propose_definition",
    "propose_thresholds",
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


def _two_proportion_z(c1, n1, c2, n2) -> float:
    pooled = (c1 + c2) / (n1 + n2)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return float((c1 / n1 - c2 / n2) / se) if se > 0 else 0.0


def propose_thresholds(
    frame: pd.DataFrame,
    labels=("Weak", "Moderate", "Strong"),
    *,
    score: str = "score",
    outcome: str = "churned",
    step: float = 5.0,
    min_share: float = 0.1,
) -> pd.DataFrame:
    """Category thresholds with monotone, well separated churn rates.

    Parameters
    ----------
    frame : DataFrame
        Snapshot rows with a `score` and the binary `outcome`.
    labels : sequence of str
        Category labels from least to most healthy.
    step : float, default 5
        Grid spacing of candidate thresholds (between `step` and
        ``100 - step``).
    min_share : float, default 0.1
        Smallest share of rows a category may hold.

    Returns
    -------
    DataFrame
        One row per category (healthiest first): ``label``, ``lower``,
        ``upper``, ``rows``, ``churn_rate``, and ``z_vs_next`` (the
        two-proportion z statistic against the next less healthy category).
        ``attrs['separation']`` holds the smallest z.

    Notes
    -----
    Among threshold sets whose churn rates strictly fall from the least to
    the most healthy category and whose categories each hold at least
    `min_share` of the rows, the set maximising the smallest adjacent
    two-proportion statistic :math:`z = (p_a - p_b) / \\sqrt{\\bar p(1-\\bar
    p)(1/n_a + 1/n_b)}` is chosen.
    """
    data = frame.loc[frame[score].notna()]
    s, y = data[score].to_numpy(dtype=float), data[outcome].to_numpy(dtype=float)
    grid = np.arange(step, 100.0, step)
    # rows and churners below each grid point, so each candidate is O(1)
    cell = np.searchsorted(grid, s, side="right")
    n_cum = np.r_[0, np.cumsum(np.bincount(cell, minlength=len(grid) + 1))]
    c_cum = np.r_[0, np.cumsum(np.bincount(cell, y, minlength=len(grid) + 1))]
    best, best_z = None, -np.inf
    if len(labels) * min_share <= 1:
        for picks in itertools.combinations(range(1, len(grid) + 1), len(labels) - 1):
            edges = np.r_[0, picks, len(grid) + 1]
            n, c = np.diff(n_cum[edges]), np.diff(c_cum[edges])
            if n.min() < min_share * len(s) or n.min() == 0:
                continue
            rates = c / n
            if not np.all(np.diff(rates) < 0):
                continue
            z = min(
                _two_proportion_z(c[i], n[i], c[i + 1], n[i + 1])
                for i in range(len(labels) - 1)
            )
            if z > best_z:
                best, best_z = (grid[np.array(picks) - 1], n, c), z
    if best is None:
        raise ParameterError(
            f"No thresholds on a {step:g}-point grid give {len(labels)} "
            f"categories of at least {min_share:.0%} of {len(s)} rows with "
            "monotone churn rates; lower `min_share` or use fewer labels."
        )
    cuts, n, c = best
    lowers, uppers = np.r_[0.0, cuts], np.r_[cuts, 100.0]
    z_next = [np.nan] + [
        _two_proportion_z(c[i], n[i], c[i + 1], n[i + 1])
        for i in range(len(labels) - 1)
    ]
    out = (
        pd.DataFrame(
            {
                "label": list(labels),
                "lower": lowers,
                "upper": uppers,
                "rows": n,
                "churn_rate": c / n,
                "z_vs_next": z_next,
            }
        )
        .iloc[::-1]
        .reset_index(drop=True)
    )
    out.attrs["separation"] = float(best_z)
    return out


@dataclass
class ProposedDefinition:
    """A proposed score definition: its YAML text and a unified diff."""

    text: str
    diff: str

    def write(self, path) -> None:
        """Write the proposed definition YAML to `path`."""
        from pathlib import Path

        Path(path).write_text(self.text, encoding="utf-8")


def _replace_block(lines, key, render):
    # rewrite the indented lines under a top-level `key:` through `render`
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{key}:"))
    end = start + 1
    while end < len(lines) and (lines[end].startswith(" ") or not lines[end].strip()):
        end += 1
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    return lines[: start + 1] + render(lines[start + 1 : end]) + lines[end:]


def _round_preserving_sum(values) -> list[int]:
    # largest-remainder rounding: whole numbers with the rounded total
    values = np.asarray(values, dtype=float)
    floors = np.floor(values)
    short = int(round(values.sum() - floors.sum()))
    order = np.argsort(-(values - floors), kind="stable")
    floors[order[:short]] += 1
    return [int(v) for v in floors]


def propose_definition(
    text: str,
    weights: dict | None = None,
    thresholds: pd.DataFrame | None = None,
    version: str | None = None,
    *,
    name: str = "definition.yaml",
) -> ProposedDefinition:
    """Write fitted weights (and thresholds) into a definition's YAML text.

    Parameters
    ----------
    text : str
        The current definition file's text; comments and layout are kept.
    weights : dict, optional
        New weights, rounded to whole points.
    thresholds : DataFrame, optional
        Output of :func:`propose_thresholds`.
    version : str, optional
        New version; default: the current one with ``-calibrated``.
    name : str
        File name shown in the diff.

    Returns
    -------
    ProposedDefinition
        The new text (validated with :func:`healthlab.definition.parse_definition`)
        and a unified diff against `text`.
    """
    from healthlab.definition import parse_definition

    current = yaml.safe_load(text)
    lines = text.splitlines()
    version = version or f"{current['version']}-calibrated"
    lines = [
        f'version: "{version}"' if ln.startswith("version:") else ln for ln in lines
    ]
    if weights is not None:
        # keep the file's order of indices and whole points summing as before
        order = [k for k in current.get("weights", {}) if k in weights]
        order += [k for k in weights if k not in order]
        points = _round_preserving_sum([float(weights[k]) for k in order])

        def render_weights(block):
            out = [ln for ln in block if ln.strip().startswith("#")]
            return out + [f"  {k}: {p}" for k, p in zip(order, points, strict=True)]

        lines = _replace_block(lines, "weights", render_weights)
    if thresholds is not None:

        def render_categories(block):
            out = [ln for ln in block if ln.strip().startswith("#")]
            return out + [
                f"  - {{label: {r.label}, lower: {r.lower:g}, upper: {r.upper:g}}}"
                for r in thresholds.itertuples()
            ]

        lines = _replace_block(lines, "categories", render_categories)
    new = "\n".join(lines) + "\n"
    parse_definition(yaml.safe_load(new), source="(proposed)")
    diff = "".join(
        difflib.unified_diff(
            text.splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=f"current/{name}",
            tofile=f"proposed/{name}",
        )
    )
    return ProposedDefinition(new, diff)
