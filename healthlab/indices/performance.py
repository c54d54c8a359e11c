"""Performance index (web apps): page load time and load success."""

from __future__ import annotations

import ibis.expr.datatypes as dt
import numpy as np
import pandas as pd

from healthlab.indices.params import PerformanceParams
from healthlab.indices.rollup import (
    IndexContext,
    column,
    day_number,
    fetch,
    reasons,
    to_long,
    window_join,
)

__all__ = ["compute_performance", "page_loads_window"]


_EXACT = dt.Decimal(38, 10)


def page_loads_window(ctx: IndexContext, params: PerformanceParams, by_page: bool):
    """Account-level (or page-level) page-load sums over the window.

    The page loads are joined to their snapshots by day and summed per
    (snapshot, account): one pass, no intermediate rollup, and far fewer
    groups than a per-day rollup would have.

    Returns
    -------
    pandas.DataFrame or None
        Columns ``as_of_day``, ``acc`` (and ``account_id``, ``page`` by
        page), ``load_ms_sum``, ``n_loads``, ``requested``, ``loaded``; None
        without page loads.
    """
    loads = ctx.keyed("page_loads")
    if loads is None:
        return None
    keys = ["acc", "page"] if by_page else ["acc"]
    rows = loads.select(
        *keys,
        "load_ms",
        "items_requested",
        "items_loaded",
        day=day_number(loads.loaded_at, ctx.con.name),
    )
    days = window_join(rows, ctx, params.window_days)
    # Load times are summed as exact decimals (1e-10 ms resolution): a float
    # sum depends on the order the engine adds rows in, so DuckDB runs and
    # Spark would differ in the last bits.
    expr = days.group_by(["as_of_day", *keys]).aggregate(
        # as text: engines convert decimals to floats with their own rounding
        load_ms_sum=days.load_ms.cast(_EXACT).sum().cast("string"),
        n_loads=days.count(),
        requested=days.items_requested.sum(),
        loaded=days.items_loaded.sum(),
    )
    if by_page:
        frame = fetch(expr)
        frame["account_id"] = ctx.account_ids[frame["acc"].to_numpy(dtype="int64")]
    else:
        frame = ctx.execute(expr)
    # Python's float() of a decimal string is correctly rounded
    text = frame["load_ms_sum"].to_numpy(dtype=object)
    present = ~pd.isna(text)
    sums = np.full(len(text), np.nan)
    sums[present] = text[present].astype(float)
    frame["load_ms_sum"] = sums
    return frame


def compute_performance(ctx: IndexContext, params: PerformanceParams):
    """Mean load time and success share of page loads, web accounts only.

    Returns
    -------
    pandas.DataFrame
        Long rows for ``load_ms``, ``success_share`` and ``n_page_loads``.

    Notes
    -----
    Over the page loads of [T - W, T) (W = `window_days`, 30):
    load_ms = mean(load_ms) and
    success_share = sum(items_loaded) / sum(items_requested).
    Mobile accounts get ``not_web`` (Rating serves them); no page load in
    the window gives ``no_page_loads``; nothing requested gives
    ``no_items_requested``.
    """
    frame = page_loads_window(ctx, params, by_page=False)
    if frame is None:
        frame = ctx.skeleton.assign(load_ms_sum=np.nan, n_loads=0.0)
        frame["requested"] = frame["loaded"] = np.nan
    n = len(frame)
    loads = column(frame, "n_loads", 0.0)
    requested = column(frame, "requested", 0.0)
    mobile = frame["app_type"].to_numpy() != "web"
    none = loads == 0
    load_ms = column(frame, "load_ms_sum") / np.where(none, 1.0, loads)
    share = column(frame, "loaded") / np.where(requested > 0, requested, np.nan)
    load_ms[mobile | none] = np.nan
    share[mobile | none | (requested <= 0)] = np.nan
    return to_long(
        frame,
        "performance",
        {
            "load_ms": (
                load_ms,
                reasons([mobile, none], ["not_web", "no_page_loads"], n),
            ),
            "success_share": (
                share,
                reasons(
                    [mobile, none, requested <= 0],
                    ["not_web", "no_page_loads", "no_items_requested"],
                    n,
                ),
            ),
            "n_page_loads": (loads, [None] * n),
        },
        params.window_days,
    )


def page_figures(ctx: IndexContext, params: PerformanceParams) -> pd.DataFrame:
    """Per-page mean load time, success share and load count, for reports."""
    frame = page_loads_window(ctx, params, by_page=True)
    columns = [
        "account_id",
        "as_of",
        "page",
        "load_ms",
        "success_share",
        "n_page_loads",
    ]
    if frame is None or frame.empty:
        return pd.DataFrame(columns=columns)
    labels = ctx.skeleton[["as_of_day", "as_of"]].drop_duplicates()
    frame = frame.merge(labels, on="as_of_day")
    frame["load_ms"] = frame["load_ms_sum"] / frame["n_loads"]
    frame["success_share"] = frame["loaded"] / frame["requested"].where(
        frame["requested"] > 0
    )
    frame["n_page_loads"] = frame["n_loads"].astype("int64")
    return (
        frame[columns]
        .sort_values(["account_id", "as_of", "page"])
        .reset_index(drop=True)
    )
