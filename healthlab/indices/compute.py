"""Raw metrics of every index, per account and as-of date.

:func:`compute_raw_metrics` is the one entry point scoring uses. It builds
the daily rollups once (see :mod:`healthlab.indices.rollup` for the cost
model), derives every index's windows from them with ibis expressions that
run on the source's own engine (DuckDB or Spark), and brings only the
account-level results into pandas.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial

import pandas as pd

from healthlab.errors import MissingTableError, ParameterError
from healthlab.indices.custom import compute_custom
from healthlab.indices.duration import compute_duration
from healthlab.indices.loyalty import compute_loyalty
from healthlab.indices.nps import compute_nps
from healthlab.indices.params import IndexParams
from healthlab.indices.performance import compute_performance, page_figures
from healthlab.indices.rating import compute_rating
from healthlab.indices.relationship import compute_rapport, compute_touchpoints
from healthlab.indices.retention import compute_retention
from healthlab.indices.rollup import IndexContext, assemble, build_context

__all__ = [
    "IndexPass",
    "compute_blocks",
    "compute_page_figures",
    "compute_raw_metrics",
    "index_passes",
    "require_sessions",
    "resolve_index_params",
]


def resolve_index_params(definition_params=None) -> IndexParams:
    """Index parameters from None, a mapping, `IndexParams` or a definition."""
    if definition_params is None:
        return IndexParams()
    if isinstance(definition_params, IndexParams):
        return definition_params
    nested = getattr(definition_params, "index_params", None)
    if isinstance(nested, IndexParams):
        return nested
    if isinstance(definition_params, dict):
        return IndexParams(**definition_params)
    raise ParameterError(
        "`definition_params` must be None, an IndexParams, a mapping of index "
        "parameters or a score definition with `index_params`, got "
        f"{type(definition_params).__name__!r}."
    )


@dataclass(frozen=True)
class IndexPass:
    """One index computation and the source tables it reads.

    Attributes
    ----------
    name : str
        The index (a computation may emit several, e.g. the touchpoint pair).
    tables : tuple of str
        Source tables the computation reads.
    compute : callable
        ``compute(ctx)`` returns a :class:`~healthlab.indices.rollup.MetricBlock`
        or a list of them, aligned on ``ctx.skeleton``.
    """

    name: str
    tables: tuple
    compute: Callable


def index_passes(params: IndexParams) -> list[IndexPass]:
    """Every index computation of `params`, built-in indices first."""
    built_in = [
        ("duration", ("sessions",), compute_duration, params.duration),
        ("retention", ("sessions",), compute_retention, params.retention),
        ("performance", ("page_loads",), compute_performance, params.performance),
        ("rating", ("ratings",), compute_rating, params.rating),
        ("loyalty", ("sessions",), compute_loyalty, params.loyalty),
        ("nps", ("nps_responses", "nps_invitations"), compute_nps, params.nps),
        ("touchpoints", ("touchpoints",), compute_touchpoints, params.relationship),
        ("rapport", ("rapport",), compute_rapport, params.relationship),
    ]
    custom = [(c.name, (c.table,), compute_custom, c) for c in params.custom]
    return [
        IndexPass(name, tables, partial(compute, params=index_params))
        for name, tables, compute, index_params in built_in + custom
    ]


def compute_blocks(ctx: IndexContext, passes: Iterable[IndexPass]) -> list:
    """The metric blocks of `passes` on one context, in their order."""
    blocks = []
    for index in passes:
        part = index.compute(ctx)
        blocks.extend(part if isinstance(part, list) else [part])
    return blocks


def require_sessions(source) -> None:
    """Refuse a source without the ``sessions`` table."""
    if "sessions" not in source.tables:
        raise MissingTableError(
            "Table 'sessions' is missing from the source; duration, retention "
            "and loyalty are computed from it."
        )


def compute_raw_metrics(
    source, as_of_dates: Iterable, definition_params=None
) -> pd.DataFrame:
    """Raw metrics of every index for every account alive at each as-of date.

    Parameters
    ----------
    source : healthlab.engine.Source
        Opened data source; event tables stay in its engine.
    as_of_dates : iterable of date-like
        As-of labels; the snapshot labelled d uses rows before d + 1 day,
        00:00 UTC (e.g. :func:`healthlab.asof.month_ends`).
    definition_params : IndexParams, mapping or ScoreDefinition, optional
        Windows, intervals, weights and minimums; DESIGN defaults when None.

    Returns
    -------
    pandas.DataFrame
        One row per (account_id, as_of, index, metric), sorted by those, with
        ``value`` (float, NaN when unavailable), ``reason`` (code or None)
        and ``partial`` (account younger than the index's window). Accounts
        appear at every as-of date after their creation and before their
        churn.

    Notes
    -----
    Built-in indices: duration, retention, performance (web), rating
    (mobile), loyalty, nps and the relationship indices
    (touchpoints_held, touchpoint_cancellations, rapport); plus each custom
    index of the parameters. Each function's Notes give its formulas.
    """
    params = resolve_index_params(definition_params)
    require_sessions(source)
    ctx = build_context(source, as_of_dates)
    try:
        blocks = compute_blocks(ctx, index_passes(params))
    finally:
        ctx.release()
    return assemble(blocks, ctx.skeleton)


def compute_page_figures(source, as_of_dates, definition_params=None):
    """Per-page load time, success share and load count (for reports).

    Returns
    -------
    pandas.DataFrame
        ``account_id``, ``as_of``, ``page``, ``load_ms`` (mean),
        ``success_share`` (sum loaded / sum requested), ``n_page_loads``
        over the performance window.
    """
    params = resolve_index_params(definition_params)
    ctx = build_context(source, as_of_dates)
    try:
        return page_figures(ctx, params.performance)
    finally:
        ctx.release()
