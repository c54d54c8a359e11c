"""Portfolio rollups the reports draw: categories per CSM, stack rank, trends.

Every function takes plain pandas frames (score history, index history,
accounts, alerts) and returns a small frame or dict sorted deterministically.
``as_of=None`` means the latest as-of date of `scores`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "UNAVAILABLE",
    "category_counts_by_csm",
    "csm_leaderboard",
    "csm_score_trend",
    "portfolio_headline",
    "stack_rank",
]

# Category label of accounts whose score is unavailable at the as-of date.
UNAVAILABLE = "Unavailable"


def _snapshot(scores: pd.DataFrame, as_of) -> tuple[pd.DataFrame, pd.Timestamp]:
    dates = pd.to_datetime(scores["as_of"])
    when = dates.max() if as_of is None else pd.Timestamp(as_of)
    return scores[dates == when], when


def _previous(scores: pd.DataFrame, when: pd.Timestamp):
    dates = pd.to_datetime(scores["as_of"])
    earlier = dates[dates < when]
    return earlier.max() if len(earlier) else None


def _category_order(scores: pd.DataFrame) -> list[str]:
    # categories from the healthiest down: by the mean score of their members
    means = scores.dropna(subset=["category"]).groupby("category")["score"].mean()
    return list(means.sort_values(ascending=False, kind="mergesort").index)


def category_counts_by_csm(
    scores: pd.DataFrame, accounts: pd.DataFrame, as_of=None
) -> pd.DataFrame:
    """Accounts per category in each CSM's book at one as-of date.

    Returns
    -------
    pandas.DataFrame
        ``csm``, ``category``, ``accounts``: every CSM with every category
        seen (zero counts included), categories healthiest first, then
        ``'Unavailable'`` when some scores are.
    """
    snap, _ = _snapshot(scores, as_of)
    snap = snap.merge(accounts[["account_id", "csm"]], on="account_id", how="left")
    snap["category"] = snap["category"].fillna(UNAVAILABLE)
    order = _category_order(scores)
    if (snap["category"] == UNAVAILABLE).any():
        order.append(UNAVAILABLE)
    counts = snap.groupby(["csm", "category"]).size()
    grid = pd.MultiIndex.from_product(
        [sorted(snap["csm"].dropna().unique()), order], names=["csm", "category"]
    )
    out = counts.reindex(grid, fill_value=0).rename("accounts").reset_index()
    out["accounts"] = out["accounts"].astype(np.int64)
    return out


def _movers(indices: pd.DataFrame, when, before) -> pd.DataFrame:
    # the index whose weighted contribution moved most since the previous as-of
    cols = ["account_id", "index", "contribution"]
    dates = pd.to_datetime(indices["as_of"])
    now = indices.loc[dates == when, cols].fillna({"contribution": 0.0})
    if before is None:
        return pd.DataFrame(columns=["account_id", "largest_mover", "mover_change"])
    then = indices.loc[dates == before, cols].fillna({"contribution": 0.0})
    moved = now.merge(then, on=["account_id", "index"], how="left", suffixes=("", "_b"))
    moved["mover_change"] = moved["contribution"] - moved["contribution_b"]
    moved["size"] = moved["mover_change"].abs()
    moved = moved.dropna(subset=["mover_change"]).sort_values(
        ["account_id", "size", "index"], ascending=[True, False, True], kind="mergesort"
    )
    top = moved.drop_duplicates("account_id")
    return top.rename(columns={"index": "largest_mover"})[
        ["account_id", "largest_mover", "mover_change"]
    ]


def stack_rank(
    scores: pd.DataFrame,
    indices: pd.DataFrame,
    accounts: pd.DataFrame,
    as_of=None,
    n: int = 10,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The `n` highest and `n` lowest scored accounts at one as-of date.

    Returns
    -------
    highest, lowest : pandas.DataFrame
        ``account_id``, ``name``, ``csm``, ``score``, ``category``,
        ``largest_mover`` (index whose weighted contribution changed most
        since the previous as-of date) and ``mover_change`` (points).
        Ties are broken by ``account_id``.
    """
    snap, when = _snapshot(scores, as_of)
    snap = snap[snap["score"].notna()]
    movers = _movers(indices, when, _previous(scores, when))
    table = (
        snap[["account_id", "score", "category"]]
        .merge(accounts[["account_id", "name", "csm"]], on="account_id", how="left")
        .merge(movers, on="account_id", how="left")
    )
    cols = [
        "account_id",
        "name",
        "csm",
        "score",
        "category",
        "largest_mover",
        "mover_change",
    ]
    table = table[cols]
    table["mover_change"] = table["mover_change"].astype(np.float64)
    highest = table.sort_values(
        ["score", "account_id"], ascending=[False, True], kind="mergesort"
    ).head(n)
    lowest = table.sort_values(
        ["score", "account_id"], ascending=[True, True], kind="mergesort"
    ).head(n)
    return highest.reset_index(drop=True), lowest.reset_index(drop=True)


