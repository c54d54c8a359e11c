"""From a data source to a stored score history: ``healthlab score``.

:func:`score_source` opens a source, checks it against the data contract,
computes the raw metrics of every index at each as-of date, refreshes the
peer benchmarks (or uses a pinned version), scores, detects alerts and
writes everything into the store in one transaction per table group.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from healthlab.alerts import detect_alerts
from healthlab.asof import month_ends, parse_as_of_dates
from healthlab.contract import validate_source
from healthlab.definition import ScoreDefinition, load_definition
from healthlab.definition_benchmarks import build_definition_benchmarks
from healthlab.engine import open_source
from healthlab.errors import SourceError, StoreError
from healthlab.indices import compute_raw_metrics
from healthlab.scoring import score_raw_metrics
from healthlab.store import Store

__all__ = [
    "ScoreSummary",
    "benchmark_source",
    "compare_definitions",
    "data_period",
    "default_as_of_dates",
    "score_source",
    "summarise_scores",
]

logger = logging.getLogger("healthlab")


@dataclass
class ScoreSummary:
    """What a scoring run did, printable as a small report.

    Attributes
    ----------
    per_as_of : pandas.DataFrame
        One row per as-of date: ``accounts``, ``scored``, ``mean_coverage``,
        ``mean_score`` and one share column per category.
    """

    definition_version: str
    benchmark_version: str
    store_path: Path
    per_as_of: pd.DataFrame
    alerts: int
    dropped_rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    exported: list[Path] = field(default_factory=list)
    step_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def as_of_dates(self) -> list[pd.Timestamp]:
        return list(self.per_as_of["as_of"])

    def __str__(self) -> str:
        table = self.per_as_of.copy()
        table["as_of"] = table["as_of"].dt.strftime("%Y-%m-%d")
        shares = [c for c in table.columns if c.startswith("share_")]
        formats = {c: "{:.1%}".format for c in ["mean_coverage", *shares]}
        formats["mean_score"] = "{:.1f}".format
        body = table.to_string(index=False, formatters=formats)
        dropped = sum(self.dropped_rows.values())
        lines = [
            f"Scored {len(table)} as-of date(s) with definition "
            f"{self.definition_version!r} against benchmark "
            f"{self.benchmark_version!r} into {str(self.store_path)!r}.",
            body,
            f"alerts: {self.alerts}    dropped rows: {dropped}    "
            f"time: {self.seconds:.1f} s",
        ]
        if self.step_seconds:
            steps = ", ".join(f"{k} {v:.1f} s" for k, v in self.step_seconds.items())
            lines.append(f"steps: {steps}")
        lines += [f"exported: {p}" for p in self.exported]
        return "\n".join(lines)


def data_period(source) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last session start of a source (UTC, naive)."""
    sessions = source.tables["sessions"]
    row = sessions.aggregate(
        first=sessions.started_at.min(), last=sessions.started_at.max()
    ).to_pandas()
    first, last = row["first"].iloc[0], row["last"].iloc[0]
    if pd.isna(first):
        raise SourceError(f"Table 'sessions' of {source.location!r} has no rows.")
    first, last = pd.Timestamp(first), pd.Timestamp(last)
    if first.tzinfo is not None:
        first, last = first.tz_convert(None), last.tz_convert(None)
    return first, last


