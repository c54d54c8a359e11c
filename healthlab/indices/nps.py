"""NPS index: net promoter score, its change and the response rate."""

from __future__ import annotations

import ibis
import numpy as np

from healthlab.indices.params import NpsParams
from healthlab.indices.rollup import (
    IndexContext,
    column,
    day_number,
    reasons,
    to_long,
    window_join,
)

__all__ = ["compute_nps"]


def compute_nps(ctx: IndexContext, params: NpsParams):
    """NPS over the reporting period, its change and the response rate.

    Returns
    -------
    pandas.DataFrame
        Long rows for ``nps``, ``change``, ``n_responses`` and
        ``response_rate``.

    Notes
    -----
    With W = `window_days` (90), the period is [T - W, T) and the previous
    period [T - 2W, T - W). For n responses with P scores >= 9 and D scores
    <= 6, NPS = 100 * (P - D) / n; fewer than `min_responses` (3) gives
    ``too_few_responses`` (``no_responses`` for none).
    change = NPS - previous NPS (``too_few_previous_responses`` when the
    previous period lacks responses). response_rate = n / invitations sent
    in the period, where ``nps_invitations`` has an ``account_id``
    (``no_invitations`` otherwise).
    """
    w = params.window_days
    frame = ctx.skeleton
    responses = ctx.keyed("nps_responses")
    if responses is not None:
        rows = responses.select(
            "acc",
            day=day_number(responses.responded_at, ctx.con.name),
            promoter=ibis.ifelse(responses.score >= params.promoter_min, 1, 0),
            detractor=ibis.ifelse(responses.score <= params.detractor_max, 1, 0),
        )
        days = window_join(rows, ctx, 2 * w)
        current = days.day >= days.as_of_day - w
        frame = ctx.execute(
            days.group_by("as_of_day", "acc").aggregate(
                n=ibis.ifelse(current, 1, 0).sum(),
                p=days.promoter.sum(where=current),
                d=days.detractor.sum(where=current),
                n_prev=ibis.ifelse(current, 0, 1).sum(),
                p_prev=days.promoter.sum(where=~current),
                d_prev=days.detractor.sum(where=~current),
            )
        )
    invitations = ctx.table("nps_invitations")
    sent = np.zeros(len(frame))
    if invitations is not None and "account_id" in invitations.columns:
        invitations = ctx.keyed("nps_invitations")
        rows = invitations.select(
            "acc", day=day_number(invitations.sent_at, ctx.con.name)
        )
        days = window_join(rows, ctx, w)
        sent_frame = ctx.execute(
            days.group_by("as_of_day", "acc").aggregate(sent=days.count())
        )
        sent = column(sent_frame, "sent", 0.0)

    def score(n, p, d):
        # share of promoters minus share of detractors, in points
        with np.errstate(divide="ignore", invalid="ignore"):
            value = 100.0 * (p - d) / n
        return np.where(n >= params.min_responses, value, np.nan)

    n = _get(frame, "n")
    nps = score(n, _get(frame, "p"), _get(frame, "d"))
    n_prev = _get(frame, "n_prev")
    prev = score(n_prev, _get(frame, "p_prev"), _get(frame, "d_prev"))
    rate = np.where(sent > 0, n / np.where(sent > 0, sent, 1.0), np.nan)
    m = len(frame)
    few = [n == 0, n < params.min_responses]
    few_codes = ["no_responses", "too_few_responses"]
    return to_long(
        frame,
        "nps",
        {
            "nps": (nps, reasons(few, few_codes, m)),
            "change": (
                nps - prev,
                reasons(
                    [*few, n_prev < params.min_responses],
                    [*few_codes, "too_few_previous_responses"],
                    m,
                ),
            ),
            "n_responses": (n, [None] * m),
            "response_rate": (rate, reasons([sent == 0], ["no_invitations"], m)),
        },
        2 * w,
    )


def _get(frame, name):
    return column(frame, name, 0.0) if name in frame.columns else np.zeros(len(frame))