def csm_score_trend(scores: pd.DataFrame, accounts: pd.DataFrame) -> pd.DataFrame:
    """Mean available score of each CSM's book at every as-of date.

    Returns
    -------
    pandas.DataFrame
        ``csm``, ``as_of``, ``mean_score`` sorted by CSM and date.
    """
    data = scores[scores["score"].notna()].merge(
        accounts[["account_id", "csm"]], on="account_id", how="left"
    )
    out = (
        data.groupby(["csm", "as_of"], sort=True)["score"]
        .mean()
        .rename("mean_score")
        .reset_index()
    )
    out["as_of"] = pd.to_datetime(out["as_of"]).astype("datetime64[ns]")
    return out


def csm_leaderboard(
    scores: pd.DataFrame,
    accounts: pd.DataFrame,
    as_of=None,
    alerts: pd.DataFrame | None = None,
    *,
    strong: str = "Strong",
    weak: str = "Weak",
) -> pd.DataFrame:
    """One row per CSM: book size, mean score, its change, shares, alerts.

    Returns
    -------
    pandas.DataFrame
        ``csm``, ``accounts`` (in the book at the as-of date), ``mean_score``
        (over available scores), ``change`` (mean score minus the previous
        as-of date's), ``share_strong`` and ``share_weak`` (of scored
        accounts), ``alerts`` (fired at the as-of date); best mean first.
    """
    snap, when = _snapshot(scores, as_of)
    before = _previous(scores, when)
    book = snap.merge(accounts[["account_id", "csm"]], on="account_id", how="left")
    scored = book[book["score"].notna()]
    out = pd.DataFrame({"accounts": book.groupby("csm").size()})
    out["mean_score"] = scored.groupby("csm")["score"].mean()
    if before is not None:
        prev = scores[pd.to_datetime(scores["as_of"]) == before].merge(
            accounts[["account_id", "csm"]], on="account_id", how="left"
        )
        out["change"] = out["mean_score"] - prev.groupby("csm")["score"].mean()
    else:
        out["change"] = np.nan
    n_scored = scored.groupby("csm").size().reindex(out.index)
    for label, col in ((strong, "share_strong"), (weak, "share_weak")):
        hits = scored[scored["category"] == label].groupby("csm").size()
        out[col] = hits.reindex(out.index, fill_value=0) / n_scored
    if alerts is not None and len(alerts):
        fired = alerts[pd.to_datetime(alerts["as_of"]) == when].merge(
            accounts[["account_id", "csm"]], on="account_id", how="left"
        )
        counts = fired.drop_duplicates("account_id").groupby("csm").size()
        out["alerts"] = counts.reindex(out.index, fill_value=0)
    else:
        out["alerts"] = 0
    out = out.reset_index().astype({"accounts": np.int64, "alerts": np.int64})
    out = out.sort_values(
        ["mean_score", "csm"], ascending=[False, True], kind="mergesort"
    )
    cols = [
        "csm",
        "accounts",
        "mean_score",
        "change",
        "share_strong",
        "share_weak",
        "alerts",
    ]
    return out[cols].reset_index(drop=True)


def portfolio_headline(scores: pd.DataFrame, as_of=None) -> dict:
    """Headline figures of the whole portfolio at one as-of date.

    Returns
    -------
    dict
        ``as_of``, ``accounts`` (in the snapshot), ``scored`` (with an
        available score), ``mean_score``, ``category_shares`` (label ->
        share of scored accounts, healthiest first), ``previous_as_of`` and
        ``change`` (mean score minus the previous as-of date's; NaN when
        there is none).
    """
    snap, when = _snapshot(scores, as_of)
    scored = snap[snap["score"].notna()]
    before = _previous(scores, when)
    mean = float(scored["score"].mean()) if len(scored) else float("nan")
    if before is not None:
        prev = scores[pd.to_datetime(scores["as_of"]) == before]["score"].mean()
        change = mean - float(prev)
    else:
        change = float("nan")
    shares = scored["category"].value_counts() / max(len(scored), 1)
    order = [c for c in _category_order(scores) if c in shares.index]
    return {
        "as_of": when,
        "accounts": int(len(snap)),
        "scored": int(len(scored)),
        "mean_score": mean,
        "category_shares": {c: float(shares[c]) for c in order},
        "previous_as_of": before,
        "change": change,
    }
