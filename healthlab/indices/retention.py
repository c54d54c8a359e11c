"""Retention index: cohort analysis of users coming back."""

from __future__ import annotations

import ibis
import numpy as np

from healthlab.indices.params import RetentionParams
from healthlab.indices.rollup import IndexContext, column, reasons, to_long, user_days

__all__ = ["compute_retention"]


def _user_returns(ctx: IndexContext, params: RetentionParams) -> ibis.Table:
    # per user: cohort day (first active day) and, per interval k, whether the
    # user was active on any day of [cohort + k, cohort + k + activity_days)
    days = user_days(ctx)
    cohorts = days.group_by("acc", "user_id").aggregate(cohort=days.day.min())
    # only cohorts some snapshot counts, [min T - C, max T - min k - a), and
    # the days from the earliest of them on: most users of a long history
    # drop out before the join
    first = min(ctx.as_of_days) - params.cohort_window_days
    last = max(ctx.as_of_days) - min(params.intervals) - params.activity_days
    cohorts = cohorts.filter(cohorts.cohort >= first, cohorts.cohort < last)
    days = days.filter(days.day >= first).join(cohorts, ["acc", "user_id"])
    offset = days.day - days.cohort
    # only the cohort day and the days inside some return window matter
    ks = params.intervals
    days = days.filter(
        (offset == 0)
        | ((offset >= min(ks)) & (offset < max(ks) + params.activity_days))
    )
    offset = days.day - days.cohort
    returns = {
        f"r{k}": ibis.ifelse(
            (offset >= k) & (offset < k + params.activity_days), 1, 0
        ).max()
        for k in params.intervals
    }
    return days.group_by("acc", "user_id", "cohort").aggregate(**returns)


def compute_retention(ctx: IndexContext, params: RetentionParams):
    """Cohort return shares per interval and their weighted composite.

    Parameters
    ----------
    ctx : IndexContext
    params : RetentionParams

    Returns
    -------
    pandas.DataFrame
        Long rows for ``composite`` and, per interval k, ``share_<k>d`` and
        ``eligible_<k>d`` (eligible users).

    Notes
    -----
    A user's cohort c is the first day the user was active. With T the
    snapshot day, C = `cohort_window_days` (180) and a = `activity_days`
    (7), the users eligible for interval k are those with
    c in [T - C, T - k - a); the share for k is the fraction of them active
    on some day of [c + k, c + k + a). Every such window ends before T, so
    the snapshot uses past data only. The composite is
    sum(w_k * share_k) / sum(w_k) over the intervals with at least
    `min_eligible_users` eligible users (defaults: intervals 7, 14, 28, 56,
    84 days; weights 1, 1, 2, 2, 3; 5 users); no such interval gives
    ``too_few_users``.
    """
    users = _user_returns(ctx, params)
    a, c = params.activity_days, params.cohort_window_days
    # the snapshots whose cohort window [T - C, T - min k - a) holds the
    # cohort day: an equi-join with the day map, not a range join
    cohort_days = ctx.day_map(c, min(params.intervals) + a)
    joined = users.join(cohort_days, users.cohort == cohort_days.day)
    sums = {}
    for k in params.intervals:
        eligible = joined.cohort < joined.as_of_day - k - a
        sums[f"eligible_{k}"] = ibis.ifelse(eligible, 1, 0).sum()
        sums[f"returned_{k}"] = ibis.ifelse(eligible, joined[f"r{k}"], 0).sum()
    frame = ctx.execute(joined.group_by("as_of_day", "acc").aggregate(**sums))

    n = len(frame)
    metrics = {}
    weighted = np.zeros(n)
    weight = np.zeros(n)
    for k, w in zip(params.intervals, params.weights, strict=True):
        eligible = column(frame, f"eligible_{k}", 0.0)
        returned = column(frame, f"returned_{k}", 0.0)
        enough = eligible >= params.min_eligible_users
        # share of eligible users active again k days after their cohort day
        share = np.where(enough, returned / np.where(enough, eligible, 1.0), np.nan)
        weighted += np.where(enough, w * np.nan_to_num(share), 0.0)
        weight += np.where(enough, w, 0.0)
        few = reasons([~enough], ["too_few_users"], n)
        metrics[f"share_{k}d"] = (share, few)
        metrics[f"eligible_{k}d"] = (eligible, [None] * n)
    composite = np.where(
        weight > 0, weighted / np.where(weight > 0, weight, 1.0), np.nan
    )
    metrics = {
        "composite": (composite, reasons([weight == 0], ["too_few_users"], n)),
        **metrics,
    }
    return to_long(frame, "retention", metrics, c)