def default_as_of_dates(source, definition) -> list[pd.Timestamp]:
    """Snapshot labels over the data period, as the definition spaces them.

    ``snapshot_interval: monthly`` gives the month ends from the first to
    the last session; a number of days ``n`` gives every ``n``-th day
    counted back from the last session's day.
    """
    first, last = data_period(source)
    interval = definition.snapshot_interval
    if interval == "monthly":
        return month_ends(first, last)
    end, start = last.normalize(), first.normalize()
    count = int((end - start).days // interval)
    return [end - pd.Timedelta(days=interval * k) for k in range(count, -1, -1)]


def summarise_scores(scores: pd.DataFrame, definition) -> pd.DataFrame:
    """Accounts, scored count, mean coverage, mean score and category shares."""
    grouped = scores.groupby("as_of", sort=True)
    out = pd.DataFrame(
        {
            "accounts": grouped.size(),
            "scored": grouped["score"].count(),
            "mean_coverage": grouped["coverage"].mean(),
            "mean_score": grouped["score"].mean(),
        }
    )
    for cat in definition.categories:
        hits = scores[scores["category"] == cat.label].groupby("as_of").size()
        out[f"share_{cat.label}"] = hits.reindex(out.index, fill_value=0) / out[
            "scored"
        ].where(out["scored"] > 0)
    return out.reset_index()


def score_source(
    source_path,
    *,
    definition=None,
    as_of_dates=None,
    store_path,
    benchmark_version: str | None = None,
    engine: str = "duckdb",
    export=None,
    export_format: str = "parquet",
    backfill: bool = False,
) -> ScoreSummary:
    """Score a data source at every as-of date and store the histories.

    Parameters
    ----------
    source_path : str or Path
        Folder of tables, ``.duckdb`` file or ibis URL (see
        :func:`healthlab.engine.open_source`).
    definition : ScoreDefinition, str or Path, optional
        The score definition or its YAML file (default: the packaged one).
    as_of_dates : list of date-like, optional
        Default: the month ends of the data period (first to last session).
    store_path : str or Path
        The ``healthlab.duckdb`` file (or its folder).
    benchmark_version : str, optional
        Pin a stored benchmark version; default refreshes benchmarks from
        this source into a new version.
    engine : {'duckdb', 'spark'}
        Engine of the event-level work.
    export : str or Path, optional
        Folder to export the score, index, metric and alert histories to.
    export_format : {'parquet', 'csv'}
    backfill : bool, default False
        Rescore the whole history under this definition, as its own
        version: unless `as_of_dates` is given, every as-of date stored in
        the store under any definition version (the default dates when the
        store holds no score). The run is recorded as a backfill, so it does
        not change which definition was in use at each date
        (:meth:`healthlab.store.Store.definitions_in_use`).

    Returns
    -------
    ScoreSummary

    Notes
    -----
    Rescoring an as-of date replaces its rows for this definition version
    (idempotent). Alerts are recomputed over the stored history of the
    definition version, so consecutive snapshots scored in separate runs
    still compare. The definition's column mapping is not applied here.
    """
    started = time.perf_counter()
    start_stamp = pd.Timestamp.now(tz="UTC")
    steps: dict[str, float] = {}
    clock = [started]

    def lap(name: str) -> None:
        now = time.perf_counter()
        steps[name] = now - clock[0]
        clock[0] = now

    store = Store(store_path)
    if backfill and as_of_dates is None:
        as_of_dates = store.scored_as_of_dates() or None
    definition, source, as_of_dates, accounts, raw = _prepare(
        source_path, definition, as_of_dates, engine
    )
    lap("check and raw metrics")
    store.write_definition(definition)
    if benchmark_version is None:
        table = build_definition_benchmarks(raw, accounts, definition, as_of_dates)
        benchmark_version = store.write_benchmarks(
            table,
            definition_version=definition.version,
            description=f"{source.location}: {len(as_of_dates)} as-of dates",
        )
        logger.info("benchmarks: new version %s", benchmark_version)
    bench = store.read_benchmarks(benchmark_version)
    lap("benchmarks")
    result = score_raw_metrics(
        raw, accounts, definition, bench, benchmark_version=benchmark_version
    )
    lap("scoring")

    # alerts over the whole stored series of this definition version
    scores_all, indices_all = _with_history(store, result)
    alerts = detect_alerts(scores_all, indices_all, definition)
    alerts = alerts[alerts["as_of"].isin(result.scores["as_of"].unique())]
    lap("alerts")
    store.write_scores(result.scores, result.indices, result.metrics, alerts)
    lap("store")

    exported = []
    if export is not None:
        exported = store.export(export, fmt=export_format)
    summary = ScoreSummary(
        definition_version=definition.version,
        benchmark_version=benchmark_version,
        store_path=store.path,
        per_as_of=summarise_scores(result.scores, definition),
        alerts=len(alerts),
        dropped_rows=dict(source.dropped_rows),
        seconds=time.perf_counter() - started,
        exported=exported,
        step_seconds=steps,
    )
    store.record_run(
        uuid.uuid4().hex[:12],
        "score",
        start_stamp,
        {
            "source": str(source.location),
            "definition_version": definition.version,
            "benchmark_version": benchmark_version,
            "as_of_dates": [d.date().isoformat() for d in as_of_dates],
            "accounts_scored": int(result.scores["score"].notna().sum()),
            "alerts": len(alerts),
            "dropped_rows": summary.dropped_rows,
            "backfill": bool(backfill),
        },
    )
    return summary


def _prepare(source_path, definition, as_of_dates, engine):
    # definition, checked source, as-of dates, accounts and raw metrics
    if not isinstance(definition, ScoreDefinition):
        definition = load_definition(definition)
    source = open_source(source_path, engine=engine)
    source = validate_source(source, drop_invalid=definition.drop_invalid_rows)
    if as_of_dates is None:
        as_of_dates = default_as_of_dates(source, definition)
    as_of_dates = parse_as_of_dates(as_of_dates)
    logger.info(
        "raw metrics of %d as-of dates of %s", len(as_of_dates), source.location
    )
    accounts = source.tables["accounts"].to_pandas()
    accounts["account_id"] = accounts["account_id"].astype(str)
    raw = compute_raw_metrics(source, as_of_dates, definition)
    return definition, source, as_of_dates, accounts, raw


def benchmark_source(
    source_path,
    *,
    definition=None,
    as_of_dates=None,
    store_path,
    version: str | None = None,
    engine: str = "duckdb",
) -> str:
    """Refresh the peer benchmarks from a source: ``healthlab benchmarks refresh``.

    Computes the raw metrics at each as-of date (default: the month ends of
    the data period) and writes them as a new benchmark version, atomically;
    older versions are untouched. Returns the new version's name, which
    :func:`score_source` can pin.
    """
    definition, source, dates, accounts, raw = _prepare(
        source_path, definition, as_of_dates, engine
    )
    store = Store(store_path)
    store.write_definition(definition)
    table = build_definition_benchmarks(raw, accounts, definition, dates)
    return store.write_benchmarks(
        table,
        version=version,
        definition_version=definition.version,
        description=f"{source.location}: {len(dates)} as-of dates",
    )


def _with_history(store: Store, result):
    # stored snapshots of the same definition version, other as-of dates
    old_scores = store.read_scores(result.definition_version)
    if old_scores.empty:
        return result.scores, result.indices
    new_dates = set(result.scores["as_of"].unique())
    old_scores = old_scores[~old_scores["as_of"].isin(new_dates)]
    if old_scores.empty:
        return result.scores, result.indices
    old_indices = store.read_indices(result.definition_version)
    old_indices = old_indices[~old_indices["as_of"].isin(new_dates)]
    scores = pd.concat([old_scores, result.scores], ignore_index=True)
    indices = pd.concat([old_indices, result.indices], ignore_index=True)
    return scores, indices


def compare_definitions(store, version_a: str, version_b: str) -> pd.DataFrame:
    """Compare two definition versions on the as-of dates both scored.

    Parameters
    ----------
    store : Store, str or Path
        The store (or its path) holding both score histories, e.g. after
        ``healthlab score --definition NEW --backfill``.
    version_a, version_b : str
        The definition versions to compare.

    Returns
    -------
    pandas.DataFrame
        One row per common as-of date: ``accounts`` (scored under both),
        ``mean_score_a``, ``mean_score_b``, ``share_<label>_a`` and
        ``share_<label>_b`` per category label of either version,
        ``changed_category`` (share of those accounts whose category
        differs) and ``rank_correlation``.

    Notes
    -----
    Only accounts with a score under both versions count. The rank
    correlation is Spearman's: the Pearson correlation of the average
    ranks of the two scores across accounts at that date.
    """
    if not isinstance(store, Store):
        store = Store(store)
    keys = ["as_of", "account_id"]
    cols = [*keys, "score", "category"]
    a = store.read_scores(version_a)[cols]
    b = store.read_scores(version_b)[cols]
    for version, frame in ((version_a, a), (version_b, b)):
        if frame.empty:
            known = list(store.read_table("definitions")["version"])
            raise StoreError(
                f"Table 'score_history' of {str(store.path)!r} has no score of "
                f"definition {version!r}; stored definitions: {known}."
            )
    both = a.merge(b, on=keys, suffixes=("_a", "_b"))
    both = both[both["score_a"].notna() & both["score_b"].notna()]
    labels = list(dict.fromkeys([*a["category"].dropna(), *b["category"].dropna()]))
    rows = []
    for as_of, day in both.groupby("as_of", sort=True):
        row = {
            "as_of": as_of,
            "accounts": len(day),
            "mean_score_a": day["score_a"].mean(),
            "mean_score_b": day["score_b"].mean(),
        }
        for label in labels:
            row[f"share_{label}_a"] = (day["category_a"] == label).mean()
            row[f"share_{label}_b"] = (day["category_b"] == label).mean()
        row["changed_category"] = (day["category_a"] != day["category_b"]).mean()
        row["rank_correlation"] = day["score_a"].rank().corr(day["score_b"].rank())
        rows.append(row)
    return pd.DataFrame(rows)
