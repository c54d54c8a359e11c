"""Benchmarks of a score definition: what it ranks, shrinkage, storing them.

A score definition decides which (index, metric) pairs have a peer benchmark
(:func:`benchmark_plan`): every metric of its indices except custom indices
scored by a linear map, plus the rating's mean stars shrunk toward the mean
of the account's serving peer group (:func:`shrink_ratings`).
:func:`build_definition_benchmarks` builds the quantile tables of all of
them with the definition's peer levels and minimum group size, and
:func:`refresh_benchmarks` stores them as a new version. The quantile tables
themselves are :mod:`healthlab.benchmarks`'s concern.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from healthlab.benchmarks import (
    DEFAULT_PEER_LEVELS,
    _benchmark_groups,
    _expand_groups,
    assign_peer_groups,
)
from healthlab.indices.catalog import index_mix, metric_directions

__all__ = [
    "SHRUNK_STARS",
    "benchmark_plan",
    "build_definition_benchmarks",
    "refresh_benchmarks",
    "shrink_ratings",
]

# Metric name of the rating's mean stars after shrinkage toward the peer mean.
SHRUNK_STARS = "shrunk_stars"


def benchmark_plan(index_params=None):
    """Benchmarked metrics with their directions, and the index mixes.

    Returns
    -------
    directions : dict of (index, metric) to {'higher', 'lower'}
        Every metric with a peer benchmark. Custom indices scored by a
        linear map have none. The rating index adds ``shrunk_stars``.
    mix : dict of index to dict of metric to float
        Weight of each metric's percentile in its index; the rating index
        ranks its shrunk stars.
    """
    directions = metric_directions(index_params)
    linear = {
        c.name for c in getattr(index_params, "custom", []) if c.scoring == "linear"
    }
    directions = {k: v for k, v in directions.items() if k[0] not in linear}
    directions[("rating", SHRUNK_STARS)] = "higher"
    mix = index_mix(index_params)
    mix["rating"] = {SHRUNK_STARS: 1.0}
    return directions, mix


def shrink_ratings(
    raw: pd.DataFrame,
    accounts: pd.DataFrame,
    benchmarks: pd.DataFrame,
    *,
    peer_levels: Sequence[Sequence[str]] = DEFAULT_PEER_LEVELS,
    prior_ratings: float = 10.0,
) -> pd.DataFrame:
    """Mean stars shrunk toward the peer mean, as raw-metric rows.

    Parameters
    ----------
    raw : pandas.DataFrame
        Long raw metrics holding the rating index's ``mean_stars`` and
        ``n_ratings``.
    accounts : pandas.DataFrame
        ``account_id`` and the peer keys.
    benchmarks : pandas.DataFrame
        A benchmark of ``('rating', 'mean_stars')``; its ``member_mean`` of
        the serving group is the peer mean.
    prior_ratings : float
        Weight of the peer mean, in ratings (default 10).

    Returns
    -------
    pandas.DataFrame
        Rows ``index='rating'``, ``metric='shrunk_stars'`` in the raw-metric
        format (NaN where the account has no ratings).

    Notes
    -----
    ``shrunk = (n * mean + m * peer_mean) / (n + m)`` with ``n`` ratings in
    the window, their mean stars and a prior worth ``m = prior_ratings``
    ratings at the mean of the account's serving peer group at that as-of
    date.
    """
    stars = raw[(raw["index"] == "rating") & (raw["metric"] == "mean_stars")]
    counts = raw[(raw["index"] == "rating") & (raw["metric"] == "n_ratings")]
    keys = sorted({k for lv in peer_levels for k in lv})
    rows = stars.merge(
        counts[["account_id", "as_of", "value"]].rename(columns={"value": "n"}),
        on=["account_id", "as_of"],
        how="left",
    ).merge(accounts[["account_id", *keys]], on="account_id", how="left")
    rows = assign_peer_groups(rows, benchmarks, peer_levels=peer_levels)
    means = benchmarks.loc[
        benchmarks["quantile"] == 0,
        ["as_of", "index", "metric", "peer_group", "member_mean"],
    ]
    rows = rows.merge(means, on=["as_of", "index", "metric", "peer_group"], how="left")

    # shrink the account's mean stars toward its peer group's mean
    n = rows["n"].fillna(0.0)
    shrunk = (n * rows["value"] + prior_ratings * rows["member_mean"]) / (
        n + prior_ratings
    )
    out = rows[[c for c in raw.columns if c in rows.columns]].copy()
    out["metric"] = SHRUNK_STARS
    out["value"] = shrunk.where(rows["value"].notna()).astype(float)
    return out.reset_index(drop=True)


def refresh_benchmarks(
    store,
    raw_metrics: pd.DataFrame,
    accounts: pd.DataFrame,
    definition,
    as_of_dates=None,
    *,
    version: str | None = None,
    source_period: str | None = None,
) -> str:
    """Build benchmarks from raw metrics and store them as a new version.

    Parameters
    ----------
    store : healthlab.store.Store
        Where the version is written (atomically; old versions untouched).
    raw_metrics : pandas.DataFrame
        Output of :func:`healthlab.indices.compute_raw_metrics`.
    accounts : pandas.DataFrame
        ``account_id`` and the peer keys.
    definition : healthlab.definition.ScoreDefinition
        Gives the peer levels, minimum group size and custom indices.
    as_of_dates : list of date-like, optional
        As-of dates to benchmark (default: all in `raw_metrics`).
    version : str, optional
        Name of the new version (default: next ``bNNNN``).

    Returns
    -------
    str
        The new version's name.
    """
    table = build_definition_benchmarks(
        raw_metrics, accounts, definition, as_of_dates, source_period=source_period
    )
    return store.write_benchmarks(
        table,
        version=version,
        definition_version=definition.version,
        description=f"{table['as_of'].nunique()} as-of dates",
    )


def build_definition_benchmarks(
    raw_metrics, accounts, definition, as_of_dates=None, *, source_period=None
) -> pd.DataFrame:
    """Benchmarks of every metric a score definition ranks, shrinkage included.

    The raw metrics are benchmarked first; the rating's shrunk stars use the
    serving group's mean of that first pass and are benchmarked second.
    """
    directions, _ = benchmark_plan(definition.index_params)
    raw = raw_metrics
    if as_of_dates is not None:
        wanted = pd.to_datetime(pd.Series(list(as_of_dates))).astype("datetime64[ns]")
        raw = raw[pd.to_datetime(raw["as_of"]).isin(wanted)]
    pairs = pd.MultiIndex.from_frame(raw[["index", "metric"]])
    ranked = raw[pairs.isin(list(directions))]
    options = dict(
        peer_levels=definition.peer_groups.levels,
        min_group_size=definition.min_group_size,
        within=dict(definition.peer_groups.within),
        source_period=source_period,
    )
    source_period = options.pop("source_period")
    first, first_q = _benchmark_groups(ranked, accounts, **options)
    # the groups' quantile-0 rows carry the member means shrinkage needs
    shrunk = shrink_ratings(
        raw,
        accounts,
        first,
        peer_levels=definition.peer_groups.levels,
        prior_ratings=definition.index_params.rating.prior_ratings,
    )
    second, second_q = _benchmark_groups(shrunk, accounts, **options)
    parts = [(g, q) for g, q in ((first, first_q), (second, second_q)) if len(g)]
    if len(parts) == 2:
        groups = pd.concat([first, second], ignore_index=True)
        quants = np.concatenate([first_q, second_q])
    else:
        groups, quants = parts[0] if parts else (first, first_q)
    return _expand_groups(groups, quants, source_period)
