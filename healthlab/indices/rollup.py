"""Daily rollups and the as-of table every index is derived from.

Cost model
----------
Each event table is scanned once. Its ``account_id`` is first swapped for
an integer key (the account's position among the sorted ids, a hash join
with the small ``accounts`` table), so every later group and join is on
integers. Sessions, the big table, become one row per (account, user, UTC
day) with summed duration: a table of R rows materialised once (a
temporary table on DuckDB, stored in account order; a cached DataFrame on
Spark) and shared by duration, retention and loyalty. The other tables
(page loads, ratings, NPS, touchpoints, rapport, custom metrics) are read
by one query each that joins their rows straight to their snapshots and
sums per (snapshot, account), with no intermediate rollup.

Snapshots and windows come from an equi-join on the day number with a day
map of (snapshot, day) pairs, ``snapshots x window days`` rows
(:meth:`IndexContext.day_map`): a hash join with a tiny build side, not a
range join that would sort the rollup. Duration therefore costs
O(R x w / s) for windows of w days and snapshots s days apart (monthly
snapshots touch each row of a 30-day window about once). Retention joins
the rollup to each user's first day and reads one row per user per
snapshot. Loyalty's 120-day look-back is not joined at all: every day
carries one bit per snapshot whose window holds it, so one pass over the
rollup answers every snapshot. The whole computation is one pass over the
events, O(E), plus a few passes over the R rollup rows; it grows linearly
with events and, through the day maps, with the number of snapshots; the
events are never rescanned per snapshot. A call runs about a dozen
queries, a fixed cost that dominates inputs under a million sessions.

Days are integer UTC day numbers, ``floor(epoch seconds / 86400)``. An as-of
label d is taken at t = d + 1 day 00:00 UTC (:mod:`healthlab.asof`), so the
half-open window ``[t - n days, t)`` is exactly the day numbers
``[T - n, T)`` with ``T`` the day number of t, on every engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import ibis
import ibis.expr.datatypes as dt
import numpy as np
import pandas as pd

from healthlab.asof import as_of_instant, parse_as_of_dates
from healthlab.errors import MissingTableError

__all__ = [
    "IndexContext",
    "MetricBlock",
    "assemble",
    "build_context",
    "day_number",
    "fetch",
    "user_days",
]

_EPOCH = pd.Timestamp("1970-01-01", tz="UTC")


@ibis.udf.scalar.builtin(name="epoch_us")
def _epoch_us(ts: dt.Timestamp(timezone="UTC")) -> dt.int64:
    """DuckDB's microseconds since the epoch, without a time-zone cast."""


def day_number(ts: ibis.Value, engine: str | None = None) -> ibis.Value:
    """UTC day number of a timestamp column, ``floor(epoch seconds / 86400)``.

    On DuckDB (`engine` ``'duckdb'``) the day comes from ``epoch_us``
    directly: ibis' portable epoch first casts a zoned timestamp to a naive
    one, a per-row time-zone conversion that costs as much as the rest of
    the rollup's scan.
    """
    if engine == "duckdb":
        return (_epoch_us(ts) / 86_400_000_000).floor().cast("int64")
    return (ts.epoch_seconds() / 86_400).floor().cast("int64")


