"""Parameters of the indices, with the defaults of DESIGN section 4.

Every window, interval, weight and minimum an index uses is a field here.
The models are frozen pydantic models that reject unknown fields, so a typo
in a score definition fails loudly instead of silently using a default.
Windows are whole days and half-open, ``[t - n days, t)`` (DESIGN section 3).

Constructing a model directly with a bad value raises
:class:`healthlab.errors.ParameterError`; validating a nested mapping (as
the score definition loader does) raises pydantic's ``ValidationError``
carrying the same message.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from healthlab.errors import ParameterError

__all__ = [
    "DurationParams",
    "RetentionParams",
    "PerformanceParams",
    "RatingParams",
    "LoyaltyParams",
    "NpsParams",
    "CustomIndexParams",
    "RelationshipParams",
    "IndexParams",
    "AGGREGATIONS",
]

AGGREGATIONS = ("count", "sum", "mean", "last", "min", "max")

# The shortest cohort interval the retention index accepts: a share measured
# on users younger than a week is skewed by their first-week enthusiasm.
_MIN_RETENTION_INTERVAL = 7


class _Params(BaseModel):
    """Frozen, strict base model; direct construction raises ParameterError."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def __init__(self, **data):
        try:
            super().__init__(**data)
        except ValidationError as exc:
            problems = "; ".join(_describe(err) for err in exc.errors())
            raise ParameterError(f"Invalid {type(self).__name__}: {problems}") from exc


def _describe(err: dict) -> str:
    # "field: message" without pydantic's "Value error, " prefix
    message = str(err["msg"]).removeprefix("Value error, ")
    where = ".".join(str(part) for part in err["loc"])
    return f"`{where}`: {message}" if where else message


class DurationParams(_Params):
    """Duration index: median daily usage of active users, and its trend.

    Attributes
    ----------
    window_days : int
        Window of the level, ``[t - 30d, t)``.
    trend_days : int
        Length of each half compared by the trend (15 days: the recent half
        ``[t - 15d, t)`` against ``[t - 30d, t - 15d)``).
    """

    window_days: int = Field(30, ge=1)
    trend_days: int = Field(15, ge=1)

    @model_validator(mode="after")
    def _check_halves(self):
        if 2 * self.trend_days > self.window_days:
            raise ValueError(
                f"two trend halves of {self.trend_days} days do not fit in the "
                f"{self.window_days}-day window"
            )
        return self


class RetentionParams(_Params):
    """Retention index: cohort return shares at several intervals.

    Attributes
    ----------
    intervals : tuple of int
        Days after the cohort day at which return is measured; each at
        least 7.
    weights : tuple of float
        Weight of each interval in the composite (same length).
    cohort_window_days : int
        Cohorts considered start in ``[t - 180d, ...)``.
    activity_days : int
        Length of the return window ``[cohort + k, cohort + k + 7d)``.
    min_eligible_users : int
        An interval enters the composite only with at least this many
        eligible users.
    """

    intervals: tuple[int, ...] = (7, 14, 28, 56, 84)
    weights: tuple[float, ...] = (1.0, 1.0, 2.0, 2.0, 3.0)
    cohort_window_days: int = Field(180, ge=1)
    activity_days: int = Field(7, ge=1)
    min_eligible_users: int = Field(5, ge=1)

    @model_validator(mode="after")
    def _check_intervals(self):
        short = [k for k in self.intervals if k < _MIN_RETENTION_INTERVAL]
        if short:
            raise ValueError(
                f"retention intervals must be at least {_MIN_RETENTION_INTERVAL} "
                f"days (data younger than a week skews the shares), got {short}"
            )
        if not self.intervals:
            raise ValueError("at least one retention interval is needed")
        if len(set(self.intervals)) != len(self.intervals):
            raise ValueError(f"retention intervals repeat: {list(self.intervals)}")
        if len(self.weights) != len(self.intervals):
            raise ValueError(
                f"{len(self.weights)} weights given for {len(self.intervals)} intervals"
            )
        if any(w < 0 for w in self.weights) or sum(self.weights) <= 0:
            raise ValueError(
                f"weights must be non-negative with a positive sum, "
                f"got {list(self.weights)}"
            )
        longest = max(self.intervals) + self.activity_days
        if longest >= self.cohort_window_days:
            raise ValueError(
                f"the longest interval plus its return window ({longest} days) "
                f"leaves no cohort in the {self.cohort_window_days}-day window"
            )
        return self


class PerformanceParams(_Params):
    """Performance index (web apps): mean load time and success share.

    Attributes
    ----------
    window_days : int
        Window ``[t - 30d, t)`` of page loads.
    """

    window_days: int = Field(30, ge=1)


class RatingParams(_Params):
    """Rating index (mobile apps): mean app-store stars.

    Attributes
    ----------
    window_days : int
        Window ``[t - 90d, t)`` of ratings.
    prior_ratings : float
        Weight of the peer mean in the shrunk mean, in ratings (applied in
        scoring, where the peer mean is known).
    """

    window_days: int = Field(90, ge=1)
    prior_ratings: float = Field(10.0, ge=0)


