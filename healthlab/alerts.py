"""Alerts between consecutive snapshots: category changes and score drops.

An alert fires when an account's category changes from one snapshot to the
next, or its score falls by more than ``drop_points``. Category changes go
through a hysteresis: the category an account is *held* in only changes
when the score passes the boundary by at least ``hysteresis_margin``
points, so a score wobbling around 70 does not flap between Strong and
Moderate. Each alert names the index whose weighted contribution moved most
between the two snapshots, and by how much.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["ALERT_COLUMNS", "detect_alerts", "held_categories"]

ALERT_COLUMNS = [
    "account_id",
    "as_of",
    "definition_version",
    "kind",
    "previous_as_of",
    "previous_category",
    "category",
    "previous_score",
    "score",
    "change",
    "top_index",
    "top_index_change",
    "message",
]


def held_categories(scores, categories, margin: float) -> list:
    """Categories of one account's score series after hysteresis.

    Parameters
    ----------
    scores : sequence of float
        The account's scores in time order; NaN (unavailable) keeps the
        held category and yields None.
    categories : sequence of Category
        The definition's categories.
    margin : float
        Points the score must pass a boundary by.

    Returns
    -------
    list of str or None

    Notes
    -----
    The first available score sets the held category. Later, a score ``s``
    whose plain category ranks above the held one moves the account to the
    category of ``s - margin`` (below: of ``s + margin``), when that is
    still a change in the same direction; otherwise the held category stays.
    With ``margin = 0`` this is the plain category.

    Examples
    --------
    >>> from healthlab.definition import load_definition
    >>> cats = load_definition().categories
    >>> held_categories([68, 71, 69, 74, 68, 66], cats, margin=3)
    ['Moderate', 'Moderate', 'Moderate', 'Strong', 'Strong', 'Moderate']
    """
    values = pd.Series(scores, dtype=float)
    groups = np.zeros(len(values), dtype=np.int64)
    return _hold(groups, values.to_numpy(), categories, margin).tolist()


def _hold(groups, values, categories, margin) -> np.ndarray:
    # plain, margin-up and margin-down categories of every row, vectorised
    ranked = sorted(categories, key=lambda c: c.lower)
    labels = np.array([c.label for c in ranked] + [None], dtype=object)
    lowers = np.array([c.lower for c in ranked])

    def rank_of(x):
        r = np.searchsorted(lowers, x, side="right") - 1
        return np.where(np.isnan(x), -1, np.clip(r, 0, len(lowers) - 1))

    plain = rank_of(values)
    up = rank_of(np.clip(values - margin, 0, None))
    down = rank_of(np.clip(values + margin, None, 100))

    # the held category follows the series of each account (rows in order)
    out = np.full(len(values), -1, dtype=np.int64)
    held, current = -1, None
    for i in range(len(values)):
        if groups[i] != current:
            held, current = -1, groups[i]
        if plain[i] < 0:
            continue
        if held < 0:
            held = plain[i]
        elif plain[i] > held and up[i] > held:
            held = up[i]
        elif plain[i] < held and down[i] < held:
            held = down[i]
        out[i] = held
    return labels[out]


def detect_alerts(
    scores: pd.DataFrame, indices: pd.DataFrame, definition
) -> pd.DataFrame:
    """Alerts of every account over its snapshot series.

    Parameters
    ----------
    scores : pandas.DataFrame
        Score history (``account_id``, ``as_of``, ``score``, ``category``,
        ``definition_version``) of one definition version.
    indices : pandas.DataFrame
        Index history with ``index`` and ``contribution``.
    definition : ScoreDefinition
        Gives ``alerts`` (rules) and ``categories``.

    Returns
    -------
    pandas.DataFrame
        :data:`ALERT_COLUMNS`, one row per alert, sorted by as-of date,
        account and kind (``category_change``, ``score_drop``).

    Notes
    -----
    Snapshots are consecutive in the account's series of available scores;
    an unavailable score is skipped. ``change = score - previous_score``; a
    drop alert fires when ``-change > drop_points``. The top index maximises
    ``|c_i(t) - c_i(t_prev)|`` over the weighted contributions ``c_i``
    (an unavailable index contributes 0).
    """
    rules = definition.alerts
    s = scores[scores["score"].notna()].sort_values(
        ["account_id", "as_of"], kind="mergesort"
    )
    codes = s.groupby("account_id", sort=False).ngroup().to_numpy()
    s["held"] = _hold(
        codes, s["score"].to_numpy(), definition.categories, rules.hysteresis_margin
    )
    grouped = s.groupby("account_id", sort=False)
    s["previous_as_of"] = grouped["as_of"].shift(1)
    s["previous_score"] = grouped["score"].shift(1)
    s["previous_category"] = grouped["held"].shift(1)
    s = s[s["previous_as_of"].notna()].copy()
    s["change"] = s["score"] - s["previous_score"]

    kinds = []
    if rules.category_change:
        moved = s[s["held"] != s["previous_category"]]
        kinds.append(moved.assign(kind="category_change"))
    if rules.drop_points is not None:
        fell = s[-s["change"] > rules.drop_points]
        kinds.append(fell.assign(kind="score_drop"))
    if not kinds:
        return _empty()
    alerts = pd.concat(kinds, ignore_index=True)
    if alerts.empty:
        return _empty()
    alerts["category"] = alerts["held"]
    alerts = _attach_top_index(alerts, indices)
    alerts["message"] = [_message(r) for r in alerts.itertuples()]
    alerts = alerts[ALERT_COLUMNS]
    alerts["as_of"] = pd.to_datetime(alerts["as_of"]).astype("datetime64[ns]")
    alerts["previous_as_of"] = pd.to_datetime(alerts["previous_as_of"]).astype(
        "datetime64[ns]"
    )
    order = ["as_of", "account_id", "kind"]
    return alerts.sort_values(order, kind="mergesort").reset_index(drop=True)


def _attach_top_index(alerts: pd.DataFrame, indices: pd.DataFrame) -> pd.DataFrame:
    # contribution of each index at both snapshots; unavailable counts as 0
    contrib = indices[["account_id", "as_of", "index", "contribution"]].fillna(
        {"contribution": 0.0}
    )
    now = alerts[["account_id", "as_of", "previous_as_of"]].drop_duplicates()
    pairs = now.merge(contrib, on=["account_id", "as_of"], how="left").merge(
        contrib.rename(columns={"as_of": "previous_as_of", "contribution": "before"}),
        on=["account_id", "previous_as_of", "index"],
        how="left",
    )
    pairs["moved"] = pairs["contribution"] - pairs["before"].fillna(0.0)
    pairs["size"] = pairs["moved"].abs()
    top = (
        pairs.sort_values(
            ["account_id", "as_of", "size", "index"],
            ascending=[True, True, False, True],
            kind="mergesort",
        )
        .drop_duplicates(["account_id", "as_of"])
        .rename(columns={"index": "top_index", "moved": "top_index_change"})
    )
    return alerts.merge(
        top[["account_id", "as_of", "top_index", "top_index_change"]],
        on=["account_id", "as_of"],
        how="left",
    )


def _message(row) -> str:
    head = (
        f"category {row.previous_category} -> {row.category}"
        if row.kind == "category_change"
        else f"score fell {-row.change:.1f} points"
    )
    tail = (
        f"; {row.top_index} moved most ({row.top_index_change:+.1f} points)"
        if isinstance(row.top_index, str)
        else ""
    )
    return (
        f"{head} ({row.previous_score:.1f} on {row.previous_as_of:%Y-%m-%d} -> "
        f"{row.score:.1f}){tail}"
    )


def _empty() -> pd.DataFrame:
    out = pd.DataFrame({c: pd.Series(dtype=object) for c in ALERT_COLUMNS})
    for col in ("as_of", "previous_as_of"):
        out[col] = out[col].astype("datetime64[ns]")
    for col in ("previous_score", "score", "change", "top_index_change"):
        out[col] = out[col].astype(np.float64)
    return out
