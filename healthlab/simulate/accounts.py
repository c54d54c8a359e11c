"""Account-level part of the synthetic world: attributes, latent signals, churn.

Everything here is drawn once for the whole world (thousands of rows), before
the event tables are generated chunk by chunk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from healthlab.simulate.params import SIGNALS, SIZE_BANDS, WorldParams

__all__ = ["Timeline", "AccountFrame", "draw_accounts", "US_PER_DAY", "NO_CHURN"]

US_PER_DAY = 86_400 * 1_000_000
# sentinel churn instant of an account that never churns (beyond any data)
NO_CHURN = np.iinfo(np.int64).max

_NAME_FIRST = (
    "Amber", "Birch", "Cobalt", "Delta", "Ember", "Fjord", "Granite", "Harbor",
    "Indigo", "Juniper", "Kestrel", "Lumen", "Maple", "Nimbus", "Orchid",
    "Pioneer", "Quartz", "Riverside", "Summit", "Tidal", "Upland", "Vertex",
    "Willow", "Zephyr",
)  # fmt: skip
_NAME_SECOND = (
    "Analytics", "Bakery", "Clinics", "Dynamics", "Foods", "Freight", "Games",
    "Health", "Learning", "Logistics", "Media", "Motors", "Outfitters",
    "Partners", "Robotics", "Studios", "Systems", "Travel",
)  # fmt: skip
_NAME_SUFFIX = ("Inc", "Ltd", "Group", "Co", "LLC")
_PLANS = ("starter", "growth", "enterprise")


@dataclass(frozen=True)
class Timeline:
    """The data period as integer microseconds since the epoch (UTC).

    Attributes
    ----------
    start_us, end_us : int
        The period ``[start, end)``.
    bounds : numpy.ndarray
        ``months + 1`` calendar-month boundaries, ``bounds[0] == start_us``.
    """

    start_us: int
    end_us: int
    bounds: np.ndarray

    @classmethod
    def from_start(cls, start, months: int) -> Timeline:
        first = pd.Timestamp(start)
        first = first.tz_localize("UTC") if first.tzinfo is None else first
        edges = pd.date_range(first, periods=months + 1, freq=pd.DateOffset(months=1))
        bounds = edges.as_unit("us").asi8.astype(np.int64)
        return cls(int(bounds[0]), int(bounds[-1]), bounds)

    @property
    def months(self) -> int:
        return len(self.bounds) - 1


@dataclass
class AccountFrame:
    """Account-level arrays of the world, one entry per account.

    ``latent`` has shape ``(accounts, months, len(SIGNALS))``; ``life_end_us``
    is the churn instant, or the period's end for a surviving account.
    """

    ids: np.ndarray
    names: np.ndarray
    csm: np.ndarray
    industry: np.ndarray
    size: np.ndarray
    web: np.ndarray
    plan: np.ndarray
    arr: np.ndarray
    created_us: np.ndarray
    churn_us: np.ndarray
    life_end_us: np.ndarray
    latent: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, rows: slice) -> AccountFrame:
        """Return the accounts in `rows` (a slice) as a new frame."""
        return AccountFrame(**{k: v[rows] for k, v in vars(self).items()})


def draw_accounts(
    rng: np.random.Generator, n: int, timeline: Timeline, params: WorldParams
) -> AccountFrame:
    """Draw attributes, creation instants, latent signals and churn of `n` accounts.

    Notes
    -----
    Churn follows a piecewise-constant hazard per calendar month ``m``:
    ``h = base_monthly_hazard * exp(sum_k beta_k z_k[m])`` per month, applied
    to the part of the month the account exists; the churn instant is uniform
    within the month it falls in. Accounts created before the period are
    alive at its start (a world observed from then on).
    """
    width = max(5, len(str(n)))
    ids = np.array([f"A{i:0{width}d}" for i in range(1, n + 1)], dtype=object)

    # peer-group attributes and commercial fields
    size = rng.choice(3, size=n, p=np.asarray(params.size_shares))
    industry = rng.integers(0, len(params.industries), size=n)
    web = rng.random(n) < params.web_share
    csm = rng.integers(0, len(params.csms), size=n)
    plan = np.minimum(size + (rng.random(n) < 0.2), 2)
    arr = np.round(
        np.asarray(params.arr_median)[size] * np.exp(0.4 * rng.standard_normal(n)), 2
    )

    # creation: most accounts before the period, some during it
    young = rng.random(n) < params.young_share
    before = timeline.start_us - (
        rng.random(n) * params.history_days * US_PER_DAY
    ).astype(np.int64)
    span = params.young_span * (timeline.end_us - timeline.start_us)
    during = timeline.start_us + (rng.random(n) * span).astype(np.int64)
    created = np.where(young, during, before) // 1_000_000 * 1_000_000

    latent = _draw_latent(rng, n, timeline.months, params)
    churn = _draw_churn(rng, created, latent, timeline, params)
    return AccountFrame(
        ids=ids,
        names=_draw_names(rng, n),
        csm=np.asarray(params.csms, dtype=object)[csm],
        industry=np.asarray(params.industries, dtype=object)[industry],
        size=size,
        web=web,
        plan=np.asarray(_PLANS, dtype=object)[plan],
        arr=arr,
        created_us=created,
        churn_us=churn,
        life_end_us=np.minimum(churn, timeline.end_us),
        latent=latent,
    )


def size_band_names(size: np.ndarray) -> np.ndarray:
    """Map size codes 0, 1, 2 to the size-band labels."""
    return np.asarray(SIZE_BANDS, dtype=object)[size]


def _draw_names(rng: np.random.Generator, n: int) -> np.ndarray:
    # plain two-word company names with a legal suffix; a number only when
    # the combinations run out
    combos = len(_NAME_FIRST) * len(_NAME_SECOND) * len(_NAME_SUFFIX)
    order = rng.permutation(combos)
    names = []
    for i in range(n):
        code = int(order[i % combos])
        first, rest = divmod(code, len(_NAME_SECOND) * len(_NAME_SUFFIX))
        second, suffix = divmod(rest, len(_NAME_SUFFIX))
        name = f"{_NAME_FIRST[first]} {_NAME_SECOND[second]} {_NAME_SUFFIX[suffix]}"
        names.append(name if i < combos else f"{name} {i // combos + 1}")
    return np.array(names, dtype=object)


def _draw_latent(
    rng: np.random.Generator, n: int, months: int, params: WorldParams
) -> np.ndarray:
    # correlated standard-normal shocks: a common factor plus an own part
    k = len(SIGNALS)
    c, rho = params.common_share, params.latent_rho

    def shocks():
        common = rng.standard_normal((n, 1))
        return np.sqrt(c) * common + np.sqrt(1 - c) * rng.standard_normal((n, k))

    # stationary AR(1) per signal with standard normal margins
    z = np.empty((n, months, k))
    z[:, 0] = shocks()
    for m in range(1, months):
        z[:, m] = rho * z[:, m - 1] + np.sqrt(1 - rho**2) * shocks()
    return z


def _draw_churn(
    rng: np.random.Generator,
    created: np.ndarray,
    latent: np.ndarray,
    timeline: Timeline,
    params: WorldParams,
) -> np.ndarray:
    beta = np.array([params.coefficients.get(s, 0.0) for s in SIGNALS])
    log_hazard = np.log(params.base_monthly_hazard) + latent @ beta
    churn = np.full(len(created), NO_CHURN, dtype=np.int64)
    alive = np.ones(len(created), dtype=bool)
    for m in range(timeline.months):
        lo_m, hi_m = timeline.bounds[m], timeline.bounds[m + 1]

        # exposure: the part of month m during which the account exists
        lo = np.maximum(created, lo_m)
        exposure = np.clip((hi_m - lo) / (hi_m - lo_m), 0.0, 1.0)
        p = 1.0 - np.exp(-np.exp(log_hazard[:, m]) * exposure)
        u = rng.random(len(created))
        hit = alive & (exposure > 0) & (u < p)

        # churn instant uniform over the exposed part of the month, whole seconds
        when = lo + (rng.random(len(created)) * (hi_m - lo)).astype(np.int64)
        churn[hit] = when[hit] // 1_000_000 * 1_000_000
        alive &= ~hit
    return churn


def exposure_bounds(
    acc: AccountFrame, timeline: Timeline
) -> tuple[np.ndarray, np.ndarray]:
    """Per account and calendar month, the instants ``[lo, hi)`` it exists.

    Returns two ``(accounts, months)`` arrays; ``hi <= lo`` where the account
    does not exist in that month (not yet created, or churned).
    """
    b = timeline.bounds
    lo = np.maximum(acc.created_us[:, None], b[None, :-1])
    hi = np.minimum(acc.life_end_us[:, None], b[None, 1:])
    return lo, hi


def draw_monthly_events(
    rng: np.random.Generator,
    acc: AccountFrame,
    timeline: Timeline,
    per_month,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Poisson events per account at `per_month` events per full month.

    Parameters
    ----------
    per_month : float or numpy.ndarray
        Rate per month of existence, scalar or one value per account.

    Returns
    -------
    account, month, instant : numpy.ndarray
        Account row, calendar month and instant (whole seconds, us) of each
        event, ordered by account then time.
    """
    lo, hi = exposure_bounds(acc, timeline)
    length = np.maximum(hi - lo, 0)
    month_len = np.diff(timeline.bounds)[None, :]
    rate = np.broadcast_to(np.asarray(per_month, dtype=float), (len(acc),))[:, None]
    counts = rng.poisson(rate * length / month_len)

    # events uniform over the existing part of each month
    flat = np.repeat(np.arange(counts.size), counts.ravel())
    account, month = np.divmod(flat, timeline.months)
    when = lo.ravel()[flat] + (rng.random(flat.size) * length.ravel()[flat]).astype(
        np.int64
    )
    when = when // 1_000_000 * 1_000_000
    order = np.lexsort((when, account))
    return account[order], month[order], when[order]


def latent_at(
    acc: AccountFrame,
    signal: str,
    account: np.ndarray,
    when: np.ndarray,
    timeline: Timeline,
) -> np.ndarray:
    """Latent `signal` of each event's account at its instant.

    Notes
    -----
    The monthly value is placed at the middle of its month and interpolated
    linearly in between (held flat before the first and after the last
    middle), so metrics drift within a month instead of jumping.
    """
    series = acc.latent[:, :, SIGNALS.index(signal)]
    b = timeline.bounds
    last = timeline.months - 1
    m = np.minimum(np.maximum(np.searchsorted(b, when, side="right") - 1, 0), last)
    x = m + (when - b[m]) / (b[m + 1] - b[m]) - 0.5
    floor = np.floor(x)
    w = x - floor
    below = floor.astype(np.int64)
    lo = np.minimum(np.maximum(below, 0), last)
    hi = np.minimum(np.maximum(below + 1, 0), last)
    return (1.0 - w) * series[account, lo] + w * series[account, hi]
