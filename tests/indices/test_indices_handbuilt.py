"""Raw metrics of a tiny hand-built world, with values worked out by hand.

The snapshot is labelled 2025-03-31, so t = 2025-04-01 00:00 UTC; rows are
placed on both sides of every window edge.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from conftest import write_world
from indices_reference import reference_metrics

from healthlab.engine import open_source
from healthlab.indices import CustomIndexParams, IndexParams, compute_raw_metrics

LABEL = "2025-03-31"


def ts(text):
    return pd.Timestamp(text, tz="UTC")


def frame(columns, rows):
    out = pd.DataFrame(rows, columns=columns)
    for col in out.columns:
        if col.endswith("_at"):
            out[col] = pd.to_datetime(out[col], utc=True, format="ISO8601")
    return out


def hand_world():
    accounts = frame(
        [
            "account_id",
            "name",
            "csm",
            "industry",
            "size_band",
            "app_type",
            "created_at",
        ],
        [
            ("A", "Alpha", "ann", "x", "s", "web", "2024-10-01"),
            ("B", "Beta", "ann", "x", "s", "mobile", "2024-10-01"),
            ("C", "Young", "bob", "x", "s", "web", "2025-03-20"),
            ("D", "Gone", "bob", "x", "s", "web", "2024-10-01"),
            ("E", "Future", "bob", "x", "s", "web", "2025-04-01"),
        ],
    )
    churn = frame(["account_id", "churned_at"], [("D", "2025-03-15")])
    sessions = [
        # A, earlier half [03-02, 03-17): u1 uses 1.5 h on 03-02
        ("A", "u1", "2025-03-02 00:00:00", 3600.0),
        ("A", "u1", "2025-03-02 10:00:00", 1800.0),
        # one second before t - 30d: outside the level, inside loyalty's base
        ("A", "u1", "2025-03-01 23:59:59", 7200.0),
        # recent half [03-17, 04-01): u2 uses 1 h and 0.5 h
        ("A", "u2", "2025-03-20 08:00:00", 3600.0),
        ("A", "u2", "2025-03-31 23:59:59", 1800.0),
        # at t exactly: after the snapshot
        ("A", "u1", "2025-04-01 00:00:00", 99999.0),
        # u3 active once in the base window, then gone
        ("A", "u3", "2025-01-10 12:00:00", 600.0),
        # B reuses user id u1: a different user
        ("B", "u1", "2025-01-01 09:00:00", 60.0),
    ]
    for i in range(2, 7):
        sessions.append(("B", f"u{i}", "2025-01-01 09:00:00", 60.0))
    for i in range(1, 4):  # back in the 7-day window [01-08, 01-15)
        sessions.append(("B", f"u{i}", "2025-01-08 09:00:00", 60.0))
    sessions.append(("B", "u1", "2025-01-21 09:00:00", 60.0))  # [01-15, 01-22)
    for i in range(1, 7):  # back in the 28-day window [01-29, 02-05)
        sessions.append(("B", f"u{i}", "2025-01-29 09:00:00", 60.0))
    sessions = frame(["account_id", "user_id", "started_at", "duration_s"], sessions)
    page_loads = frame(
        [
            "account_id",
            "page",
            "loaded_at",
            "load_ms",
            "items_requested",
            "items_loaded",
        ],
        [
            ("A", "home", "2025-03-02 00:00:00", 100.0, 10.0, 9.0),
            ("A", "search", "2025-03-31 12:00:00", 300.0, 10.0, 10.0),
            ("A", "home", "2025-03-01 23:00:00", 1000.0, 10.0, 0.0),
        ],
    )
    ratings = frame(
        ["account_id", "rated_at", "stars"],
        [
            ("B", "2025-01-01 00:00:00", 5.0),
            ("B", "2024-12-31 23:59:00", 1.0),
            ("B", "2025-03-31 10:00:00", 2.0),
            ("A", "2025-03-10 10:00:00", 4.0),
        ],
    )
    nps = frame(
        ["account_id", "responded_at", "score"],
        [
            ("A", "2025-01-05", 10.0),
            ("A", "2025-02-05", 9.0),
            ("A", "2025-03-05", 6.0),
            ("A", "2025-03-25", 8.0),
            ("A", "2024-10-10", 0.0),
            ("A", "2024-11-10", 10.0),
            ("A", "2024-12-31 23:00", 10.0),
            ("B", "2025-03-01", 10.0),
            ("B", "2025-03-02", 10.0),
        ],
    )
    invitations = frame(
        ["account_id", "sent_at"], [("A", f"2025-0{1 + i % 3}-1{i}") for i in range(8)]
    )
    touchpoints = frame(
        ["account_id", "occurred_at", "kind", "status"],
        [
            ("A", "2025-01-01", "call", "held"),
            ("A", "2025-02-01", "visit", "held"),
            ("A", "2025-03-01", "qbr", "held"),
            ("A", "2025-03-15", "meeting", "cancelled"),
            ("A", "2024-12-31 23:00", "call", "held"),
        ],
    )
    rapport = frame(
        ["account_id", "rated_at", "persona", "rating"],
        [
            ("A", "2025-02-01", "champion", 2.0),
            ("A", "2025-03-01", "champion", 4.0),
            ("A", "2024-06-01", "decision_maker", 5.0),
            ("A", "2024-03-31", "economic_buyer", 1.0),
        ],
    )
    custom = frame(
        ["account_id", "metric", "measured_at", "value"],
        [
            ("A", "integrations", "2025-03-05", 4.0),
            ("A", "integrations", "2025-03-20", 6.0),
            ("A", "integrations", "2025-02-20", 100.0),
            ("A", "seats", "2025-03-20", 50.0),
        ],
    )
    return {
        "accounts": accounts,
        "churn": churn,
        "sessions": sessions,
        "page_loads": page_loads,
        "ratings": ratings,
        "nps_responses": nps,
        "nps_invitations": invitations,
        "touchpoints": touchpoints,
        "rapport": rapport,
        "custom_metrics": custom,
    }


EXPECTED = {
    ("A", "duration", "level"): 1.0,
    ("A", "duration", "trend"): math.log(0.75 / 1.5),
    ("A", "duration", "active_user_days"): 3.0,
    ("A", "loyalty", "loyalty"): 0.5,
    ("A", "loyalty", "base_users"): 2.0,
    ("A", "retention", "eligible_7d"): 2.0,
    ("A", "performance", "load_ms"): 200.0,
    ("A", "performance", "success_share"): 0.95,
    ("A", "performance", "n_page_loads"): 2.0,
    ("A", "nps", "nps"): 25.0,
    ("A", "nps", "change"): 25.0 - 100.0 / 3.0,
    ("A", "nps", "n_responses"): 4.0,
    ("A", "nps", "response_rate"): 0.5,
    ("A", "touchpoints_held", "value"): 3.0,
    ("A", "touchpoint_cancellations", "value"): 0.25,
    ("A", "rapport", "value"): 4.5,
    ("A", "rapport", "n_personas"): 2.0,
    ("A", "integrations", "value"): 5.0,
    ("B", "retention", "share_7d"): 0.5,
    ("B", "retention", "share_14d"): 1 / 6,
    ("B", "retention", "share_28d"): 1.0,
    ("B", "retention", "share_56d"): 0.0,
    ("B", "retention", "eligible_84d"): 0.0,
    ("B", "retention", "composite"): 4 / 9,
    ("B", "loyalty", "loyalty"): 0.0,
    ("B", "rating", "mean_stars"): 3.5,
    ("B", "rating", "n_ratings"): 2.0,
}

UNAVAILABLE = {
    ("A", "retention", "composite"): "too_few_users",
    ("A", "rating", "mean_stars"): "not_mobile",
    ("B", "performance", "load_ms"): "not_web",
    ("B", "duration", "level"): "no_sessions",
    ("B", "nps", "nps"): "too_few_responses",
    ("B", "retention", "share_84d"): "too_few_users",
    ("B", "nps", "response_rate"): "no_invitations",
    ("B", "touchpoint_cancellations", "value"): "no_touchpoints",
    ("B", "rapport", "value"): "no_rapport",
    ("B", "integrations", "value"): "no_values",
    ("C", "duration", "level"): "no_sessions",
    ("C", "loyalty", "loyalty"): "no_base_users",
}


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    path = write_world(hand_world(), tmp_path_factory.mktemp("hand"))
    params = IndexParams(
        custom=[CustomIndexParams(name="integrations", metric="integrations")]
    )
    return compute_raw_metrics(open_source(path), [LABEL], params)


def test_hand_values(result):
    got = result.set_index(["account_id", "index", "metric"])
    for key, value in EXPECTED.items():
        assert got.loc[key, "value"] == pytest.approx(value, rel=1e-12, abs=1e-12), key
        assert got.loc[key, "reason"] is None, key
    for key, reason in UNAVAILABLE.items():
        assert math.isnan(got.loc[key, "value"]), key
        assert got.loc[key, "reason"] == reason, key


def test_accounts_alive_at_the_instant(result):
    # D churned before t, E was created at t: neither is in the snapshot
    assert sorted(result["account_id"].unique()) == ["A", "B", "C"]
    young = result[result["account_id"] == "C"]
    assert young.set_index("index").loc["duration", "partial"].all()
    # A is 182 days old: only rapport's 365-day window reaches past its start
    a = result[result["account_id"] == "A"]
    assert set(a.loc[a["partial"], "index"]) == {"rapport"}


def test_hand_world_matches_reference(result):
    custom = [("integrations", "custom_metrics", "value", "mean", 30, "integrations")]
    expected = reference_metrics(hand_world(), [LABEL], custom)
    for (account, _, index, metric), value in expected.items():
        row = result[
            (result.account_id == account)
            & (result["index"] == index)
            & (result.metric == metric)
        ]
        assert len(row) == 1
        got = row["value"].iloc[0]
        assert (math.isnan(got) and math.isnan(value)) or got == pytest.approx(
            value, rel=1e-9, abs=1e-9
        ), (account, index, metric)


def test_page_figures(tmp_path):
    from healthlab.indices import compute_page_figures

    path = write_world(hand_world(), tmp_path)
    pages = compute_page_figures(open_source(path), [LABEL])
    assert pages.to_dict("records") == [
        {
            "account_id": "A",
            "as_of": pd.Timestamp(LABEL),
            "page": "home",
            "load_ms": 100.0,
            "success_share": 0.9,
            "n_page_loads": 1,
        },
        {
            "account_id": "A",
            "as_of": pd.Timestamp(LABEL),
            "page": "search",
            "load_ms": 300.0,
            "success_share": 1.0,
            "n_page_loads": 1,
        },
    ]
