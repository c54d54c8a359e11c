"""Loyalty index: continuity of use, the complement of user drop-out."""

from __future__ import annotations

import functools
import operator

import ibis

from healthlab.indices.params import LoyaltyParams
from healthlab.indices.rollup import (
    IndexContext,
    column,
    reasons,
    to_long,
    user_days,
    window_join,
)

__all__ = ["compute_loyalty"]

# above this many snapshots the per-snapshot filter costs more than it saves
_MAX_PREFILTER = 64


def _is_last_before(days: ibis.Table, t: int, lookback: int, dropout: int):
    # the user-day is in [t - L, t - D) and the user's next one is not
    return (
        (days.day >= t - lookback)
        & (days.day < t - dropout)
        & (days.next_day.isnull() | (days.next_day >= t - dropout))
    )


def compute_loyalty(ctx: IndexContext, params: LoyaltyParams):
    """Share of earlier-active users still active, per account and as-of date.

    Returns
    -------
    pandas.DataFrame
        Long rows for ``loyalty`` and ``base_users``.

    Notes
    -----
    With T the snapshot day, L = `lookback_days` (120) and D =
    `dropout_days` (30), the base is the users active on some day of
    [T - L, T - D); a base user with no session in [T - D, T) dropped out,
    and loyalty = 1 - dropped / base = retained / base. Fewer than
    `min_users` base users: ``no_base_users`` (none) or ``too_few_users``.
    Loyalty is benchmarked within the app type (in scoring).
    """
    lookback, dropout = params.lookback_days, params.dropout_days
    days = user_days(ctx)
    # each base user's last active day before T - D; its next active day
    # (the first one on or after T - D) says whether the user came back.
    # Few user-days are the last before some T - D: keep only those first
    # (one condition per snapshot), then join them to their snapshots.
    snapshots = sorted({int(t) for t in ctx.as_of_days})
    if 0 < len(snapshots) <= _MAX_PREFILTER:
        days = days.filter(
            functools.reduce(
                operator.or_,
                [_is_last_before(days, t, lookback, dropout) for t in snapshots],
            )
        )
    last = window_join(days, ctx, lookback, dropout)
    last = last.filter(
        last.next_day.isnull() | (last.next_day >= last.as_of_day - dropout)
    )
    came_back = last.next_day.notnull() & (last.next_day < last.as_of_day)
    expr = last.group_by("as_of_day", "acc").aggregate(
        base_users=last.count(),
        retained=ibis.ifelse(came_back, 1, 0).sum(),
    )
    frame = ctx.execute(expr)

    base = column(frame, "base_users", 0.0)
    retained = column(frame, "retained", 0.0)
    enough = base >= params.min_users
    loyalty = retained / base.clip(min=1.0)
    loyalty[~enough] = float("nan")
    n = len(frame)
    why = reasons([base == 0, ~enough], ["no_base_users", "too_few_users"], n)
    return to_long(
        frame,
        "loyalty",
        {"loyalty": (loyalty, why), "base_users": (base, [None] * n)},
        lookback,
    )
