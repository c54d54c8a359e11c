"""Which raw metrics are benchmarked, which way is better, and how they mix.

:data:`METRIC_DIRECTIONS` lists every benchmarked ``(index, metric)`` with
``'higher'`` or ``'lower'`` as the healthier direction. Metrics absent from
it (counts, rates, per-interval shares) are informational.
:data:`INDEX_MIX` gives, per index, the weight of each benchmarked metric's
percentile in the 0-100 index (DESIGN section 4). Custom indices add one
metric, ``value``, with their declared direction; see
:func:`metric_directions` and :func:`index_mix`.
"""

from __future__ import annotations

__all__ = [
    "METRIC_DIRECTIONS",
    "INDEX_MIX",
    "INDEX_METRICS",
    "metric_directions",
    "index_mix",
]

METRIC_DIRECTIONS: dict[tuple[str, str], str] = {
    ("duration", "level"): "higher",
    ("duration", "trend"): "higher",
    ("retention", "composite"): "higher",
    ("performance", "load_ms"): "lower",
    ("performance", "success_share"): "higher",
    ("rating", "mean_stars"): "higher",
    ("loyalty", "loyalty"): "higher",
    ("nps", "nps"): "higher",
    ("nps", "change"): "higher",
    ("touchpoints_held", "value"): "higher",
    ("touchpoint_cancellations", "value"): "lower",
    ("rapport", "value"): "higher",
}

INDEX_MIX: dict[str, dict[str, float]] = {
    "duration": {"level": 0.7, "trend": 0.3},
    "retention": {"composite": 1.0},
    "performance": {"load_ms": 0.5, "success_share": 0.5},
    # the stars are shrunk toward the peer mean in scoring before ranking
    "rating": {"mean_stars": 1.0},
    "loyalty": {"loyalty": 1.0},
    "nps": {"nps": 0.5, "change": 0.5},
    "touchpoints_held": {"value": 1.0},
    "touchpoint_cancellations": {"value": 1.0},
    "rapport": {"value": 1.0},
}

# Every metric each built-in index emits, benchmarked or informational.
INDEX_METRICS: dict[str, tuple[str, ...]] = {
    "duration": ("level", "trend", "active_user_days"),
    "retention": ("composite",),  # plus share_<k>d and eligible_<k>d
    "performance": ("load_ms", "success_share", "n_page_loads"),
    "rating": ("mean_stars", "n_ratings"),
    "loyalty": ("loyalty", "base_users"),
    "nps": ("nps", "change", "n_responses", "response_rate"),
    "touchpoints_held": ("value",),
    "touchpoint_cancellations": ("value", "n_planned"),
    "rapport": ("value", "n_personas"),
}


def metric_directions(index_params=None) -> dict[tuple[str, str], str]:
    """Benchmarked metrics and directions, including declared custom indices.

    Parameters
    ----------
    index_params : IndexParams, optional
        Its ``custom`` list adds ``(name, 'value')`` with the declared
        direction.
    """
    out = dict(METRIC_DIRECTIONS)
    for custom in getattr(index_params, "custom", None) or []:
        out[(custom.name, "value")] = custom.direction
    return out


def index_mix(index_params=None) -> dict[str, dict[str, float]]:
    """Metric weights per index, including declared custom indices."""
    out = {name: dict(mix) for name, mix in INDEX_MIX.items()}
    for custom in getattr(index_params, "custom", None) or []:
        out[custom.name] = {"value": 1.0}
    return out
