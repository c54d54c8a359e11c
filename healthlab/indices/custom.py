"""Custom indices: any table and column, aggregated over a window."""

from __future__ import annotations

import ibis
import numpy as np

from healthlab.errors import MissingColumnError
from healthlab.indices.params import CustomIndexParams
from healthlab.indices.rollup import (
    IndexContext,
    column,
    day_number,
    reasons,
    to_long,
    window_join,
)
from healthlab.tables import EVENT_TIME_COLUMN

__all__ = ["compute_custom"]


def _rows(ctx: IndexContext, params: CustomIndexParams):
    # the declared source rows as (acc, day, at, v)
    table = ctx.table(params.table)
    time_column = params.time_column or EVENT_TIME_COLUMN.get(params.table)
    needed = ["account_id", time_column]
    if params.aggregation != "count":
        needed.append(params.column)
    missing = [c for c in needed if c is None or c not in table.columns]
    if missing:
        raise MissingColumnError(
            f"Custom index {params.name!r} reads table {params.table!r}, which "
            f"lacks column(s) {missing}; set `column`/`time_column` in its "
            "definition."
        )
    if params.table == "custom_metrics":
        table = table.filter(table.metric == params.metric)
    table = ctx.keyed_view(table)
    value = (
        ibis.literal(1.0)
        if params.aggregation == "count"
        else table[params.column].cast("float64")
    )
    rows = table.select(
        "acc",
        at=table[time_column],
        day=day_number(table[time_column], ctx.con.name),
        v=value,
    )
    return rows.filter(rows.v.notnull())


def compute_custom(ctx: IndexContext, params: CustomIndexParams):
    """One declared custom index per account and as-of date.

    Returns
    -------
    pandas.DataFrame
        Long rows with metric ``value``.

    Notes
    -----
    The rows of the source in [T - W, T) (W = `window_days`) are reduced by
    the aggregation: count (0 when there is none), sum, mean, min, max, or
    last (the value with the latest timestamp; ties go to the larger
    value). Without rows the value is unavailable, ``no_values``; without
    the source table, ``no_table``.
    """
    agg = params.aggregation
    frame = ctx.skeleton.assign(n=np.nan)
    if ctx.table(params.table) is not None:
        rows = _rows(ctx, params)
        daily = rows.group_by("acc", "day").aggregate(
            n=ibis._.count(), s=rows.v.sum(), lo=rows.v.min(), hi=rows.v.max()
        )
        if agg == "last":
            rank = ibis.row_number().over(
                group_by=["acc", "day"], order_by=[rows.at.desc(), rows.v.desc()]
            )
            lasts = rows.mutate(rank=rank).filter(ibis._.rank == 0)
            daily = daily.join(lasts.select("acc", "day", last=lasts.v), ["acc", "day"])
        days = window_join(daily, ctx, params.window_days)
        if agg == "last":
            rank = ibis.row_number().over(
                group_by=["as_of_day", "acc"], order_by=days.day.desc()
            )
            days = days.mutate(rank=rank)
            final = days.filter(days.rank == 0).select("as_of_day", "acc", "last")
            frame = ctx.execute(final)
        else:
            frame = ctx.execute(
                days.group_by("as_of_day", "acc").aggregate(
                    n=days.n.sum(), s=days.s.sum(), lo=days.lo.min(), hi=days.hi.max()
                )
            )
    count = column(frame, "n", 0.0) if "n" in frame else np.zeros(len(frame))
    if agg == "count":
        value = count if ctx.table(params.table) is not None else np.nan * count
    elif agg == "last":
        value = column(frame, "last") if "last" in frame else np.nan * count
    elif agg == "mean":
        value = column(frame, "s") / np.where(count > 0, count, np.nan)
    else:
        value = column(frame, {"sum": "s", "min": "lo", "max": "hi"}[agg])
    m = len(frame)
    why = reasons(
        [np.full(m, ctx.table(params.table) is None), np.isnan(value)],
        ["no_table", "no_values"],
        m,
    )
    return to_long(frame, params.name, {"value": (value, why)}, params.window_days)