@dataclass
class IndexContext:
    """Everything the index modules share for one computation.

    Attributes
    ----------
    con : ibis backend
    tables : dict of str to ibis.Table
    as_of : ibis.Table
        One row per snapshot: ``as_of_day`` (day number T of the instant).
    skeleton : pandas.DataFrame
        One row per (as_of_day, account_id) present at that snapshot, with
        ``as_of`` (label), ``app_type`` and ``age_days`` (account age at t).
    as_of_days : tuple of int
        The snapshot day numbers T, in the order of the as-of labels
        (ascending).
    account_ids : numpy.ndarray
        The account ids, sorted; an account's position is its integer key
        ``acc`` (see :meth:`keyed`).
    """

    con: object
    tables: dict
    as_of: ibis.Table
    skeleton: pd.DataFrame
    as_of_days: tuple = ()
    account_ids: np.ndarray = field(default_factory=lambda: np.empty(0, object))
    _cache: dict = field(default_factory=dict)
    _keyed: dict = field(default_factory=dict)
    _positions: np.ndarray | None = None

    def day_map(self, start: int, end: int = 0) -> ibis.Table:
        """Pairs (``as_of_day``, ``day``) of every day in ``[T - start, T - end)``.

        A table of ``snapshots x (start - end)`` rows: joining a rollup to it
        on ``day`` is an equi-join with a tiny build side, which engines run
        as a hash (broadcast) join instead of a range join that sorts the
        rollup.
        """
        snapshots = np.asarray(self.as_of_days, dtype="int64")
        offsets = np.arange(-start, -end, dtype="int64")
        return self.small_table(
            f"day_map_{start}_{end}",
            lambda: pd.DataFrame(
                {
                    "as_of_day": np.repeat(snapshots, len(offsets)),
                    "day": (snapshots[:, None] + offsets[None, :]).ravel(),
                }
            ),
        )

    def small_table(self, key: str, build) -> ibis.Table:
        """The pandas frame ``build()`` as a materialised engine table.

        Materialised rather than left as an in-memory view, so the engine
        knows its size and builds its hash joins on it, not on the rollup.
        """
        return self.cached(key, lambda: ibis.memtable(build()))

    def table(self, name: str):
        return self.tables.get(name)

    def keyed(self, name: str) -> ibis.Table | None:
        """Table `name` with the integer account key ``acc`` for ``account_id``.

        Grouping and joining on a small integer instead of a string id makes
        every query over the rollups several times cheaper; the key is the
        account's position in :attr:`account_ids`. Rows of accounts missing
        from ``accounts`` drop out (they have no snapshot). None when the
        source lacks the table.
        """
        table = self.tables.get(name)
        if table is None:
            return None
        if name not in self._keyed:
            self._keyed[name] = self.keyed_view(table)
        return self._keyed[name]

    def keyed_view(self, table: ibis.Table) -> ibis.Table:
        """`table` (with ``account_id``) keyed by ``acc``, as :meth:`keyed`."""
        accounts = self.small_table(
            "account_map",
            lambda: pd.DataFrame(
                {
                    "account_key": self.account_ids,
                    "acc": np.arange(len(self.account_ids), dtype="int64"),
                }
            ),
        )
        key = table.account_id
        if not key.type().is_string():
            key = key.cast("string")
        joined = table.join(accounts, key == accounts.account_key)
        return joined.drop("account_key", "account_id")

    def cached(self, key: str, build):
        """Materialise the expression ``build()`` once and reuse it."""
        if key not in self._cache:
            expr = build()
            # ibis' Spark cache does not register the in-memory tables the
            # expression reads (the account map); executing does
            register = getattr(self.con, "_run_pre_execute_hooks", None)
            if register is not None:
                register(expr)
            # what ``expr.cache()`` runs, on this context's backend: an
            # expression reading only in-memory tables has none of its own
            self._cache[key] = self.con._cached_table(expr)
        return self._cache[key]

    def release(self) -> None:
        """Drop the materialised rollups."""
        for table in self._cache.values():
            try:
                table.release()
            except Exception:  # noqa: BLE001 - best effort on every backend
                pass
        self._cache.clear()

    def execute(self, expr: ibis.Table) -> pd.DataFrame:
        """Run an account-level expression and align it on the skeleton.

        `expr` has columns ``as_of_day`` and ``acc`` (the integer account
        key), one row per pair at most; skeleton rows absent from it get NaN
        (None for text) in its other columns.
        """
        return self.align(fetch(expr))

    def align(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Align a frame keyed by ``as_of_day`` and ``acc``, as :meth:`execute`."""
        if self._positions is None:
            snapshot = np.searchsorted(self.as_of_days, self.skeleton["as_of_day"])
            positions = np.full((len(self.as_of_days), len(self.account_ids)), -1)
            positions[snapshot, self.skeleton["acc"].to_numpy()] = np.arange(
                len(self.skeleton)
            )
            self._positions = positions
        snapshot = np.searchsorted(
            self.as_of_days, frame["as_of_day"].to_numpy(dtype="int64")
        )
        rows = self._positions[snapshot, frame["acc"].to_numpy(dtype="int64")]
        present = rows >= 0
        rows = rows[present]
        out = self.skeleton.copy(deep=False)
        for name in frame.columns.difference(["as_of_day", "acc"], sort=False):
            values = frame[name].to_numpy()[present]
            if values.dtype.kind in "biuf":
                aligned = np.full(len(out), np.nan)
            else:
                aligned = np.full(len(out), None, dtype=object)
            aligned[rows] = values
            out[name] = aligned
        return out


def fetch(expr: ibis.Table) -> pd.DataFrame:
    """The result of `expr` as a pandas frame, converted by Arrow.

    Nulls become NaN in numeric columns and None in text ones. ibis'
    ``to_pandas`` turns every column holding a null into a Python list
    first, which costs more than the query for a few hundred thousand
    account rows.
    """
    return expr.to_pyarrow().to_pandas()


def build_context(source, as_of_dates) -> IndexContext:
    """Open the as-of table and the account skeleton for `as_of_dates`.

    An account appears at a snapshot when it was created before the instant
    t and has not churned before t.
    """
    labels = parse_as_of_dates(as_of_dates)
    instants = [as_of_instant(label) for label in labels]
    days = [(t - _EPOCH) // pd.Timedelta(days=1) for t in instants]

    tables = dict(source.tables)
    if "accounts" not in tables:
        raise MissingTableError(
            "Table 'accounts' is missing from the source; the indices need it "
            "to know which accounts exist at each as-of date."
        )
    accounts = (
        tables["accounts"].select("account_id", "app_type", "created_at").to_pandas()
    )
    accounts["account_id"] = accounts["account_id"].astype(str)
    accounts = accounts.drop_duplicates("account_id").sort_values(
        "account_id", kind="stable", ignore_index=True
    )
    accounts["acc"] = np.arange(len(accounts), dtype="int64")
    accounts["created_at"] = _utc(accounts["created_at"])
    churned = pd.Series(
        pd.NaT, index=accounts.index, dtype=accounts["created_at"].dtype
    )
    if "churn" in tables:
        churn = tables["churn"].select("account_id", "churned_at").to_pandas()
        churn["account_id"] = churn["account_id"].astype(str)
        churn["churned_at"] = _utc(churn["churned_at"])
        first = churn.dropna().groupby("account_id")["churned_at"].min()
        churned = accounts["account_id"].map(first)

    parts = []
    for label, instant, day in zip(labels, instants, days, strict=True):
        alive = (accounts["created_at"] < instant) & ~(churned < instant)
        part = accounts.loc[alive, ["account_id", "acc", "app_type"]].copy()
        part["age_days"] = (
            (instant - accounts.loc[alive, "created_at"]) / pd.Timedelta(days=1)
        ).to_numpy(dtype=float)
        part["as_of"] = label
        part["as_of_day"] = np.int64(day)
        parts.append(part)
    skeleton = pd.concat(parts, ignore_index=True)
    skeleton["as_of"] = pd.to_datetime(skeleton["as_of"]).astype("datetime64[ns]")

    as_of = ibis.memtable(pd.DataFrame({"as_of_day": np.asarray(days, dtype="int64")}))
    return IndexContext(
        source.con,
        tables,
        as_of,
        skeleton,
        tuple(days),
        accounts["account_id"].to_numpy(dtype=object),
    )


def _utc(values: pd.Series) -> pd.Series:
    values = pd.to_datetime(values)
    if values.dt.tz is None:
        return values.dt.tz_localize("UTC")
    return values.dt.tz_convert("UTC")


def user_days(ctx: IndexContext) -> ibis.Table:
    """Sessions rolled up per (account, user, day).

    Columns: ``acc`` (integer account key), ``user_id``, ``day`` and
    ``usage_s`` (summed duration). Materialised once and shared by
    duration, retention and loyalty.
    """

    def build():
        sessions = ctx.keyed("sessions")
        daily = (
            sessions.mutate(day=day_number(sessions.started_at, ctx.con.name))
            .group_by("acc", "user_id", "day")
            .aggregate(usage_s=sessions.duration_s.sum())
        )
        if ctx.con.name == "duckdb":
            # stored in account order: DuckDB keeps insertion order, and the
            # per-account medians and per-user joins downstream run faster on
            # clustered rows than the sort costs; nothing needs the days in
            # order, and a sort on the account key alone is the cheaper one
            daily = daily.order_by("acc")
        return daily

    return ctx.cached("user_days", build)


def window_join(rollup: ibis.Table, ctx: IndexContext, start: int, end: int = 0):
    """Rows of `rollup` in the window ``[T - start, T - end)`` of each snapshot.

    Returns the rollup columns plus ``as_of_day``; a row appears once per
    snapshot whose window holds it. The join is an equi-join on ``day``
    with :meth:`IndexContext.day_map`.
    """
    return rollup.join(ctx.day_map(start, end), "day")


def reasons(conditions: list, codes: list[str], n: int) -> np.ndarray:
    """Reason code per row: the first code whose condition holds, else None."""
    out = np.full(n, None, dtype=object)
    for condition, code in zip(reversed(conditions), reversed(codes), strict=True):
        out[np.asarray(condition, dtype=bool)] = code
    return out


@dataclass
class MetricBlock:
    """The metrics of one index, aligned on the skeleton of a context.

    Attributes
    ----------
    index : str
    metrics : list of str
    values : numpy.ndarray
        Shape ``(len(metrics), n)`` for the n skeleton rows; NaN when
        unavailable.
    why : numpy.ndarray
        Reason codes, same shape, None where a value is present.
    partial : numpy.ndarray
        Boolean per skeleton row: the account is younger than the window.
    """

    index: str
    metrics: list
    values: np.ndarray
    why: np.ndarray
    partial: np.ndarray


def to_long(frame: pd.DataFrame, index: str, metrics: dict, window_days: float):
    """The metrics of one index as a :class:`MetricBlock`.

    Parameters
    ----------
    frame : pandas.DataFrame
        Skeleton-aligned frame (``account_id``, ``as_of``, ``age_days``),
        in skeleton order.
    metrics : dict of str to (values, reasons)
        Values (NaN when unavailable) and reason codes per metric.
    window_days : float
        The index's look-back; a younger account is flagged ``partial``.
    """
    n, k = len(frame), len(metrics)
    values = np.empty((k, n), dtype=float)
    why = np.empty((k, n), dtype=object)
    for i, (metric_values, metric_why) in enumerate(metrics.values()):
        values[i] = np.asarray(metric_values, dtype=float)
        why[i] = np.asarray(metric_why, dtype=object)
    # a value is either there or unavailable with a reason, never both
    nan = np.isnan(values)
    why[~nan] = None
    why[nan & pd.isna(why)] = "unavailable"
    partial = frame["age_days"].to_numpy() < window_days
    return MetricBlock(index, list(metrics), values, why, partial)


def assemble(blocks: list, skeleton: pd.DataFrame) -> pd.DataFrame:
    """Long rows of every block, sorted by account, as-of, index and metric.

    The order comes from one sort of the skeleton rows and one of the
    (index, metric) names; the long frame is then gathered with array
    indexing, never sorted itself.
    """
    for block in blocks:
        if block.values.shape[1] != len(skeleton):
            raise RuntimeError(
                f"Index {block.index!r} has {block.values.shape[1]} rows for "
                f"{len(skeleton)} accounts and as-of dates; a query returned "
                "duplicate (as_of_day, account_id) keys."
            )
    rows = skeleton.sort_values(["account_id", "as_of_day"], kind="stable").index
    rows = rows.to_numpy()
    names = [
        (b.index, m, i, j)
        for i, b in enumerate(blocks)
        for j, m in enumerate(b.metrics)
    ]
    names.sort(key=lambda name: (name[0], name[1]))
    n, k = len(rows), len(names)
    values = np.empty((n, k), dtype=float)
    why = np.empty((n, k), dtype=object)
    partial = np.empty((n, k), dtype=bool)
    for col, (_, _, i, j) in enumerate(names):
        values[:, col] = blocks[i].values[j, rows]
        why[:, col] = blocks[i].why[j, rows]
        partial[:, col] = blocks[i].partial[rows]
    out = pd.DataFrame(
        {
            "account_id": np.repeat(
                skeleton["account_id"].to_numpy(dtype=object)[rows], k
            ),
            "as_of": np.repeat(skeleton["as_of"].to_numpy()[rows], k),
            "index": np.tile(np.array([x[0] for x in names], dtype=object), n),
            "metric": np.tile(np.array([x[1] for x in names], dtype=object), n),
            "value": values.ravel(),
            "reason": why.ravel(),
            "partial": partial.ravel(),
        }
    )
    out["as_of"] = out["as_of"].astype("datetime64[ns]")
    return out


def column(frame: pd.DataFrame, name: str, fill: float = np.nan) -> np.ndarray:
    """A float column of a skeleton-aligned frame, NaN (or `fill`) when absent."""
    values = frame[name].to_numpy(dtype=float, na_value=np.nan)
    return np.where(np.isnan(values), fill, values)
