"""Relationship indices: CSM touchpoints and the CSM's rapport ratings."""

from __future__ import annotations

import ibis
import numpy as np

from healthlab.indices.params import RelationshipParams
from healthlab.indices.rollup import (
    IndexContext,
    column,
    day_number,
    reasons,
    to_long,
    window_join,
)

__all__ = ["compute_touchpoints", "compute_rapport"]


def compute_touchpoints(ctx: IndexContext, params: RelationshipParams):
    """Touchpoints held per 90 days and share of planned ones cancelled.

    Returns
    -------
    pandas.DataFrame
        Long rows of index ``touchpoints_held`` (metric ``value``) and of
        ``touchpoint_cancellations`` (``value``, ``n_planned``).

    Notes
    -----
    Over [T - W, T) (W = `window_days`, 90), with h touchpoints held and c
    cancelled: touchpoints_held = h * 90 / W, and
    touchpoint_cancellations = c / (h + c), unavailable
    (``no_touchpoints``) when nothing was planned. Without the touchpoints
    table both are unavailable (``no_table``).
    """
    w = params.window_days
    frame = ctx.skeleton
    table = ctx.keyed("touchpoints")
    if table is not None:
        rows = table.select(
            "status", "acc", day=day_number(table.occurred_at, ctx.con.name)
        )
        days = window_join(rows, ctx, w)
        frame = ctx.execute(
            days.group_by("as_of_day", "acc").aggregate(
                held=ibis.ifelse(days.status == "held", 1, 0).sum(),
                cancelled=ibis.ifelse(days.status == "cancelled", 1, 0).sum(),
            )
        )
    m = len(frame)
    absent = np.full(m, table is None)
    held = np.zeros(m) if table is None else column(frame, "held", 0.0)
    cancelled = np.zeros(m) if table is None else column(frame, "cancelled", 0.0)
    planned = held + cancelled
    held_rate = np.where(absent, np.nan, held * 90.0 / w)
    share = np.where(
        planned > 0, cancelled / np.where(planned > 0, planned, 1.0), np.nan
    )
    none = reasons([absent, planned == 0], ["no_table", "no_touchpoints"], m)
    return [
        to_long(
            frame,
            "touchpoints_held",
            {"value": (held_rate, reasons([absent], ["no_table"], m))},
            w,
        ),
        to_long(
            frame,
            "touchpoint_cancellations",
            {
                "value": (share, none),
                "n_planned": (np.where(absent, np.nan, planned), none),
            },
            w,
        ),
    ]


def compute_rapport(ctx: IndexContext, params: RelationshipParams):
    """Mean over personas of each persona's latest rapport rating.

    Returns
    -------
    pandas.DataFrame
        Long rows of index ``rapport``: ``value`` and ``n_personas``.

    Notes
    -----
    For each persona, the latest rating of [T - A, T) (A =
    `rapport_max_age_days`, 365; ties on the timestamp go to the higher
    rating); rapport = the mean of those ratings over the personas rated.
    No rating in the window: ``no_rapport``.
    """
    frame = ctx.skeleton
    table = ctx.keyed("rapport")
    if table is not None:
        rows = table.select(
            "acc",
            "persona",
            "rated_at",
            "rating",
            day=day_number(table.rated_at, ctx.con.name),
        )
        days = window_join(rows, ctx, params.rapport_max_age_days)
        rank = ibis.row_number().over(
            group_by=["as_of_day", "acc", "persona"],
            order_by=[days.rated_at.desc(), days.rating.desc()],
        )
        latest = days.mutate(rank=rank).filter(ibis._.rank == 0)
        frame = ctx.execute(
            latest.group_by("as_of_day", "acc").aggregate(
                value=latest.rating.mean(), n_personas=ibis._.count()
            )
        )
    m = len(frame)
    value = column(frame, "value") if "value" in frame else np.full(m, np.nan)
    personas = (
        column(frame, "n_personas", 0.0) if "n_personas" in frame else np.zeros(m)
    )
    why = reasons(
        [np.full(m, table is None), personas == 0], ["no_table", "no_rapport"], m
    )
    return to_long(
        frame,
        "rapport",
        {"value": (value, why), "n_personas": (personas, [None] * m)},
        params.rapport_max_age_days,
    )
