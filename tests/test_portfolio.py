"""Portfolio rollups on a hand-made book of six accounts and two snapshots."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from healthlab.portfolio import (
    category_counts_by_csm,
    csm_leaderboard,
    csm_score_trend,
    portfolio_headline,
    stack_rank,
)

JAN, FEB = pd.Timestamp("2025-01-31"), pd.Timestamp("2025-02-28")


@pytest.fixture
def book():
    accounts = pd.DataFrame(
        {
            "account_id": ["a", "b", "c", "d", "e", "f"],
            "name": ["Alpha", "Beta", "Gamma", "Delta", "Eps", "Zeta"],
            "csm": ["ann", "ann", "ann", "bob", "bob", "bob"],
        }
    )
    jan = [80, 60, 30, 75, 50, 45]
    feb = [85, 55, 20, 72, np.nan, 35]
    cats = {80: "Strong", 85: "Strong", 75: "Strong", 72: "Strong"}

    def category(s):
        if np.isnan(s):
            return None
        return cats.get(s, "Moderate" if s >= 40 else "Weak")

    scores = pd.DataFrame(
        {
            "account_id": list(accounts["account_id"]) * 2,
            "as_of": [JAN] * 6 + [FEB] * 6,
            "score": np.array(jan + feb, dtype=float),
        }
    )
    scores["category"] = [category(s) for s in scores["score"]]
    rows = []
    for r in scores.itertuples():
        # duration carries 40% of the score and nps 60%
        rows.append((r.account_id, r.as_of, "duration", 0.4 * r.score))
        rows.append((r.account_id, r.as_of, "nps", 0.6 * r.score))
    indices = pd.DataFrame(
        rows, columns=["account_id", "as_of", "index", "contribution"]
    )
    alerts = pd.DataFrame(
        {"account_id": ["c", "c", "f", "a"], "as_of": [FEB, FEB, FEB, JAN]}
    )
    return scores, indices, accounts, alerts


def test_category_counts_by_csm(book):
    scores, _, accounts, _ = book
    got = category_counts_by_csm(scores, accounts, FEB)
    assert got.values.tolist() == [
        ["ann", "Strong", 1],
        ["ann", "Moderate", 1],
        ["ann", "Weak", 1],
        ["ann", "Unavailable", 0],
        ["bob", "Strong", 1],
        ["bob", "Moderate", 0],
        ["bob", "Weak", 1],
        ["bob", "Unavailable", 1],
    ]
    assert list(got.columns) == ["csm", "category", "accounts"]


def test_stack_rank(book):
    scores, indices, accounts, _ = book
    highest, lowest = stack_rank(scores, indices, accounts, FEB, n=2)
    assert highest["account_id"].tolist() == ["a", "d"]
    assert lowest["account_id"].tolist() == ["c", "f"]
    # nps holds 60% of each change: a rose 5, so nps moved +3
    first = highest.iloc[0]
    assert (first["name"], first["csm"], first["largest_mover"]) == (
        "Alpha",
        "ann",
        "nps",
    )
    assert first["mover_change"] == pytest.approx(3.0)
    assert lowest.iloc[0]["mover_change"] == pytest.approx(-6.0)
    assert list(highest.columns) == [
        "account_id",
        "name",
        "csm",
        "score",
        "category",
        "largest_mover",
        "mover_change",
    ]
    # the first snapshot has no previous one: no mover
    first_month, _ = stack_rank(scores, indices, accounts, JAN, n=1)
    assert first_month["largest_mover"].isna().all()


def test_csm_score_trend(book):
    scores, _, accounts, _ = book
    got = csm_score_trend(scores, accounts)
    assert got["csm"].tolist() == ["ann", "ann", "bob", "bob"]
    np.testing.assert_allclose(
        got["mean_score"],
        [
            np.mean([80, 60, 30]),
            np.mean([85, 55, 20]),
            np.mean([75, 50, 45]),
            np.mean([72, 35]),
        ],
    )


def test_csm_leaderboard(book):
    scores, _, accounts, alerts = book
    got = csm_leaderboard(scores, accounts, FEB, alerts).set_index("csm")
    ann_feb, ann_jan = np.mean([85, 55, 20]), np.mean([80, 60, 30])
    bob_feb, bob_jan = np.mean([72, 35]), np.mean([75, 50, 45])
    assert got.loc["ann", "accounts"] == 3 and got.loc["bob", "accounts"] == 3
    assert got.loc["ann", "mean_score"] == pytest.approx(ann_feb)
    assert got.loc["ann", "change"] == pytest.approx(ann_feb - ann_jan)
    assert got.loc["bob", "change"] == pytest.approx(bob_feb - bob_jan)
    assert got.loc["ann", "share_strong"] == pytest.approx(1 / 3)
    assert got.loc["bob", "share_weak"] == pytest.approx(1 / 2)
    # alerts at the as-of date, one per account
    assert got["alerts"].to_dict() == {"ann": 1, "bob": 1}
    # best mean score first (53.5 before 53.3)
    assert bob_feb > ann_feb and list(got.index) == ["bob", "ann"]


def test_portfolio_headline(book):
    scores, *_ = book
    got = portfolio_headline(scores, FEB)
    assert got["accounts"] == 6 and got["scored"] == 5
    assert got["mean_score"] == pytest.approx(np.mean([85, 55, 20, 72, 35]))
    assert got["change"] == pytest.approx(
        np.mean([85, 55, 20, 72, 35]) - np.mean([80, 60, 30, 75, 50, 45])
    )
    assert got["category_shares"] == {"Strong": 0.4, "Moderate": 0.2, "Weak": 0.4}
    assert got["previous_as_of"] == JAN
    first = portfolio_headline(scores, JAN)
    assert first["previous_as_of"] is None and math.isnan(first["change"])
    assert portfolio_headline(scores)["as_of"] == FEB
