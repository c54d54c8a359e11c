"""Rating index (mobile apps): mean app-store stars."""

from __future__ import annotations

import numpy as np

from healthlab.indices.params import RatingParams
from healthlab.indices.rollup import (
    IndexContext,
    column,
    day_number,
    reasons,
    to_long,
    window_join,
)

__all__ = ["compute_rating"]


def compute_rating(ctx: IndexContext, params: RatingParams):
    """Mean stars and number of ratings per mobile account and as-of date.

    Returns
    -------
    pandas.DataFrame
        Long rows for ``mean_stars`` and ``n_ratings``.

    Notes
    -----
    mean_stars = mean of ``stars`` over the ratings of [T - W, T), W =
    `window_days` (90). Scoring shrinks it toward the peer mean m with a
    prior worth k = `prior_ratings` (10) ratings:
    (n * mean_stars + k * m) / (n + k). Web accounts get ``not_mobile``; no
    rating in the window gives ``no_ratings``.
    """
    frame = ctx.skeleton.assign(stars_sum=np.nan, n=0.0)
    ratings = ctx.keyed("ratings")
    if ratings is not None:
        # small table: join the rows to their snapshots, no rollup
        rows = ratings.select(
            "acc", "stars", day=day_number(ratings.rated_at, ctx.con.name)
        )
        days = window_join(rows, ctx, params.window_days)
        frame = ctx.execute(
            days.group_by("as_of_day", "acc").aggregate(
                stars_sum=days.stars.sum(), n=days.count()
            )
        )
    count = column(frame, "n", 0.0)
    web = frame["app_type"].to_numpy() != "mobile"
    mean = column(frame, "stars_sum") / np.where(count > 0, count, np.nan)
    mean[web] = np.nan
    m = len(frame)
    why = reasons([web, count == 0], ["not_mobile", "no_ratings"], m)
    return to_long(
        frame,
        "rating",
        {"mean_stars": (mean, why), "n_ratings": (count, [None] * m)},
        params.window_days,
    )
