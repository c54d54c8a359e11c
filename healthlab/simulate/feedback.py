"""Account-level event tables: ratings, NPS, touchpoints, rapport, custom metrics.

These tables grow with accounts and months, not with sessions. Each one is
driven by one latent signal: ratings by ``performance`` (mobile accounts),
NPS scores and response rates by ``nps``, touchpoint cancellations and
rapport by ``relationship`` and the custom metric ``integrations`` by
``integrations``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, logit

from healthlab.simulate.accounts import (
    US_PER_DAY,
    AccountFrame,
    Timeline,
    draw_monthly_events,
)
from healthlab.simulate.params import SIGNALS, WorldParams

__all__ = [
    "PERSONAS",
    "draw_ratings",
    "draw_nps",
    "draw_touchpoints",
    "draw_rapport",
    "draw_integrations",
]

PERSONAS: tuple[str, ...] = (
    "decision_maker",
    "champion",
    "business_user",
    "economic_buyer",
)


def _signal(acc: AccountFrame, name: str, account, month) -> np.ndarray:
    return acc.latent[account, month, SIGNALS.index(name)]


def _rounded_scale(values: np.ndarray, low: float, high: float) -> np.ndarray:
    return np.clip(np.round(values), low, high)


def draw_ratings(rng, acc: AccountFrame, timeline: Timeline, params: WorldParams):
    """App-store ratings of mobile accounts.

    Notes
    -----
    ``ratings_per_month[size]`` ratings per month; stars are
    ``round(N(stars_mean + stars_effect * z_performance, stars_sd))``
    clipped to 1-5.
    """
    rate = np.asarray(params.ratings_per_month)[acc.size] * ~acc.web
    account, month, when = draw_monthly_events(rng, acc, timeline, rate)
    mean = params.stars_mean + params.stars_effect * _signal(
        acc, "performance", account, month
    )
    stars = _rounded_scale(
        mean + params.stars_sd * rng.standard_normal(when.size), 1, 5
    )
    return {"account": account, "rated_us": when, "stars": stars}


def draw_nps(
    rng, acc: AccountFrame, timeline: Timeline, params: WorldParams, n_users
) -> tuple[dict, dict]:
    """NPS invitations and the responses to them.

    Parameters
    ----------
    n_users : numpy.ndarray
        Number of users of each account, to name the responding user.

    Notes
    -----
    ``invitations_per_month[size]`` invitations per month; each is answered
    with probability ``expit(logit(response_rate) + response_effect * z)``
    after an exponential delay (mean ``response_delay_days``), with score
    ``round(N(nps_mean + nps_effect * z, nps_sd))`` clipped to 0-10, where
    ``z`` is the nps signal in the month of the invitation.
    """
    rate = np.asarray(params.invitations_per_month)[acc.size]
    account, month, sent = draw_monthly_events(rng, acc, timeline, rate)
    z = _signal(acc, "nps", account, month)

    # who answers, and when (before churn and the period's end)
    answers = rng.random(sent.size) < expit(
        logit(params.response_rate) + params.response_effect * z
    )
    delay = rng.exponential(params.response_delay_days * US_PER_DAY, size=sent.size)
    responded = (sent + delay.astype(np.int64)) // 1_000_000 * 1_000_000
    answers &= responded < acc.life_end_us[account]

    # the score, and a user and persona of the account
    noise = params.nps_sd * rng.standard_normal(sent.size)
    score = _rounded_scale(params.nps_mean + params.nps_effect * z + noise, 0, 10)
    user = 1 + np.floor(rng.random(sent.size) * np.maximum(n_users[account], 1))
    persona = rng.integers(0, len(PERSONAS), size=sent.size)
    order = np.lexsort((responded[answers], account[answers]))
    responses = {
        "account": account[answers][order],
        "responded_us": responded[answers][order],
        "score": score[answers][order],
        "user": user.astype(np.int64)[answers][order],
        "persona": persona[answers][order],
    }
    return {"account": account, "sent_us": sent}, responses


def draw_touchpoints(rng, acc: AccountFrame, timeline: Timeline, params: WorldParams):
    """CSM touchpoints, held or cancelled.

    Notes
    -----
    ``touchpoints_per_month[size]`` per month; a touchpoint is cancelled with
    probability ``expit(logit(cancel_share) - cancel_effect * z_relationship)``.
    """
    rate = np.asarray(params.touchpoints_per_month)[acc.size]
    account, month, when = draw_monthly_events(rng, acc, timeline, rate)
    weights = np.asarray(params.touchpoint_kind_weights)
    kind = rng.choice(len(params.touchpoint_kinds), size=when.size, p=weights)
    z = _signal(acc, "relationship", account, month)
    cancelled = rng.random(when.size) < expit(
        logit(params.cancel_share) - params.cancel_effect * z
    )
    return {
        "account": account,
        "occurred_us": when,
        "kind": kind,
        "cancelled": cancelled,
    }


def draw_rapport(rng, acc: AccountFrame, timeline: Timeline, params: WorldParams):
    """The CSM's rapport ratings of the account's personas.

    Notes
    -----
    ``rapport_per_month`` ratings per month, each of a random persona,
    ``round(N(rapport_mean + rapport_effect * z_relationship, rapport_sd))``
    clipped to 1-5.
    """
    account, month, when = draw_monthly_events(
        rng, acc, timeline, params.rapport_per_month
    )
    persona = rng.integers(0, len(PERSONAS), size=when.size)
    mean = params.rapport_mean + params.rapport_effect * _signal(
        acc, "relationship", account, month
    )
    rating = _rounded_scale(
        mean + params.rapport_sd * rng.standard_normal(when.size), 1, 5
    )
    return {"account": account, "rated_us": when, "persona": persona, "rating": rating}


def draw_integrations(rng, acc: AccountFrame, timeline: Timeline, params: WorldParams):
    """Weekly measurements of the custom metric ``integrations``.

    Notes
    -----
    Measured every 7 days from the start of the period at an hour of the
    day fixed per account, while the account exists; the value is
    ``Poisson(integrations_mean * exp(integrations_effect * z))`` with ``z``
    the integrations signal of the month.
    """
    weeks = -(-(timeline.end_us - timeline.start_us) // (7 * US_PER_DAY))
    hour = rng.integers(0, 24, size=len(acc)) * 3_600_000_000
    grid = timeline.start_us + np.arange(weeks) * 7 * US_PER_DAY
    when = grid[None, :] + hour[:, None]
    alive = (when >= acc.created_us[:, None]) & (when < acc.life_end_us[:, None])
    account = np.nonzero(alive)[0]
    when = when[alive]
    month = np.searchsorted(timeline.bounds, when, side="right") - 1
    z = _signal(acc, "integrations", account, month)
    value = rng.poisson(
        params.integrations_mean * np.exp(params.integrations_effect * z)
    )
    return {"account": account, "measured_us": when, "value": value.astype(np.float64)}