class LoyaltyParams(_Params):
    """Loyalty index: one minus the share of users who dropped out.

    Attributes
    ----------
    lookback_days : int
        Users active in ``[t - 120d, t - 30d)`` form the base.
    dropout_days : int
        A base user with no session in ``[t - 30d, t)`` dropped out.
    min_users : int
        Fewest base users for a loyalty value (DESIGN sets none: 1).
    """

    lookback_days: int = Field(120, ge=2)
    dropout_days: int = Field(30, ge=1)
    min_users: int = Field(1, ge=1)

    @model_validator(mode="after")
    def _check_windows(self):
        if self.dropout_days >= self.lookback_days:
            raise ValueError(
                f"`dropout_days` ({self.dropout_days}) must be shorter than "
                f"`lookback_days` ({self.lookback_days})"
            )
        return self


class NpsParams(_Params):
    """NPS index: net promoter score, its change and the response rate.

    Attributes
    ----------
    window_days : int
        Reporting period ``[t - 90d, t)``; the previous period is the same
        length just before it.
    min_responses : int
        Fewer responses in a period make its NPS unavailable.
    promoter_min, detractor_max : int
        Scores ``>= 9`` promote, scores ``<= 6`` detract.
    """

    window_days: int = Field(90, ge=1)
    min_responses: int = Field(3, ge=1)
    promoter_min: int = Field(9, ge=0, le=10)
    detractor_max: int = Field(6, ge=0, le=10)

    @model_validator(mode="after")
    def _check_bands(self):
        if self.detractor_max >= self.promoter_min:
            raise ValueError(
                f"`detractor_max` ({self.detractor_max}) must be below "
                f"`promoter_min` ({self.promoter_min})"
            )
        return self


class CustomIndexParams(_Params):
    """A user-declared index over any table (DESIGN section 4.6).

    Attributes
    ----------
    name : str
        Index name (unique, not a built-in index name).
    metric : str, optional
        For ``table='custom_metrics'``: the ``metric`` value to select.
    table : str
        Source table; ``custom_metrics`` by default.
    column : str
        Column aggregated (``value`` for custom_metrics); ignored by count.
    time_column : str, optional
        Column placing rows in time (default: the table's contract column).
    aggregation : {'count', 'sum', 'mean', 'last', 'min', 'max'}
        How the rows of the window become one value.
    window_days : int
        Window ``[t - n days, t)``.
    direction : {'higher', 'lower'}
        Which way is healthier.
    scoring : {'percentile', 'linear'}
        Peer percentile, or a linear map from `worst` (0) to `best` (100).
    worst, best : float, optional
        End points of the linear map (required when ``scoring='linear'``).
    """

    name: str = Field(min_length=1)
    metric: str | None = None
    table: str = "custom_metrics"
    column: str = "value"
    time_column: str | None = None
    aggregation: Literal["count", "sum", "mean", "last", "min", "max"] = "mean"
    window_days: int = Field(30, ge=1)
    direction: Literal["higher", "lower"] = "higher"
    scoring: Literal["percentile", "linear"] = "percentile"
    worst: float | None = None
    best: float | None = None

    @model_validator(mode="after")
    def _check_source(self):
        if self.table == "custom_metrics" and not self.metric:
            raise ValueError(
                f"custom index {self.name!r} reads custom_metrics but names no `metric`"
            )
        if self.scoring == "linear":
            if self.worst is None or self.best is None or self.worst == self.best:
                raise ValueError(
                    f"custom index {self.name!r} with linear scoring needs "
                    f"distinct `worst` and `best`, got {self.worst!r}, {self.best!r}"
                )
        return self


class RelationshipParams(_Params):
    """Relationship indices: touchpoints held, cancellations and rapport.

    Attributes
    ----------
    window_days : int
        Window ``[t - 90d, t)`` of touchpoints; held touchpoints are
        reported per 90 days.
    rapport_max_age_days : int
        A persona's latest rapport rating counts when younger than this.
    """

    window_days: int = Field(90, ge=1)
    rapport_max_age_days: int = Field(365, ge=1)


_BUILT_IN = (
    "duration",
    "retention",
    "performance",
    "rating",
    "loyalty",
    "nps",
    "touchpoints_held",
    "touchpoint_cancellations",
    "rapport",
)


class IndexParams(_Params):
    """Parameters of every index of a score definition."""

    duration: DurationParams = DurationParams()
    retention: RetentionParams = RetentionParams()
    performance: PerformanceParams = PerformanceParams()
    rating: RatingParams = RatingParams()
    loyalty: LoyaltyParams = LoyaltyParams()
    nps: NpsParams = NpsParams()
    relationship: RelationshipParams = RelationshipParams()
    custom: list[CustomIndexParams] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_custom_names(self):
        names = [c.name for c in self.custom]
        clash = sorted({n for n in names if n in _BUILT_IN or names.count(n) > 1})
        if clash:
            raise ValueError(
                f"custom index names must be unique and differ from the built-in "
                f"indices, got {clash}"
            )
        return self
