"""Users, sessions and page loads of one chunk of accounts.

Users join an account over time and drop out for good; while present they
start sessions as a Poisson process. New users drop out at a rate driven by
the account's latent ``retention`` signal, established users by its
``loyalty`` signal; session length follows ``duration`` and page-load speed
and success follow ``performance``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from scipy.special import expit, logit

from healthlab.simulate.accounts import (
    US_PER_DAY,
    AccountFrame,
    Timeline,
    draw_monthly_events,
    latent_at,
)
from healthlab.simulate.params import SIGNALS, WorldParams

__all__ = [
    "UserFrame",
    "draw_users",
    "draw_sessions",
    "draw_page_loads",
    "label_array",
]

_STEP_US = 30 * US_PER_DAY


@dataclass
class UserFrame:
    """Users of a chunk, ordered by account then join instant.

    ``local`` numbers the users within their account (1, 2, ...); the user
    is present from ``join_us`` until ``end_us`` (dropout, churn or the end
    of the period, whichever comes first).
    """

    account: np.ndarray
    local: np.ndarray
    join_us: np.ndarray
    end_us: np.ndarray
    activity: np.ndarray


def draw_users(
    rng: np.random.Generator,
    acc: AccountFrame,
    timeline: Timeline,
    params: WorldParams,
) -> UserFrame:
    """Draw the users of the accounts in `acc`, their join and dropout instants.

    Notes
    -----
    An account existing before the period starts with
    ``Poisson(initial_users[size])`` users who joined during the previous
    year; a newer account starts with half as many in its first two weeks.
    New users arrive at ``new_users_per_month[size]``. In each 30-day step
    of a user's life, the user drops out with probability
    ``expit(logit(new_user_drop) - retention_effect * z_retention)`` during
    the first ``new_user_months`` steps and
    ``expit(logit(user_drop) - loyalty_effect * z_loyalty)`` afterwards.
    """
    start = timeline.start_us
    mean0 = np.asarray(params.initial_users)[acc.size]

    # initial pool: joined within the last year (or at creation)
    pre = acc.created_us < start
    n0 = rng.poisson(np.where(pre, mean0, 0.5 * mean0))
    a0 = np.repeat(np.arange(len(acc)), n0)
    lo = np.where(pre, np.maximum(acc.created_us, start - 365 * US_PER_DAY), 0)
    lo = np.where(pre, lo, acc.created_us)
    span = np.where(pre, start - lo, 14 * US_PER_DAY)
    j0 = lo[a0] + (rng.random(a0.size) * span[a0]).astype(np.int64)

    # arrivals during the period
    rate = np.asarray(params.new_users_per_month)[acc.size]
    a1, _, j1 = draw_monthly_events(rng, acc, timeline, rate)

    account = np.concatenate([a0, a1])
    join = np.concatenate([j0, j1]) // 1_000_000 * 1_000_000
    keep = join < acc.life_end_us[account]
    account, join = account[keep], join[keep]
    order = np.lexsort((join, account))
    account, join = account[order], join[order]

    drop = _draw_dropout(rng, acc, account, join, timeline, params)
    first = np.searchsorted(account, account, side="left")
    sd = params.user_activity_sd
    return UserFrame(
        account=account,
        local=np.arange(account.size) - first + 1,
        join_us=join,
        end_us=np.minimum(drop, acc.life_end_us[account]),
        activity=np.exp(sd * rng.standard_normal(account.size) - sd**2 / 2),
    )


def _draw_dropout(rng, acc, account, join, timeline, params) -> np.ndarray:
    start = timeline.start_us
    last = timeline.months - 1
    ret, loy = SIGNALS.index("retention"), SIGNALS.index("loyalty")
    drop = np.full(account.size, np.iinfo(np.int64).max, dtype=np.int64)

    # users present before the period are known to be present at its start
    step = np.maximum(0, (start - join) // _STEP_US)
    todo = np.arange(account.size)
    while todo.size:
        a, s = account[todo], step[todo]
        s0 = join[todo] + s * _STEP_US
        lo = np.maximum(s0, start)
        month = np.clip(np.searchsorted(timeline.bounds, lo, side="right") - 1, 0, last)

        # chance of dropping out during this 30-day step
        new = s < params.new_user_months
        z = np.where(new, acc.latent[a, month, ret], acc.latent[a, month, loy])
        base = np.where(new, logit(params.new_user_drop), logit(params.user_drop))
        effect = np.where(new, params.retention_effect, params.loyalty_effect)
        hit = rng.random(todo.size) < expit(base - effect * z)

        # dropout instant uniform over the observed part of the step
        s1 = s0 + _STEP_US
        when = lo + (rng.random(todo.size) * (s1 - lo)).astype(np.int64)
        drop[todo[hit]] = when[hit] // 1_000_000 * 1_000_000
        step[todo] += 1
        todo = todo[~hit & (s1 < acc.life_end_us[a])]
    return drop


def draw_sessions(
    rng: np.random.Generator,
    acc: AccountFrame,
    users: UserFrame,
    timeline: Timeline,
    params: WorldParams,
    sessions_per_user_month: float,
) -> dict[str, np.ndarray]:
    """Draw the sessions of `users`: account, user, start instant, duration.

    ``user`` is the row of the session's user in `users` (0, 1, ...).

    Notes
    -----
    A present user starts sessions at ``sessions_per_user_month`` times a
    log-normal activity multiplier (mean 1) per 30 days, uniformly in time;
    a user joining during the period has a session at the join instant, which
    fixes the cohort day. Duration in seconds is
    ``session_median_s * exp(duration_effect * z_duration + session_sd * N)``,
    clipped to [1, 86400], with ``z_duration`` interpolated at the start.
    """
    lo = np.maximum(users.join_us, timeline.start_us)
    length = np.maximum(users.end_us - lo, 0)
    rate = sessions_per_user_month * users.activity * length / _STEP_US
    counts = rng.poisson(rate)

    # Poisson sessions plus the first session of each user joining in-period
    user = np.repeat(np.arange(users.account.size), counts)
    when = lo[user] + (rng.random(user.size) * length[user]).astype(np.int64)
    joined = np.flatnonzero(
        (users.join_us >= timeline.start_us) & (users.join_us < users.end_us)
    )
    user = np.concatenate([user, joined])
    when = np.concatenate([when, users.join_us[joined]]) // 1_000_000 * 1_000_000
    account = users.account[user]

    # session length driven by the duration signal
    z = latent_at(acc, "duration", account, when, timeline)
    noise = params.session_sd * rng.standard_normal(user.size)
    seconds = params.session_median_s * np.exp(params.duration_effect * z + noise)
    seconds = np.round(np.minimum(np.maximum(seconds, 1.0), 86_400.0), 1)

    # order rows by account, then time: one sort on a packed key
    # (account in the high bits, whole seconds since the start in the low)
    seconds_in = (when - timeline.start_us) // 1_000_000
    order = np.argsort((account.astype(np.int64) << 32) | seconds_in)
    return {
        "account": account[order],
        "user": user[order],
        "started_us": when[order],
        "duration_s": seconds[order],
    }


def draw_page_loads(
    rng: np.random.Generator,
    acc: AccountFrame,
    sessions: dict[str, np.ndarray],
    timeline: Timeline,
    params: WorldParams,
) -> dict[str, np.ndarray]:
    """Draw page loads of the sessions of web accounts.

    Notes
    -----
    ``Poisson(page_loads_per_session)`` loads per web session within its
    first ten minutes. Load time in ms is
    ``load_median_ms * page_factor * exp(-load_effect * z + load_sd * N)``;
    ``items_requested = 1 + Poisson(items_mean - 1)`` and ``items_loaded`` is
    binomial with success ``expit(logit(success_base) + success_effect * z)``,
    where ``z`` is the performance signal at the load.
    """
    account_s = sessions["account"]
    web = acc.web[account_s]
    counts = rng.poisson(params.page_loads_per_session, size=account_s.size) * web
    src = np.repeat(np.arange(account_s.size), counts)
    account = account_s[src]
    offset = rng.random(src.size) * np.minimum(sessions["duration_s"][src], 600.0)
    when = sessions["started_us"][src] + (offset * 1e6).astype(np.int64)
    when = when // 1_000 * 1_000
    keep = when < acc.life_end_us[account]
    account, when = account[keep], when[keep]

    # pages and their speed, driven by the performance signal
    n = account.size
    weights = np.asarray(params.page_weights)
    page = rng.choice(len(params.pages), size=n, p=weights / weights.sum())
    z = latent_at(acc, "performance", account, when, timeline)
    factor = np.asarray(params.page_load_factor)[page]
    noise = params.load_sd * rng.standard_normal(n)
    load_ms = params.load_median_ms * factor * np.exp(-params.load_effect * z + noise)
    requested = 1 + rng.poisson(params.items_mean - 1.0, size=n)
    success = expit(logit(params.success_base) + params.success_effect * z)
    loaded = rng.binomial(requested, success)
    return {
        "account": account,
        "page": page,
        "loaded_us": when,
        "load_ms": np.round(load_ms, 1),
        "items_requested": requested.astype(np.float64),
        "items_loaded": loaded.astype(np.float64),
    }


def label_array(prefix: str, first: int, count: int) -> pa.Array:
    """String labels of the world-wide numbers ``first + 1 .. first + count``.

    Labels are ``prefix`` and the number zero-padded to nine digits
    (``u000000001``), so they sort like the numbers below a billion.
    """
    stop = first + count + 1
    return pa.array([f"{prefix}{i:09d}" for i in range(first + 1, stop)])
