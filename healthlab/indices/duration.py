"""Duration index: how long active users spend in the product each day."""

from __future__ import annotations

import ibis
import numpy as np

from healthlab.indices.params import DurationParams
from healthlab.indices.rollup import (
    IndexContext,
    column,
    reasons,
    to_long,
    user_days,
    window_join,
)

__all__ = ["compute_duration"]


def compute_duration(ctx: IndexContext, params: DurationParams):
    """Level and trend of daily usage per account and as-of date.

    Parameters
    ----------
    ctx : IndexContext
    params : DurationParams

    Returns
    -------
    pandas.DataFrame
        Long rows for metrics ``level`` (hours), ``trend`` and
        ``active_user_days``.

    Notes
    -----
    Daily usage u of a user on a day is the sum of ``duration_s`` of the
    sessions the user started that day, in hours. With T the snapshot day,
    W = `window_days` (30) and H = `trend_days` (15):

    - level = median of u over the active user-days in [T - W, T);
    - trend = log(median over [T - H, T) / median over [T - W, T - W + H)).

    Medians are exact (the mean of the two middle values for even counts).
    No active user-day in the window: ``no_sessions``. A trend half without
    active user-days: ``no_sessions_in_half``; a zero median in a half:
    ``zero_usage``.
    """
    w, h = params.window_days, params.trend_days
    days = window_join(user_days(ctx), ctx, w)
    hours = days.usage_s / 3600.0
    recent = days.day >= days.as_of_day - h
    earlier = days.day < days.as_of_day - w + h
    expr = days.group_by("as_of_day", "acc").aggregate(
        level=hours.median(),
        # nulls outside the half; median(where=...) mis-compiles on Spark
        recent=ibis.ifelse(recent, hours, ibis.null("float64")).median(),
        earlier=ibis.ifelse(earlier, hours, ibis.null("float64")).median(),
        active_user_days=days.count(),
    )
    frame = ctx.execute(expr)

    level = column(frame, "level")
    recent_m, earlier_m = column(frame, "recent"), column(frame, "earlier")
    n = len(frame)
    none = np.isnan(level)
    half_missing = np.isnan(recent_m) | np.isnan(earlier_m)
    zero = (recent_m == 0) | (earlier_m == 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        trend = np.log(recent_m / earlier_m)
    trend = np.where(half_missing | zero, np.nan, trend)

    return to_long(
        frame,
        "duration",
        {
            "level": (level, reasons([none], ["no_sessions"], n)),
            "trend": (
                trend,
                reasons(
                    [none, half_missing, zero],
                    ["no_sessions", "no_sessions_in_half", "zero_usage"],
                    n,
                ),
            ),
            "active_user_days": (column(frame, "active_user_days", 0.0), [None] * n),
        },
        w,
    )
