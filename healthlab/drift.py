"""How much peer benchmarks moved between two versions, and reusing versions.

A scheduled job refreshes the benchmarks every month; before trusting the new
percentiles the data scientist wants to know, per index, metric and peer
group, how far each distribution shifted against the previous version. This
module measures the shift with the population stability index (PSI) and the
two-sample Kolmogorov-Smirnov statistic (KS), from raw metric values or from
the stored 101-quantile tables, summarises which peer level served each
group, and refreshes a benchmark version idempotently: identical content for
the same as-of dates reuses the stored version instead of adding a copy.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from healthlab.benchmarks import (
    BENCHMARK_COLUMNS,
    assign_peer_groups,
    build_definition_benchmarks,
    format_peer_group,
    format_peer_level,
)
from healthlab.errors import ParameterError

__all__ = [
    "DEFAULT_KS_THRESHOLD",
    "DEFAULT_PSI_THRESHOLD",
    "BenchmarkRefresh",
    "benchmark_content_hash",
    "compare_benchmarks",
    "flag_shifts",
    "ks_statistic",
    "peer_group_fallbacks",
    "plot_quantile_curves",
    "population_stability_index",
    "quantile_shift",
    "refresh_benchmark_version",
    "summarise_fallbacks",
]

#: PSI above which a shift is listed: 0.1-0.2 is the usual "watch" band,
#: above 0.2 "the population changed" in credit-scoring practice.
DEFAULT_PSI_THRESHOLD = 0.2
#: KS above which a shift is listed: a tenth of the population moved across
#: some value, about a one-decile move of a percentile.
DEFAULT_KS_THRESHOLD = 0.1

_GROUP = ["index", "metric", "peer_level", "peer_group"]
_KEY = ["as_of", *_GROUP, "quantile"]


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
    prev = _at(previous, previous_as_of)
    curr = _at(current, current_as_of)
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


def peer_group_fallbacks(
    benchmarks: pd.DataFrame, accounts: pd.DataFrame, peer_levels, *, as_of=None
) -> pd.DataFrame:
    """Which peer level serves each most specific group, per index and metric.

    Parameters
    ----------
    benchmarks : pandas.DataFrame
        One benchmark version.
    accounts : pandas.DataFrame
        ``account_id`` and the peer keys.
    peer_levels : sequence of sequences of str
        The fallback chain the version was built with, most specific first.
    as_of : date-like, optional
        Default: the version's latest as-of date.

    Returns
    -------
    pandas.DataFrame
        ``index``, ``metric``, ``group`` (most specific label), ``accounts``
        in it, ``serving_level``, ``serving_group``, ``serving_members``
        (members with a value in the serving group) and ``fallback`` (steps
        down the chain, 0 = its own group served).
    """
    table = _at(benchmarks, as_of)
    finest = list(peer_levels[0])
    groups = accounts.groupby(finest, dropna=False).size().rename("accounts")
    groups = groups.reset_index()
    groups["group"] = format_peer_group(groups, finest)
    pairs = table[["as_of", "index", "metric"]].drop_duplicates()
    frame = pairs.merge(groups, how="cross")
    # a group's own label may be served by a coarser level with the same name
    served = assign_peer_groups(frame, table, peer_levels=peer_levels)
    members = table.loc[
        table["quantile"] == 0, ["index", "metric", "peer_level", "peer_group"]
    ].assign(serving_members=table.loc[table["quantile"] == 0, "member_count"])
    out = served.merge(
        members, how="left", on=["index", "metric", "peer_level", "peer_group"]
    )
    names = [format_peer_level(level) for level in peer_levels]
    out["fallback"] = out["peer_level"].map({n: i for i, n in enumerate(names)})
    out = out.rename(
        columns={"peer_level": "serving_level", "peer_group": "serving_group"}
    )
    columns = ["index", "metric", "group", "accounts", "serving_level", "serving_group"]
    return out[[*columns, "serving_members", "fallback"]].sort_values(
        ["index", "metric", "group"], ignore_index=True
    )


def summarise_fallbacks(fallbacks: pd.DataFrame) -> pd.DataFrame:
    """Most specific groups and their accounts per serving level.

    Parameters
    ----------
    fallbacks : pandas.DataFrame
        Output of :func:`peer_group_fallbacks`.

    Returns
    -------
    pandas.DataFrame
        One row per (index, metric), one column per serving level (in
        fallback order) with the text ``'<groups> groups, <accounts>
        accounts'``; ``'-'`` where no group fell back to that level.
    """
    served = fallbacks.dropna(subset=["serving_level"])
    counts = served.groupby(["index", "metric", "fallback", "serving_level"]).agg(
        groups=("group", "size"), accounts=("accounts", "sum")
    )
    counts["text"] = [
        f"{g:,} groups, {a:,} accounts"
        for g, a in zip(counts["groups"], counts["accounts"], strict=True)
    ]
    wide = counts["text"].droplevel("fallback").unstack("serving_level")
    order = served.sort_values("fallback")["serving_level"].unique()
    return wide[list(order)].fillna("-").reset_index()


def benchmark_content_hash(benchmarks: pd.DataFrame) -> str:
    """SHA-256 of a benchmark table's content, whatever its row order.

    Rows are sorted by (as_of, index, metric, peer_level, peer_group,
    quantile) and each column brought to the type the store reads back, so
    a table hashes the same before writing and after
    :meth:`healthlab.store.Store.read_benchmarks`. The version name is not
    part of the content.
    """
    frame = benchmarks[BENCHMARK_COLUMNS].copy()
    frame["as_of"] = pd.to_datetime(frame["as_of"]).astype("datetime64[ns]")
    for col in ("index", "metric", "peer_level", "peer_group", "source_period"):
        frame[col] = (
            frame[col].astype(object).where(frame[col].notna(), "\0").astype(str)
        )
    for col in ("quantile", "member_count"):
        frame[col] = frame[col].astype("int64")
    for col in ("value", "member_mean"):
        frame[col] = frame[col].astype("float64")
    frame = frame.sort_values(_KEY, ignore_index=True)
    rows = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return hashlib.sha256(rows.tobytes()).hexdigest()


@dataclass
class BenchmarkRefresh:
    """What :func:`refresh_benchmark_version` did.

    Attributes
    ----------
    version : str
        The benchmark version holding this refresh (new or reused).
    reused : bool
        True when an identical stored version was reused.
    previous : str or None
        The newest other version stored before it, to compare against.
    benchmarks : pandas.DataFrame
        The version's rows.
    accounts : pandas.DataFrame
        Accounts with their peer keys.
    definition : healthlab.definition.ScoreDefinition
        The definition the benchmarks were built with (peer options applied).
    as_of_dates : list of pandas.Timestamp
    location : str
        The data source.
    data_period : tuple of str
        First and last session day of the source (ISO dates).
    content_hash : str
    """

    version: str
    reused: bool
    previous: str | None
    benchmarks: pd.DataFrame
    accounts: pd.DataFrame
    definition: object
    as_of_dates: list
    location: str
    data_period: tuple[str, str]
    content_hash: str


def refresh_benchmark_version(
    source,
    *,
    store_path,
    as_of=None,
    definition=None,
    peer_keys=None,
    min_group_size: int | None = None,
    engine: str = "duckdb",
    version: str | None = None,
) -> BenchmarkRefresh:
    """Refresh peer benchmarks for some as-of dates, reusing an identical version.

    Parameters
    ----------
    source : str, Path or ibis backend
        The data source (see :func:`healthlab.engine.open_source`).
    store_path : str or Path
        The store receiving the version.
    as_of : date-like or list of date-like, optional
        Snapshot(s) to benchmark; default every month end of the data (or
        the definition's snapshot interval). A monthly job passes one date.
    definition : ScoreDefinition, str or Path, optional
        Default: the packaged definition.
    peer_keys : sequence of str, optional
        Keys of the most specific peer group; the fallback chain keeps the
        definition's levels made of these keys only, then everyone.
    min_group_size : int, optional
        Members a group needs to serve (default: the definition's).
    engine : {'duckdb', 'spark'}
    version : str, optional
        Name of the version when a new one is written (default: next
        ``bNNNN``).

    Returns
    -------
    BenchmarkRefresh

    Notes
    -----
    The version is written atomically by
    :meth:`healthlab.store.Store.write_benchmarks`. Before writing, stored
    versions of the same definition version and row count are hashed
    (:func:`benchmark_content_hash`); an equal hash means the same as-of
    dates with the same content, and that version is returned instead, so
    running a refresh twice leaves one version.
    """
    from healthlab.asof import parse_as_of_dates
    from healthlab.contract import validate_source
    from healthlab.definition import ScoreDefinition, load_definition
    from healthlab.engine import open_source
    from healthlab.indices import compute_raw_metrics
    from healthlab.pipeline import data_period, default_as_of_dates
    from healthlab.store import Store

    base = (
        definition
        if isinstance(definition, ScoreDefinition)
        else load_definition(definition)
    )
    used = _with_peer_options(base, peer_keys, min_group_size)
    opened = open_source(source, engine=engine)
    opened = validate_source(opened, drop_invalid=used.drop_invalid_rows)
    if as_of is None:
        dates = default_as_of_dates(opened, used)
    else:
        dates = parse_as_of_dates(as_of if isinstance(as_of, list | tuple) else [as_of])
    accounts = opened.tables["accounts"].to_pandas()
    accounts["account_id"] = accounts["account_id"].astype(str)
    raw = compute_raw_metrics(opened, dates, used)
    table = build_definition_benchmarks(raw, accounts, used, dates)
    digest = benchmark_content_hash(table)

    store = Store(store_path)
    store.write_definition(base)
    versions = store.benchmark_versions().sort_values(["created_at", "version"])
    found = None
    for row in versions.itertuples():
        if row.definition_version == used.version and row.n_rows == len(table):
            if benchmark_content_hash(store.read_benchmarks(row.version)) == digest:
                found = row.version
    reused = found is not None
    if reused:
        version = found
    else:
        levels = "; ".join(format_peer_level(lv) for lv in used.peer_groups.levels)
        version = store.write_benchmarks(
            table,
            version=version,
            definition_version=used.version,
            description=(
                f"{opened.location}: as-of "
                f"{', '.join(str(d.date()) for d in dates)}; levels {levels}; "
                f"min group {used.min_group_size}; sha256 {digest[:16]}"
            ),
        )
        versions = store.benchmark_versions().sort_values(["created_at", "version"])
    names = list(versions["version"])
    earlier = names[: names.index(version)]
    return BenchmarkRefresh(
        version=version,
        reused=reused,
        previous=earlier[-1] if earlier else None,
        benchmarks=store.read_benchmarks(version),
        accounts=accounts,
        definition=used,
        as_of_dates=dates,
        location=str(opened.location),
        data_period=tuple(str(t.date()) for t in data_period(opened)),
        content_hash=digest,
    )


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

    curr = _at(current, None)
    curr = curr[curr["index"] == index]
    prev = None if previous is None else _at(previous, None)
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


def _with_peer_options(definition, peer_keys, min_group_size):
    from healthlab.definition import PeerGroups

    groups = definition.peer_groups
    levels = groups.levels
    if peer_keys is not None:
        keys = tuple(peer_keys)
        coarser = [lv for lv in levels if set(lv) < set(keys)]
        levels = (keys, *coarser) if () in coarser or not keys else (keys, *coarser, ())
    size = groups.min_group_size if min_group_size is None else int(min_group_size)
    if levels == groups.levels and size == groups.min_group_size:
        return definition
    try:
        peer = PeerGroups(levels=levels, min_group_size=size, within=groups.within)
    except ValueError as exc:
        raise ParameterError(
            f"Peer options peer_keys={peer_keys!r}, min_group_size={min_group_size!r} "
            f"are not valid: {exc}"
        ) from exc
    return definition.model_copy(update={"peer_groups": peer})


def _clean(values) -> np.ndarray:
    v = np.asarray(values, dtype=float).ravel()
    return v[~np.isnan(v)]


def _at(benchmarks: pd.DataFrame, as_of) -> pd.DataFrame:
    dates = pd.to_datetime(benchmarks["as_of"])
    wanted = dates.max() if as_of is None else pd.Timestamp(as_of)
    return benchmarks[dates == wanted]


def _quantile_matrix(table: pd.DataFrame) -> pd.DataFrame:
    return table.set_index([*_GROUP, "quantile"])["value"].unstack("quantile")


def _members(table: pd.DataFrame) -> pd.Series:
    first = table[table["quantile"] == 0]
    return first.set_index(_GROUP)["member_count"].astype(float)
