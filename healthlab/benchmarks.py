"""Peer benchmarks: quantile tables per peer group and percentiles (DESIGN §5).

A benchmark is a long table with one row per (as-of date, index, metric,
peer level, peer group, quantile) holding the value of the 0th..100th
percentile of the metric among the group's members, the member count, the
members' mean and the source period. Peer groups fall back from the most
specific level to coarser ones when a group has fewer than
``min_group_size`` members with a value; only groups that can serve
(enough members, or the last level allowed) are stored, so the table itself
says which level serves an account. Which metrics a score definition
benchmarks, the rating's shrinkage and storing the tables as a version are
:mod:`healthlab.definition_benchmarks`'s concern.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from healthlab.errors import MissingColumnError, ParameterError
from healthlab.percentiles import (
    QUANTILES,
    compute_quantiles,
    percentile_from_quantiles,
    percentile_of_score,
)

__all__ = [
    "BENCHMARK_COLUMNS",
    "BENCHMARK_KEY",
    "DEFAULT_PEER_LEVELS",
    "QUANTILES",
    "benchmarks_at",
    "benchmarks_from_population",
    "build_benchmarks",
    "format_peer_group",
    "format_peer_level",
    "assign_peer_groups",
    "percentile_from_quantiles",
    "percentile_of_score",
    "compute_quantiles",
]

DEFAULT_PEER_LEVELS: tuple[tuple[str, ...], ...] = (
    ("industry", "size_band", "app_type"),
    ("industry", "app_type"),
    ("app_type",),
    (),
)

# One row of a benchmark version per key: a quantile of one peer group.
BENCHMARK_KEY = ["as_of", "index", "metric", "peer_level", "peer_group", "quantile"]

BENCHMARK_COLUMNS = [
    *BENCHMARK_KEY,
    "value",
    "member_count",
    "member_mean",
    "source_period",
]


def benchmarks_at(benchmarks: pd.DataFrame, as_of=None) -> pd.DataFrame:
    """The rows of one as-of date of a benchmark table (default: its latest)."""
    dates = pd.to_datetime(benchmarks["as_of"])
    wanted = dates.max() if as_of is None else pd.Timestamp(as_of)
    return benchmarks[dates == wanted]


def format_peer_level(keys: Sequence[str]) -> str:
    """Name a peer level by its keys: ``'industry+app_type'``, or ``'everyone'``.

    Examples
    --------
    >>> format_peer_level(("industry", "app_type"))
    'industry+app_type'
    >>> format_peer_level(())
    'everyone'
    """
    return "+".join(keys) if keys else "everyone"


def format_peer_group(frame: pd.DataFrame, keys: Sequence[str]) -> pd.Series:
    """Label each row's peer group by its key values joined with ``'|'``.

    The group of the ``everyone`` level is labelled ``'all'``.
    """
    if not keys:
        return pd.Series("all", index=frame.index, dtype=object)
    parts = [frame[k].astype(str) for k in keys]
    label = parts[0]
    for part in parts[1:]:
        label = label + "|" + part
    return label.astype(object)


def _group_quantiles(
    codes: np.ndarray, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    # 101 linear quantiles of `values` within each integer group code
    order = np.lexsort((values, codes))
    codes, values = codes[order], values[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    n = np.diff(np.r_[starts, codes.size])
    # the same compensated group mean as pandas, summed in sorted order
    means = pd.Series(values).groupby(codes, sort=True).mean().to_numpy()

    # position of quantile k in a group of n sorted values: k/100 * (n - 1)
    pos = (n[:, None] - 1) * (QUANTILES[None, :] / 100.0)
    base = np.floor(pos).astype(np.int64)
    frac = pos - base
    upper = np.minimum(base + 1, n[:, None] - 1)
    v_lo = values[starts[:, None] + base]
    v_hi = values[starts[:, None] + upper]
    quant = v_lo + frac * (v_hi - v_lo)
    return order[starts], n, means, quant


def _combine_codes(columns: list[np.ndarray]) -> np.ndarray:
    # one int64 code per distinct combination of non-negative integer codes
    out = np.zeros(columns[0].size if columns else 0, dtype=np.int64)
    for col in columns:
        out = out * (int(col.max(initial=0)) + 1) + col
    return out


def _benchmark_groups(
    raw: pd.DataFrame,
    accounts: pd.DataFrame,
    *,
    peer_levels: Sequence[Sequence[str]],
    min_group_size: int,
    within: dict[str, Sequence[str]] | None,
) -> tuple[pd.DataFrame, np.ndarray]:
    # one row per stored group (keys, member_count, member_mean, quantile=0)
    # and its 101 quantiles, in BENCHMARK_COLUMNS order
    within = dict(within or {})
    _require(accounts, ["account_id", *{k for lv in peer_levels for k in lv}])
    _require(raw, ["account_id", "as_of", "index", "metric", "value"])
    keys = sorted({k for lv in peer_levels for k in lv})
    data = raw[["account_id", "as_of", "index", "metric", "value"]].merge(
        accounts[["account_id", *keys]], on="account_id", how="inner"
    )
    data = data[data["value"].notna()].reset_index(drop=True)
    values = data["value"].to_numpy(dtype=float)
    codes = {
        col: pd.factorize(data[col], use_na_sentinel=False)[0].astype(np.int64)
        for col in ["as_of", "index", "metric", *keys]
    }
    index_names, index_codes = np.unique(
        data["index"].to_numpy(dtype=object).astype(str), return_inverse=True
    )
    groups, quants = [], []
    for position, index_name in enumerate(index_names):
        rows = np.flatnonzero(index_codes == position)
        levels = _levels_for(index_name, peer_levels, within)
        for i, level in enumerate(levels):
            level = list(level)
            group = _combine_codes(
                [codes[c][rows] for c in ["as_of", "metric", *level]]
            )
            first, n, means, quant = _group_quantiles(group, values[rows])
            if i < len(levels) - 1:
                keep = n >= min_group_size
                first, n, means, quant = first[keep], n[keep], means[keep], quant[keep]
            members = data.iloc[rows[first]]
            frame = pd.DataFrame(
                {
                    "as_of": members["as_of"].to_numpy(),
                    "index": members["index"].to_numpy(dtype=object),
                    "metric": members["metric"].to_numpy(dtype=object),
                    "peer_level": format_peer_level(level),
                    "peer_group": format_peer_group(members, level).to_numpy(),
                    "quantile": 0,
                    "member_count": n.astype(np.int64),
                    "member_mean": means,
                }
            )
            if len(frame):
                groups.append(frame)
                quants.append(quant)
    if not groups:
        empty = pd.DataFrame(columns=[c for c in BENCHMARK_COLUMNS if c != "value"])
        return empty, np.empty((0, QUANTILES.size))
    return pd.concat(groups, ignore_index=True), np.concatenate(quants)


def _expand_groups(
    groups: pd.DataFrame, quants: np.ndarray, source_period: str | None
) -> pd.DataFrame:
    # sort the groups and write one row per group and quantile, typed
    as_of = pd.to_datetime(groups["as_of"]).astype("datetime64[ns]")
    groups = groups.assign(as_of=as_of, _row=np.arange(len(groups)))
    order = ["as_of", "index", "metric", "peer_level", "peer_group"]
    groups = groups.sort_values(order, kind="mergesort")
    quants = quants[groups["_row"].to_numpy()]
    if source_period is None:
        days = groups["as_of"].drop_duplicates()
        text = "before " + (days + pd.Timedelta(days=1)).dt.strftime("%Y-%m-%d")
        labels = dict(zip(days, text + " 00:00 UTC", strict=True))
        period = groups["as_of"].map(labels).to_numpy()
    else:
        period = np.full(len(groups), source_period, dtype=object)
    size = QUANTILES.size
    out = pd.DataFrame(
        {
            "as_of": np.repeat(groups["as_of"].to_numpy(), size),
            **{
                col: np.repeat(groups[col].to_numpy(dtype=object), size)
                for col in ("index", "metric", "peer_level", "peer_group")
            },
            "quantile": np.tile(QUANTILES, len(groups)).astype(np.int64),
            "value": quants.ravel().astype(np.float64),
            "member_count": np.repeat(
                groups["member_count"].to_numpy(dtype=np.int64), size
            ),
            "member_mean": np.repeat(
                groups["member_mean"].to_numpy(dtype=np.float64), size
            ),
            "source_period": np.repeat(period.astype(object), size),
        },
        columns=BENCHMARK_COLUMNS,
    )
    out["as_of"] = out["as_of"].astype("datetime64[ns]")
    return out


def build_benchmarks(
    raw: pd.DataFrame,
    accounts: pd.DataFrame,
    *,
    peer_levels: Sequence[Sequence[str]] = DEFAULT_PEER_LEVELS,
    min_group_size: int = 30,
    within: dict[str, Sequence[str]] | None = None,
    source_period: str | None = None,
) -> pd.DataFrame:
    """Quantile tables of each benchmarked metric per peer group and as-of date.

    Parameters
    ----------
    raw : pandas.DataFrame
        Long raw metrics with ``account_id``, ``as_of``, ``index``,
        ``metric``, ``value``; only the (index, metric) pairs to benchmark.
    accounts : pandas.DataFrame
        ``account_id`` and the peer keys of every level.
    peer_levels : sequence of sequences of str
        Fallback chain, most specific first; ``()`` is everyone.
    min_group_size : int
        Members with a non-null value a group needs to serve (default 30).
    within : dict, optional
        Index name -> keys its peers must always share (loyalty:
        ``['app_type']``); levels lacking a key are skipped for that index.
    source_period : str, optional
        Recorded on every row; default ``'before <as-of instant>'``.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`BENCHMARK_COLUMNS`, sorted.

    Notes
    -----
    For each level a group is stored when it has at least `min_group_size`
    members, or always at the last level allowed for the index, so that
    every account with a value finds a group. An account is served by the
    first level (most specific) whose group of it is stored. Groups are
    formed on integer codes of the keys and their quantiles computed for
    all groups at once from one sort.
    """
    groups, quants = _benchmark_groups(
        raw,
        accounts,
        peer_levels=peer_levels,
        min_group_size=min_group_size,
        within=within,
    )
    return _expand_groups(groups, quants, source_period)


def _levels_for(index_name, peer_levels, within):
    need = set(within.get(index_name, ()))
    levels = [tuple(lv) for lv in peer_levels if need <= set(lv)]
    if not levels:
        raise ParameterError(
            f"No peer level keeps {sorted(need)} for index {index_name!r}; "
            f"levels are {[list(lv) for lv in peer_levels]}."
        )
    return levels


def assign_peer_groups(
    frame: pd.DataFrame,
    benchmarks: pd.DataFrame,
    *,
    peer_levels: Sequence[Sequence[str]] = DEFAULT_PEER_LEVELS,
) -> pd.DataFrame:
    """Pick each row's serving peer level and group from a benchmark table.

    Parameters
    ----------
    frame : pandas.DataFrame
        Rows with ``as_of``, ``index``, ``metric`` and the peer keys.
    benchmarks : pandas.DataFrame
        One benchmark version (:data:`BENCHMARK_COLUMNS`).
    peer_levels : sequence of sequences of str
        The chain the benchmark was built with.

    Returns
    -------
    pandas.DataFrame
        `frame` with ``peer_level`` and ``peer_group`` (None when no stored
        group serves the row), same index.
    """
    stored = benchmarks.loc[
        benchmarks["quantile"] == 0, ["as_of", "index", "metric", "peer_group"]
    ].drop_duplicates()
    stored["found"] = True
    out = frame.copy()
    out["peer_level"] = None
    out["peer_group"] = None
    for level in peer_levels:
        todo = out["peer_level"].isna()
        if not todo.any():
            break
        label = format_peer_group(out.loc[todo], list(level))
        probe = out.loc[todo, ["as_of", "index", "metric"]].assign(peer_group=label)
        hit = probe.merge(stored, how="left", on=list(probe.columns))["found"]
        hit = hit.notna().to_numpy(dtype=bool)
        rows = out.index[todo][hit]
        out.loc[rows, "peer_level"] = format_peer_level(level)
        out.loc[rows, "peer_group"] = label[hit].to_numpy()
    return out


def benchmarks_from_population(
    frame: pd.DataFrame,
    group_keys: Sequence[str],
    metric: str,
    *,
    index: str | None = None,
    as_of=None,
    peer_levels: Sequence[Sequence[str]] | None = None,
    min_group_size: int = 30,
    source_period: str = "external population",
) -> pd.DataFrame:
    """Benchmark one metric from an external population file.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per peer app or account: its group keys and the raw metric
        in column `metric`.
    group_keys : sequence of str
        Most specific peer keys, e.g. ``['industry', 'size_band']``.
    metric : str
        Column holding the raw metric; rows where it is NaN are ignored.
    index : str, optional
        Index name recorded on the rows (default: `metric`).
    as_of : date-like, optional
        As-of label recorded on the rows (default: NaT, any date).
    peer_levels : sequence of sequences of str, optional
        Fallback chain; default drops keys from the end of `group_keys`
        down to everyone.
    min_group_size : int
        Members a group needs to serve (default 30).
    source_period : str
        Where and when the population comes from, recorded on every row.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`BENCHMARK_COLUMNS`, as :func:`build_benchmarks`.
    """
    keys = list(group_keys)
    _require(frame, [*keys, metric])
    if peer_levels is None:
        peer_levels = [tuple(keys[:i]) for i in range(len(keys), -1, -1)]
    population = frame[keys].copy()
    population["account_id"] = np.arange(len(frame)).astype(str)
    raw = pd.DataFrame(
        {
            "account_id": population["account_id"],
            "as_of": pd.Timestamp(as_of) if as_of is not None else pd.NaT,
            "index": index or metric,
            "metric": metric,
            "value": pd.to_numeric(frame[metric], errors="coerce").to_numpy(),
        }
    )
    if raw["as_of"].isna().all():
        # a placeholder day keeps groupby keys non-null; restored below
        raw["as_of"] = pd.Timestamp("1970-01-01")
    out = build_benchmarks(
        raw,
        population,
        peer_levels=peer_levels,
        min_group_size=min_group_size,
        source_period=source_period,
    )
    if as_of is None:
        out["as_of"] = pd.NaT
        out["as_of"] = out["as_of"].astype("datetime64[ns]")
    return out


def _require(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise MissingColumnError(
            f"Benchmark input lacks column(s) {missing}; has {list(frame.columns)}."
        )
