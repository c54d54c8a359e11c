"""Index values, health scores, coverage and categories (DESIGN §4-§6).

Scoring turns long raw metrics into three tables: metric percentiles
against the serving peer group of a benchmark version, 0-100 index values
mixed from those percentiles, and the health score of each account and
as-of date with its coverage, category and per-index contributions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from healthlab.asof import as_of_instant
from healthlab.benchmarks import (
    QUANTILES,
    assign_peer_groups,
    percentile_from_quantiles,
)
from healthlab.definition import assign_categories
from healthlab.definition_benchmarks import benchmark_plan, shrink_ratings
from healthlab.errors import MissingColumnError, StoreError

__all__ = [
    "ScoreResult",
    "SLOT_SOURCES",
    "compute_metric_percentiles",
    "compute_index_values",
    "compute_scores",
    "score_raw_metrics",
]

RAW_COLUMNS = ["account_id", "as_of", "index", "metric", "value", "reason", "partial"]

# Rows placed against their quantile tables at a time (memory ~ 1 KB a row).
_CHUNK = 100_000

# A weight slot served by another index for some app types.
SLOT_SOURCES = {"performance": {"mobile": "rating"}}


@dataclass
class ScoreResult:
    """Scores of a set of accounts and as-of dates under one definition.

    Attributes
    ----------
    scores : pandas.DataFrame
        One row per account and as-of date (the ``score_history`` columns).
    indices : pandas.DataFrame
        One row per account, as-of date and weighted index (slot).
    metrics : pandas.DataFrame
        One row per raw metric, with its percentile where benchmarked.
    definition_version, benchmark_version : str
    """

    scores: pd.DataFrame
    indices: pd.DataFrame
    metrics: pd.DataFrame
    definition_version: str
    benchmark_version: str | None


def compute_metric_percentiles(
    raw: pd.DataFrame, accounts: pd.DataFrame, benchmarks: pd.DataFrame, definition
) -> pd.DataFrame:
    """Percentile of every benchmarked raw metric within its serving peer group.

    Returns the raw rows (plus the rating's ``shrunk_stars``) with
    ``percentile``, ``peer_level`` and ``peer_group``; the percentile is NaN
    for informational metrics and missing values, and reversed
    (``100 - p``) for lower-is-better metrics.

    Notes
    -----
    ``p`` is :func:`healthlab.benchmarks.percentile_from_quantiles` of the
    value against the 101 quantiles of the first peer level whose group is
    stored in the benchmark for that as-of date, index and metric.
    """
    directions, _ = benchmark_plan(definition.index_params)
    levels = definition.peer_groups.levels
    keys = sorted({k for lv in levels for k in lv})
    shrunk = shrink_ratings(
        raw,
        accounts,
        benchmarks,
        peer_levels=levels,
        prior_ratings=definition.index_params.rating.prior_ratings,
    )
    rows = pd.concat([raw[RAW_COLUMNS], shrunk[RAW_COLUMNS]], ignore_index=True)
    rows = rows.merge(accounts[["account_id", *keys]], on="account_id", how="left")
    ranked = _map_pairs(rows, {p: True for p in directions}, False).astype(bool)
    rows["percentile"] = np.nan
    rows["peer_level"] = None
    rows["peer_group"] = None

    # the serving peer group of each ranked metric with a value
    todo = rows.index[ranked & rows["value"].notna().to_numpy()]
    served = assign_peer_groups(rows.loc[todo], benchmarks, peer_levels=levels)
    rows.loc[todo, "peer_level"] = served["peer_level"]
    rows.loc[todo, "peer_group"] = served["peer_group"]

    # the value's position among the group's 101 quantiles
    wide = benchmarks.pivot_table(
        index=["as_of", "index", "metric", "peer_group"],
        columns="quantile",
        values="value",
        aggfunc="first",
    ).reindex(columns=QUANTILES)
    lookup = pd.Series(np.arange(len(wide)), index=wide.index, name="qrow")
    have = served[served["peer_group"].notna()]
    qrow = have[["as_of", "index", "metric", "peer_group"]].merge(
        lookup.reset_index(), how="left", on=["as_of", "index", "metric", "peer_group"]
    )["qrow"]
    table, rows_q = wide.to_numpy(), qrow.to_numpy(dtype=np.int64)
    values = have["value"].to_numpy()
    # in chunks: each row needs its own copy of the group's 101 quantiles
    pct = np.concatenate(
        [
            percentile_from_quantiles(
                table[rows_q[i : i + _CHUNK]], values[i : i + _CHUNK]
            )
            for i in range(0, len(values), _CHUNK)
        ]
        or [np.empty(0)]
    )
    lower = _map_pairs(
        have, {p: d == "lower" for p, d in directions.items()}, False
    ).astype(bool)
    rows.loc[have.index, "percentile"] = np.where(lower, 100.0 - pct, pct)
    return rows.drop(columns=keys)


def _map_pairs(frame: pd.DataFrame, mapping: dict, default) -> np.ndarray:
    # mapping[(index, metric)] of every row, looked up once per distinct pair
    index_codes, index_names = pd.factorize(frame["index"])
    metric_codes, metric_names = pd.factorize(frame["metric"])
    table = np.array(
        [
            [mapping.get((i, m), default) for m in metric_names] + [default]
            for i in index_names
        ]
        + [[default] * (len(metric_names) + 1)],
        dtype=object,
    )
    # code -1 (a missing name) picks the default row or column
    return table[index_codes, metric_codes]


def compute_index_values(metrics: pd.DataFrame, definition) -> pd.DataFrame:
    """0-100 value of every index from its metrics' percentiles.

    Notes
    -----
    ``index = sum_j m_j * p_j / sum_j m_j`` over the index's metrics ``j``
    with a percentile, ``m_j`` the mix weight (DESIGN §4: duration 0.7 level
    + 0.3 trend, NPS 0.5 + 0.5, ...); unavailable when no metric of the mix
    has one. Custom indices scored linearly map their value to
    ``100 * (value - worst) / (best - worst)`` clipped to [0, 100].
    """
    _, mix = benchmark_plan(definition.index_params)
    linear = {
        c.name: c for c in definition.index_params.custom if c.scoring == "linear"
    }
    m = metrics.copy()
    for name, custom in linear.items():
        sel = (m["index"] == name) & (m["metric"] == "value")
        scaled = (m.loc[sel, "value"] - custom.worst) / (custom.best - custom.worst)
        m.loc[sel, "percentile"] = (100.0 * scaled).clip(0.0, 100.0)
    mixes = {(i, k): w for i, parts in mix.items() for k, w in parts.items()}
    m["mix"] = _map_pairs(m, mixes, 0.0).astype(float)
    m = m.sort_values(
        ["account_id", "as_of", "index", "mix", "metric"],
        ascending=[True, True, True, False, True],
        kind="mergesort",
    )
    used = m["percentile"].notna() & (m["mix"] > 0)
    m["wp"] = np.where(used, m["mix"] * m["percentile"], 0.0)
    m["wm"] = np.where(used, m["mix"], 0.0)
    m["lead_level"] = m["peer_level"].where(used)
    m["lead_group"] = m["peer_group"].where(used)
    m["lead_reason"] = m["reason"].where(m["mix"] > 0)

    # weighted mean of the available percentiles of each index
    grouped = m.groupby(["account_id", "as_of", "index"], sort=True)
    out = grouped.agg(
        wp=("wp", "sum"),
        wm=("wm", "sum"),
        partial=("partial", "any"),
        peer_level=("lead_level", "first"),
        peer_group=("lead_group", "first"),
        reason=("lead_reason", "first"),
        any_reason=("reason", "first"),
    ).reset_index()
    out["available"] = out["wm"] > 0
    out["value"] = np.where(
        out["available"], out["wp"] / out["wm"].where(out["wm"] > 0), np.nan
    )
    out["reason"] = out["reason"].fillna(out["any_reason"])
    out.loc[out["available"], "reason"] = None
    out.loc[~out["available"], "reason"] = out.loc[~out["available"], "reason"].fillna(
        "no_benchmark"
    )
    return out.drop(columns=["wp", "wm", "any_reason"])


def compute_scores(
    index_values: pd.DataFrame,
    accounts: pd.DataFrame,
    definition,
    *,
    benchmark_version: str | None = None,
):
    """Health score, coverage, category and contributions per account and as-of.

    Parameters
    ----------
    index_values : pandas.DataFrame
        Output of :func:`compute_index_values`.
    accounts : pandas.DataFrame
        ``account_id``, ``app_type`` and ``created_at``.
    definition : ScoreDefinition

    Returns
    -------
    scores, indices : pandas.DataFrame
        The ``score_history`` and ``index_history`` rows.

    Notes
    -----
    Over the weighted slots ``i`` available for the account::

        contribution_i = w_i * index_i / sum_{available} w_j
        score = sum_i contribution_i
        coverage = sum_{available} w_i / sum_i w_i

    The score is ``math.fsum`` of the contributions (correctly rounded), so
    it equals their exact sum rounded once; other summation orders agree to
    within rounding. The score is unavailable (NaN, reason given) when
    coverage is below
    ``definition.min_coverage``. The ``performance`` slot is served by the
    ``rating`` index for mobile accounts.
    """
    weights = {name: float(w) for name, w in definition.weights.items()}
    for name in definition.custom_names:
        weights.setdefault(name, 0.0)
    slots = sorted(weights)
    pairs = index_values[["account_id", "as_of"]].drop_duplicates()
    acc = accounts[["account_id", "app_type", "created_at"]]
    grid = pairs.merge(acc, on="account_id", how="left")
    grid = grid.loc[grid.index.repeat(len(slots))].reset_index(drop=True)
    grid["index"] = np.tile(slots, len(pairs))
    grid["source_index"] = [
        SLOT_SOURCES.get(s, {}).get(t, s)
        for s, t in zip(grid["index"], grid["app_type"], strict=True)
    ]
    values = index_values.rename(columns={"index": "source_index"})
    ind = grid.merge(values, on=["account_id", "as_of", "source_index"], how="left")
    ind["available"] = ind["available"].eq(True)
    ind["partial"] = ind["partial"].eq(True)
    ind["reason"] = ind["reason"].where(
        ind["available"] | ind["reason"].notna(), "no_data"
    )
    ind["weight"] = ind["index"].map(weights).astype(float)

    # renormalise the weights over the indices available for the account
    key = ["account_id", "as_of"]
    ind["w_avail"] = np.where(ind["available"], ind["weight"], 0.0)
    total = ind.groupby(key, sort=False)["w_avail"].transform("sum")
    ind["contribution"] = np.where(
        ind["available"], ind["weight"] * ind["value"] / total.where(total > 0), np.nan
    )
    ind = ind.sort_values([*key, "index"], kind="mergesort").reset_index(drop=True)
    scores = ind.groupby(key, sort=True)["w_avail"].sum().reset_index()
    scores["score"] = _exact_sums(ind, key)
    scores["coverage"] = scores["w_avail"] / sum(weights.values())

    # below the minimum coverage the score is unavailable, with the reason
    short = scores["coverage"] < definition.min_coverage - 1e-12
    scores["reason"] = None
    if short.any():
        missing = (
            ind.loc[~ind["available"] & (ind["weight"] > 0)]
            .assign(text=lambda f: f["index"] + " (" + f["reason"].astype(str) + ")")
            .groupby(key, sort=True)["text"]
            .agg(", ".join)
        )
        text = scores.loc[short].set_index(key).index.map(missing)
        scores.loc[short, "reason"] = [
            f"coverage {c:.2f} below minimum {definition.min_coverage:.2f}; "
            f"unavailable: {t}"
            for c, t in zip(scores.loc[short, "coverage"], text, strict=True)
        ]
        scores.loc[short, "score"] = np.nan
        dropped = ind.set_index(key).index.isin(scores.loc[short].set_index(key).index)
        ind.loc[dropped, "contribution"] = np.nan
    scores["category"] = assign_categories(scores["score"], definition.categories)

    # account age at the snapshot instant
    created = scores.merge(acc, on="account_id", how="left")["created_at"]
    created = pd.to_datetime(created, utc=True)
    instants = pd.to_datetime(scores["as_of"]).dt.tz_localize("UTC") + pd.Timedelta(
        days=1
    )
    scores["account_age_days"] = (instants - created).dt.days.astype("Int64")
    scores["definition_version"] = definition.version
    scores["benchmark_version"] = benchmark_version
    ind["definition_version"] = definition.version
    return _tidy_scores(scores), _tidy_indices(ind)


def _exact_sums(ind: pd.DataFrame, key: list[str]) -> np.ndarray:
    # correctly rounded sum of each account's contributions (rows sorted by key)
    codes = ind.groupby(key, sort=True).ngroup().to_numpy()
    values = ind["contribution"].to_numpy(dtype=float)
    bounds = np.flatnonzero(np.diff(codes)) + 1
    return np.array(
        [math.fsum(part[~np.isnan(part)]) for part in np.split(values, bounds)]
    )


def _tidy_scores(scores):
    cols = [
        "account_id",
        "as_of",
        "definition_version",
        "score",
        "coverage",
        "category",
        "reason",
        "account_age_days",
        "benchmark_version",
    ]
    out = scores[cols].copy()
    out["account_id"] = out["account_id"].astype(str).astype(object)
    out["as_of"] = pd.to_datetime(out["as_of"]).astype("datetime64[ns]")
    for col in ("score", "coverage"):
        out[col] = out[col].astype(np.float64)
    for col in ("definition_version", "category", "reason", "benchmark_version"):
        out[col] = out[col].astype(object).where(out[col].notna(), None)
    return out.sort_values(["as_of", "account_id"], kind="mergesort").reset_index(
        drop=True
    )


def _tidy_indices(ind):
    cols = [
        "account_id",
        "as_of",
        "definition_version",
        "index",
        "source_index",
        "value",
        "weight",
        "contribution",
        "available",
        "reason",
        "peer_level",
        "peer_group",
        "partial",
    ]
    out = ind[cols].copy()
    out["as_of"] = pd.to_datetime(out["as_of"]).astype("datetime64[ns]")
    for col in ("value", "weight", "contribution"):
        out[col] = out[col].astype(np.float64)
    for col in ("reason", "peer_level", "peer_group"):
        out[col] = out[col].astype(object).where(out[col].notna(), None)
    order = ["as_of", "account_id", "index"]
    return out.sort_values(order, kind="mergesort").reset_index(drop=True)


def _tidy_metrics(metrics, version):
    out = metrics.assign(definition_version=version)[
        [
            "account_id",
            "as_of",
            "definition_version",
            "index",
            "metric",
            "value",
            "percentile",
            "peer_level",
            "peer_group",
        ]
    ].copy()
    out["as_of"] = pd.to_datetime(out["as_of"]).astype("datetime64[ns]")
    for col in ("value", "percentile"):
        out[col] = out[col].astype(np.float64)
    for col in ("peer_level", "peer_group"):
        out[col] = out[col].astype(object).where(out[col].notna(), None)
    order = ["as_of", "account_id", "index", "metric"]
    return out.sort_values(order, kind="mergesort").reset_index(drop=True)


def score_raw_metrics(
    raw: pd.DataFrame,
    accounts: pd.DataFrame,
    definition,
    benchmarks: pd.DataFrame,
    *,
    benchmark_version: str | None = None,
) -> ScoreResult:
    """Score raw metrics against a benchmark version.

    Parameters
    ----------
    raw : pandas.DataFrame
        Long raw metrics (:func:`healthlab.indices.compute_raw_metrics`).
    accounts : pandas.DataFrame
        The accounts table (peer keys, ``app_type``, ``created_at``).
    definition : ScoreDefinition
    benchmarks : pandas.DataFrame
        One benchmark version, covering every as-of date of `raw`.
    benchmark_version : str, optional
        Its name, stored with every score.

    Returns
    -------
    ScoreResult
        Deterministic order and dtypes: the same inputs give byte-identical
        tables.
    """
    missing = [c for c in RAW_COLUMNS if c not in raw.columns]
    if missing:
        raise MissingColumnError(
            f"Raw metrics lack column(s) {missing}; expected {RAW_COLUMNS}."
        )
    raw = raw.assign(as_of=pd.to_datetime(raw["as_of"]).astype("datetime64[ns]"))
    raw["account_id"] = raw["account_id"].astype(str)
    accounts = accounts.assign(account_id=accounts["account_id"].astype(str))
    bench = benchmarks.assign(
        as_of=pd.to_datetime(benchmarks["as_of"]).astype("datetime64[ns]")
    )
    absent = sorted(set(raw["as_of"].unique()) - set(bench["as_of"].unique()))
    if absent:
        shown = [pd.Timestamp(d).date().isoformat() for d in absent[:5]]
        raise StoreError(
            f"Benchmark version {benchmark_version!r} has no rows for "
            f"{len(absent)} as-of date(s) {shown}; refresh the benchmarks for "
            "them or pin a version that covers them."
        )
    for stamp in raw["as_of"].unique()[:1]:
        as_of_instant(stamp)
    metrics = compute_metric_percentiles(raw, accounts, bench, definition)
    values = compute_index_values(metrics, definition)
    scores, indices = compute_scores(
        values, accounts, definition, benchmark_version=benchmark_version
    )
    return ScoreResult(
        scores=scores,
        indices=indices,
        metrics=_tidy_metrics(metrics, definition.version),
        definition_version=definition.version,
        benchmark_version=benchmark_version,
    )
