"""Percentiles against a peer population (DESIGN section 5).

The exact percentile of a value among a population, the 101-point quantile
table a benchmark stores, and the inverse that reads a percentile back from
that table. :mod:`healthlab.benchmarks` builds the tables per peer group.
"""

from __future__ import annotations

import numpy as np

from healthlab.errors import ParameterError

__all__ = [
    "QUANTILES",
    "compute_quantiles",
    "percentile_from_quantiles",
    "percentile_of_score",
]

# The 101 quantile levels every benchmark stores, in percent.
QUANTILES = np.arange(101, dtype=np.int64)


def percentile_of_score(population, values) -> np.ndarray:
    """Percentile of each value against a population, mid-rank ties.

    Parameters
    ----------
    population : array-like of float
        Member values; NaN are ignored.
    values : array-like of float
        Values to place; NaN gives NaN.

    Returns
    -------
    numpy.ndarray
        Percentiles in [0, 100].

    Notes
    -----
    For a population of ``n`` values and a value ``x``::

        p(x) = 100 * (#{v < x} + 0.5 * #{v == x}) / n

    the mean of the strict and weak empirical CDFs, which is
    ``scipy.stats.percentileofscore(population, x, kind='mean')``.

    Examples
    --------
    >>> percentile_of_score([1, 2, 2, 3], [2, 0, 5]).tolist()
    [50.0, 0.0, 100.0]
    """
    pop = np.sort(np.asarray(population, dtype=float))
    pop = pop[~np.isnan(pop)]
    x = np.asarray(values, dtype=float)
    if pop.size == 0:
        return np.full(x.shape, np.nan)
    below = np.searchsorted(pop, x, side="left")
    at_or_below = np.searchsorted(pop, x, side="right")
    out = 100.0 * (below + at_or_below) / (2.0 * pop.size)
    return np.where(np.isnan(x), np.nan, out)


def compute_quantiles(values) -> np.ndarray:
    """The 101 quantiles (0%, 1%, ..., 100%) of `values`, linear interpolation.

    Notes
    -----
    Quantile ``k`` sits at position ``k/100 * (n - 1)`` of the sorted values,
    interpolating linearly between neighbours (numpy's default ``'linear'``
    method).

    Examples
    --------
    >>> compute_quantiles([1, 2, 3, 5])[[0, 25, 50, 100]].tolist()
    [1.0, 1.75, 2.5, 5.0]
    """
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return np.full(QUANTILES.size, np.nan)
    return np.quantile(v, QUANTILES / 100.0)


def percentile_from_quantiles(quantiles, values) -> np.ndarray:
    """Percentile of each value from a stored 101-quantile table.

    Parameters
    ----------
    quantiles : array-like, shape (101,) or (n, 101)
        Non-decreasing quantile values ``q_0..q_100``; one row per value when
        two-dimensional.
    values : array-like of float, shape (n,)
        Values to place; NaN (or an all-NaN quantile row) gives NaN.

    Returns
    -------
    numpy.ndarray
        Percentiles in [0, 100].

    Notes
    -----
    The stored table is the quantile function ``Q`` sampled at
    ``k = 0..100``; the percentile is its inverse by linear interpolation:
    for ``q_{k} < x < q_{k+1}``, ``p = k + (x - q_k) / (q_{k+1} - q_k)``.
    When ``x`` equals a run of equal quantiles ``q_a = ... = q_b`` (ties),
    ``p = (a + b) / 2`` (mid-rank); below ``q_0`` gives 0, above ``q_100``
    gives 100.

    Against the exact :func:`percentile_of_score` of the same population of
    ``n`` members, the result differs by at most ``1 + 100 / (n - 1)``
    points: the inverse of the linear quantile function places the ``i``-th
    of ``n`` sorted values at ``100 * i / (n - 1)`` instead of
    ``100 * (i + 0.5) / n``, and sampling it on 101 points adds under one
    point. Both are equal in the limit of large groups, and both are
    monotone in ``x``.
    """
    q = np.atleast_2d(np.asarray(quantiles, dtype=float))
    x = np.atleast_1d(np.asarray(values, dtype=float))
    if q.shape[0] == 1 and x.size != 1:
        q = np.broadcast_to(q, (x.size, q.shape[1]))
    if q.shape != (x.size, QUANTILES.size):
        raise ParameterError(
            f"`quantiles` must have shape (101,) or ({x.size}, 101), got {q.shape}."
        )
    top = q.shape[1] - 1
    with np.errstate(invalid="ignore"):
        lo = (q < x[:, None]).sum(axis=1)
        hi = (q <= x[:, None]).sum(axis=1)
    # ties: x equals the run q[lo..hi-1]; mid-rank of that run
    tied = (hi > lo).astype(float) * (lo + hi - 1) / 2.0

    # between two neighbouring quantiles: linear inverse
    left = np.clip(lo - 1, 0, top)
    right = np.clip(lo, 0, top)
    rows = np.arange(x.size)
    q_left, q_right = q[rows, left], q[rows, right]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(q_right > q_left, (x - q_left) / (q_right - q_left), 0.0)
    between = np.where(lo == 0, 0.0, np.where(lo > top, float(top), left + frac))

    out = np.where(hi > lo, tied, between)
    invalid = np.isnan(x) | np.isnan(q).any(axis=1)
    return np.where(invalid, np.nan, out)
