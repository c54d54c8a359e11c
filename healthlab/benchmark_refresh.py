"""Refreshing peer benchmarks: a new version, or the identical stored one.

A scheduled job refreshes the benchmarks every month. The refresh computes
the raw metrics of the as-of dates, builds the benchmark table and writes it
as a new immutable version, unless a stored version has the same content
(:func:`benchmark_content_hash`), which it then reuses: running the refresh
twice for the same as-of date leaves one version. It also says which peer
level served each of the most specific peer groups
(:func:`peer_group_fallbacks`). How far the new version moved against the
previous one is :mod:`healthlab.drift`'s concern.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pandas as pd

from healthlab.benchmarks import (
    BENCHMARK_COLUMNS,
    BENCHMARK_KEY,
    assign_peer_groups,
    benchmarks_at,
    format_peer_group,
    format_peer_level,
)
from healthlab.definition_benchmarks import build_definition_benchmarks
from healthlab.errors import ParameterError

__all__ = [
    "BenchmarkRefresh",
    "benchmark_content_hash",
    "peer_group_fallbacks",
    "refresh_benchmark_version",
    "summarise_fallbacks",
]


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
    table = benchmarks_at(benchmarks, as_of)
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
    frame = frame.sort_values(BENCHMARK_KEY, ignore_index=True)
    rows = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return hashlib.sha256(rows.tobytes()).hexdigest()


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
