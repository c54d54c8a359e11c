"""How much peer benchmarks moved between two versions.

A scheduled job refreshes the benchmarks every month
(:mod:`healthlab.benchmark_refresh`); before trusting the new percentiles
the data scientist wants to know, per index, metric and peer group, how far
each distribution shifted against the previous version. This module
measures the shift with the population stability index (PSI) and the
two-sample Kolmogorov-Smirnov statistic (KS), from raw metric values or from
the stored 101-quantile tables, lists the shifts above thresholds and draws
the quantile curves of two versions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from healthlab.benchmarks import benchmarks_at
from healthlab.errors import ParameterError

__all__ = [
    "DEFAULT_KS_THRESHOLD",
    "DEFAULT_PSI_THRESHOLD",
    "compare_benchmarks",
    "flag_shifts",
    "ks_statistic",
    "plot_quantile_curves",
    "population_stability_index",
    "quantile_shift",
]

#: PSI above which a shift is listed: 0.1-0.2 is the usual "watch" band,
#: above 0.2 "the population changed" in credit-scoring practice.
DEFAULT_PSI_THRESHOLD = 0.2
#: KS above which a shift is listed: a tenth of the population moved across
#: some value, about a one-decile move of a percentile.
DEFAULT_KS_THRESHOLD = 0.1

_GROUP = ["index", "metric", "peer_level", "peer_group"]


def population_stability_index(
    expected, actual, *, bins: int = 10, floor: float = 1e-4
) -> float:
    """Population stability index of `actual` against `expected`.

    Parameters
    ----------
    expected : array-like of float
        The reference sample (the previous version); NaN are ignored.
    actual : array-like of float
        The new sample; NaN are ignored.
    bins : int, default 10
        Bins are the quantiles of `expected` at ``1/bins, ..., (bins-1)/bins``
        (deciles by default); repeated edges, from ties, are merged.
    floor : float, default 1e-4
        Smallest share a bin counts with, so an empty bin stays finite.

    Returns
    -------
    float
        NaN when either sample is empty.

    Notes
    -----
    With interior edges ``e_1 < ... < e_k`` the bins are ``(-inf, e_1]``,
    ``(e_1, e_2]``, ..., ``(e_k, inf)``. With ``E_i`` and ``A_i`` the shares
    of the two samples in bin ``i``, each raised to at least `floor`::

        PSI = sum_i (A_i - E_i) * ln(A_i / E_i)

    0 means identical shares; below 0.1 is usually read as stable, above
    0.2 as a changed population. The value is symmetric in the shares but
    the bins come from `expected`.
    """
    e, a = _clean(expected), _clean(actual)
    if e.size == 0 or a.size == 0:
        return float("nan")
    if bins < 1:
        raise ParameterError(f"`bins` must be a positive integer, got {bins!r}.")
    edges = np.unique(np.quantile(e, np.arange(1, bins) / bins))
    e_share = np.bincount(
        np.searchsorted(edges, e, side="left"), minlength=edges.size + 1
    )
    a_share = np.bincount(
        np.searchsorted(edges, a, side="left"), minlength=edges.size + 1
    )
    e_share = np.maximum(e_share / e.size, floor)
    a_share = np.maximum(a_share / a.size, floor)
    return float(np.sum((a_share - e_share) * np.log(a_share / e_share)))


def ks_statistic(first, second) -> float:
    """Two-sample Kolmogorov-Smirnov statistic: largest gap between the ECDFs.

    Parameters
    ----------
    first, second : array-like of float
        The two samples; NaN are ignored.

    Returns
    -------
    float
        In [0, 1]; NaN when either sample is empty.

    Notes
    -----
    With ``F`` and ``G`` the empirical distribution functions
    (``F(x) = #{v <= x} / n``)::

        D = max_x |F(x) - G(x)|

    the maximum taken over the pooled sample values (the ECDFs only jump
    there). Equals ``scipy.stats.ks_2samp(first, second).statistic``.
    """
    f, g = np.sort(_clean(first)), np.sort(_clean(second))
    if f.size == 0 or g.size == 0:
        return float("nan")
    points = np.concatenate([f, g])
    cdf_f = np.searchsorted(f, points, side="right") / f.size
    cdf_g = np.searchsorted(g, points, side="right") / g.size
    return float(np.max(np.abs(cdf_f - cdf_g)))


def quantile_shift(previous, current, *, bins: int = 10) -> tuple[float, float]:
    """PSI and KS between two stored 101-quantile tables.

    Parameters
    ----------
    previous, current : array-like of float
        The 0th..100th percentiles of a metric in one peer group, in the
        previous and the current benchmark version.

    Returns
    -------
    (psi, ks) : tuple of float

    Notes
    -----
    A quantile table stands for the distribution putting mass 1/101 on
    each of its 101 values; PSI and KS are those of the two stand-ins
    (:func:`population_stability_index`, :func:`ks_statistic`). The
    stand-in's distribution function is within about 0.01 of the members'
    everywhere, so KS is within about 0.02 of the members' KS, and each
    decile share within about 0.02 of the members' share.
    """
    psi = population_stability_index(previous, current, bins=bins)
    return psi, ks_statistic(previous, current)


def compare_benchmarks(
    previous: pd.DataFrame,
    current: pd.DataFrame,
    *,
    previous_as_of=None,
    current_as_of=None,
    bins: int = 10,
) -> pd.DataFrame:
    """Shift of every (index, metric, peer group) between two benchmark versions.

    Parameters
    ----------
    previous, current : pandas.DataFrame
        Benchmark versions (:data:`healthlab.benchmarks.BENCHMARK_COLUMNS`),
        e.g. from :meth:`healthlab.store.Store.read_benchmarks`.
    previous_as_of, current_as_of : date-like, optional
        The snapshot compared in each version; default each one's latest.
    bins : int, default 10
        PSI bins (see :func:`population_stability_index`).

    Returns
    -------
    pandas.DataFrame
        One row per group stored in either version: ``index``, ``metric``,
        ``peer_level``, ``peer_group``, ``previous_members``,
        ``current_members``, ``psi``, ``ks`` (NaN when the group is in one
        version only) and ``ks_noise``.

    Notes
    -----
    PSI and KS come from the quantile tables (:func:`quantile_shift`).
    ``ks_noise = 1.36 * sqrt((n + m) / (n * m))`` is the KS two samples of
    ``n`` and ``m`` members from one distribution exceed with 5% chance: a
    KS below it can be sampling noise, whatever the threshold says.
    """
    prev = benchmarks_at(previous, previous_as_of)
    curr = benchmarks_at(current, current_as_of)
    prev_q = _quantile_matrix(prev)
    curr_q = _quantile_matrix(curr)
    out = pd.concat(
        [
            _members(prev).rename("previous_members"),
            _members(curr).rename("current_members"),
        ],
        axis=1,
    )
    psi, ks = [], []
    for key in out.index:
        if key in prev_q.index and key in curr_q.index:
            p, k = quantile_shift(prev_q.loc[key], curr_q.loc[key], bins=bins)
        else:
            p, k = float("nan"), float("nan")
        psi.append(p)
        ks.append(k)
    out["psi"], out["ks"] = psi, ks
    n, m = out["previous_members"], out["current_members"]
    out["ks_noise"] = 1.36 * np.sqrt((n + m) / (n * m))
    return out.reset_index().sort_values(_GROUP, ignore_index=True)


def flag_shifts(
    shifts: pd.DataFrame,
    *,
    psi_threshold: float = DEFAULT_PSI_THRESHOLD,
    ks_threshold: float = DEFAULT_KS_THRESHOLD,
) -> pd.DataFrame:
    """Rows of :func:`compare_benchmarks` with PSI or KS above its threshold.

    Adds ``reason`` naming the measures above their thresholds; sorted by
    PSI, largest first.
    """
    for name, value in (
        ("psi_threshold", psi_threshold),
        ("ks_threshold", ks_threshold),
    ):
        if not np.isfinite(value) or value < 0:
            raise ParameterError(
                f"`{name}` must be a non-negative number, got {value!r}."
            )
    psi_high = shifts["psi"] > psi_threshold
    ks_high = shifts["ks"] > ks_threshold
    out = shifts[psi_high | ks_high].copy()
    reasons = np.where(
        psi_high & ks_high, "PSI and KS", np.where(psi_high, "PSI", "KS")
    )
    out["reason"] = pd.Series(reasons, index=shifts.index)[out.index]
    return out.sort_values(["psi", "ks"], ascending=False, ignore_index=True)


def plot_quantile_curves(current: pd.DataFrame, previous=None, *, index: str):
    """Quantile curves of one index's metrics, one panel per metric.

    Each stored peer group of the current version is a thin line (value
    against percentile); the coarsest stored group is bold, and the same
    group of the previous version, when given, is dashed.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    curr = benchmarks_at(current, None)
    curr = curr[curr["index"] == index]
    prev = None if previous is None else benchmarks_at(previous, None)
    metrics = sorted(curr["metric"].unique())
    cols = min(3, max(1, len(metrics)))
    rows = -(-len(metrics) // cols) if metrics else 1
    fig = Figure(figsize=(3.4 * cols, 2.6 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, metric in zip(axes, metrics, strict=False):
        table = _quantile_matrix(curr[curr["metric"] == metric])
        for values in table.to_numpy():
            ax.plot(values, table.columns, color="#88CCEE", lw=0.6)
        levels = curr[curr["metric"] == metric].groupby("peer_level")["member_count"]
        coarsest = _coarsest(table, levels.max())
        ax.plot(
            table.loc[coarsest],
            table.columns,
            color="#004488",
            lw=1.8,
            label=f"{coarsest[2]}: {coarsest[3]}",
        )
        if prev is not None:
            old = _quantile_matrix(
                prev[(prev["index"] == index) & (prev["metric"] == metric)]
            )
            if coarsest in old.index:
                ax.plot(
                    old.loc[coarsest],
                    old.columns,
                    color="#BB5566",
                    lw=1.4,
                    ls="--",
                    label="previous version",
                )
        ax.set_title(metric.replace("$", r"\$"), fontsize=9)
        ax.set_ylabel("percentile", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes[len(metrics) :]:
        ax.set_visible(False)
    if metrics:
        axes[0].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"{index}: metric value at each percentile, per peer group")
    return fig


def _coarsest(table: pd.DataFrame, members_by_level: pd.Series):
    # the group of the level with the most members (the coarsest one)
    level = members_by_level.idxmax()
    keys = [k for k in table.index if k[2] == level]
    return keys[0]


def _clean(values) -> np.ndarray:
    v = np.asarray(values, dtype=float).ravel()
    return v[~np.isnan(v)]


def _quantile_matrix(table: pd.DataFrame) -> pd.DataFrame:
    return table.set_index([*_GROUP, "quantile"])["value"].unstack("quantile")


def _members(table: pd.DataFrame) -> pd.Series:
    first = table[table["quantile"] == 0]
    return first.set_index(_GROUP)["member_count"].astype(float)
