"""Parameters of the synthetic world: every knob the generator reads.

All of them are written to ``truth.json`` beside the generated tables, so a
world can be regenerated and a test can check that the recorded truth is the
truth the generator used.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

__all__ = ["WorldParams", "SIGNALS", "SIZE_BANDS", "TRUE_COEFFICIENTS"]

# Latent signals of an account, in the order of the latent array's last axis.
# The first six carry the index names a score definition uses; `relationship`
# drives touchpoints and rapport and has no effect on churn.
SIGNALS: tuple[str, ...] = (
    "duration",
    "retention",
    "performance",
    "loyalty",
    "nps",
    "integrations",
    "relationship",
)

SIZE_BANDS: tuple[str, ...] = ("small", "medium", "large")

# True effect on the monthly churn log-hazard of one standard deviation of each
# latent signal ("higher is healthier", hence negative). Distinct magnitudes
# so that a calibration can recover their ranking; `integrations` is inert.
TRUE_COEFFICIENTS: dict[str, float] = {
    "retention": -0.70,
    "duration": -0.55,
    "loyalty": -0.40,
    "nps": -0.28,
    "performance": -0.18,
    "integrations": 0.0,
}


def _coefficients() -> dict[str, float]:
    return dict(TRUE_COEFFICIENTS)


@dataclass(frozen=True)
class WorldParams:
    """Mechanism of the synthetic world (everything but its size and seed).

    Each latent signal is a monthly AR(1) series with standard normal margins,
    ``z[m] = rho * z[m-1] + sqrt(1 - rho**2) * e[m]``, whose innovations share
    a common factor, ``e = sqrt(c) * f + sqrt(1 - c) * u`` with
    ``c = common_share``. Observed metrics depend on the signal as stated
    beside each parameter; the churn hazard of calendar month ``m`` is
    ``base_monthly_hazard * exp(sum_k coefficients[k] * z_k[m])`` per month.

    Tuples indexed by size band follow :data:`SIZE_BANDS`.
    """

    # churn hazard and latent dynamics. Signals persist from month to month
    # and share little, so that an index read at a month end still measures
    # its own signal in the month that follows.
    coefficients: dict[str, float] = field(default_factory=_coefficients)
    base_monthly_hazard: float = 0.015
    latent_rho: float = 0.97
    common_share: float = 0.1

    # accounts
    industries: tuple[str, ...] = (
        "software",
        "retail",
        "healthcare",
        "finance",
        "education",
        "media",
        "logistics",
        "manufacturing",
    )
    size_shares: tuple[float, float, float] = (0.5, 0.35, 0.15)
    web_share: float = 0.6
    csms: tuple[str, ...] = (
        "Alice Moreau",
        "Bruno Silva",
        "Chen Wei",
        "Dana Kowalski",
        "Emeka Obi",
        "Farah Haddad",
        "Greta Lindqvist",
        "Hiro Tanaka",
        "Isabel Ruiz",
        "Jonas Becker",
        "Kavya Nair",
        "Liam O'Connor",
    )
    # accounts created in the `history_days` before the period, or (a share
    # `young_share`) during its first `young_span` fraction
    history_days: int = 1095
    young_share: float = 0.2
    young_span: float = 0.75
    arr_median: tuple[float, float, float] = (12_000.0, 60_000.0, 250_000.0)

    # users: initial pool, arrivals, dropout (logit scale). Enough arrivals
    # for every account to have retention cohorts of several users, and
    # dropout odds centred so that healthy and unhealthy accounts both differ
    # from the median one (no floor near zero dropout).
    initial_users: tuple[float, float, float] = (10.0, 30.0, 75.0)
    new_users_per_month: tuple[float, float, float] = (3.0, 8.0, 20.0)
    # a user younger than `new_user_months` drops per 30-day step with
    # probability expit(logit(new_user_drop) - retention_effect * z_retention)
    new_user_months: int = 2
    new_user_drop: float = 0.35
    retention_effect: float = 1.5
    # older users drop with expit(logit(user_drop) - loyalty_effect * z_loyalty)
    user_drop: float = 0.1
    loyalty_effect: float = 1.5
    # user-level spread of session frequency (sd of a log-normal multiplier)
    user_activity_sd: float = 0.25

    # sessions: frequency and log-normal duration
    sessions_per_user_month: float = 3.5
    session_median_s: float = 900.0
    duration_effect: float = 0.5
    session_sd: float = 0.6

    # page loads (web accounts): per session, log-normal load time, items
    page_loads_per_session: float = 1.0
    pages: tuple[str, ...] = (
        "/dashboard",
        "/reports",
        "/search",
        "/settings",
        "/users",
        "/billing",
        "/integrations",
        "/home",
    )
    page_weights: tuple[float, ...] = (0.3, 0.15, 0.15, 0.05, 0.05, 0.05, 0.05, 0.2)
    page_load_factor: tuple[float, ...] = (1.3, 1.6, 1.1, 0.7, 0.8, 0.9, 1.0, 0.8)
    load_median_ms: float = 800.0
    load_effect: float = 0.3
    load_sd: float = 0.5
    items_mean: float = 20.0
    success_base: float = 0.97
    success_effect: float = 0.8

    # app-store ratings (mobile accounts): stars = round(N(mean + effect * z, sd))
    ratings_per_month: tuple[float, float, float] = (2.0, 4.0, 8.0)
    stars_mean: float = 3.8
    stars_effect: float = 0.8
    stars_sd: float = 0.9

    # NPS invitations, responses and scores
    invitations_per_month: tuple[float, float, float] = (6.0, 10.0, 20.0)
    response_rate: float = 0.4
    response_effect: float = 0.5
    response_delay_days: float = 2.0
    nps_mean: float = 7.3
    nps_effect: float = 1.8
    nps_sd: float = 1.3

    # relationship: touchpoints (cancelled share) and rapport ratings
    touchpoints_per_month: tuple[float, float, float] = (1.0, 2.0, 3.0)
    touchpoint_kinds: tuple[str, ...] = ("visit", "qbr", "meeting", "call", "email")
    touchpoint_kind_weights: tuple[float, ...] = (0.1, 0.1, 0.3, 0.3, 0.2)
    cancel_share: float = 0.15
    cancel_effect: float = 0.6
    rapport_per_month: float = 1.0
    rapport_mean: float = 3.4
    rapport_effect: float = 0.8
    rapport_sd: float = 0.7

    # custom metric 'integrations', measured weekly: Poisson(mean * exp(effect*z))
    integrations_mean: float = 4.0
    integrations_effect: float = 0.35

    def to_dict(self) -> dict:
        """Return the parameters as JSON-ready plain Python values."""
        return _jsonable(asdict(self))


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value
