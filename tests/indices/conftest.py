"""A random event world written to Parquet, and a plain-pandas reference.

The reference recomputes every raw metric from the raw rows with pandas
timestamps (no day numbers, no rollups), straight from DESIGN section 4, so
it is an independent route to the numbers the index engine produces.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

START = pd.Timestamp("2025-01-01", tz="UTC")
DAY = pd.Timedelta(days=1)


def make_world(n_accounts: int = 40, n_sessions: int = 30_000, seed: int = 11):
    """Random contract tables (pandas) covering about 14 months."""
    rng = np.random.default_rng(seed)
    ids = [f"acc{i:03d}" for i in range(n_accounts)]
    accounts = pd.DataFrame(
        {
            "account_id": ids,
            "name": [f"Account {i}" for i in range(n_accounts)],
            "csm": rng.choice(["ann", "bob"], n_accounts),
            "industry": "saas",
            "size_band": "small",
            "app_type": rng.choice(["web", "mobile"], n_accounts),
            "created_at": START
            + pd.to_timedelta(rng.integers(0, 300 * 86_400, n_accounts), unit="s"),
        }
    )
    churned = rng.random(n_accounts) < 0.2
    churn = pd.DataFrame(
        {
            "account_id": ids,
            "churned_at": (
                accounts["created_at"]
                + pd.to_timedelta(rng.integers(20, 200, n_accounts), unit="D")
            ).where(churned),
        }
    )
    users_per = rng.integers(1, 14, n_accounts)

    def events(n, column, horizon_days=420):
        acc = rng.integers(0, n_accounts, n)
        at = accounts["created_at"].iloc[acc].reset_index(drop=True) + pd.to_timedelta(
            rng.integers(0, horizon_days * 86_400, n), unit="s"
        )
        return pd.DataFrame({"account_id": np.asarray(ids)[acc], column: at}), acc

    sessions, acc = events(n_sessions, "started_at")
    sessions["user_id"] = (rng.integers(0, 1000, n_sessions) % users_per[acc]).astype(
        str
    )
    # some zero-length sessions, and users active in bursts
    sessions["duration_s"] = np.where(
        rng.random(n_sessions) < 0.03, 0.0, rng.gamma(2.0, 600.0, n_sessions).round(1)
    )
    page_loads, _ = events(n_sessions // 2, "loaded_at")
    n = len(page_loads)
    page_loads["page"] = rng.choice(["home", "search", "report"], n)
    page_loads["load_ms"] = rng.gamma(3.0, 300.0, n).round(0)
    page_loads["items_requested"] = rng.integers(0, 20, n).astype(float)
    page_loads["items_loaded"] = np.floor(
        page_loads["items_requested"] * rng.uniform(0.7, 1.0, n)
    )
    ratings, _ = events(600, "rated_at")
    ratings["stars"] = rng.integers(1, 6, len(ratings)).astype(float)
    responses, _ = events(900, "responded_at")
    responses["score"] = rng.integers(0, 11, len(responses)).astype(float)
    invitations, _ = events(1500, "sent_at")
    touchpoints, _ = events(1200, "occurred_at")
    touchpoints["kind"] = rng.choice(["visit", "qbr", "meeting", "call", "email"], 1200)
    touchpoints["status"] = rng.choice(["held", "cancelled"], 1200, p=[0.8, 0.2])
    rapport, _ = events(500, "rated_at")
    rapport["persona"] = rng.choice(
        ["decision_maker", "champion", "business_user", "economic_buyer"], 500
    )
    rapport["rating"] = rng.integers(1, 6, 500).astype(float)
    # a few exact timestamp ties per persona, so "latest" needs a tie rule
    rapport.loc[::25, "rated_at"] = rapport["rated_at"].shift(1).loc[::25]
    rapport.loc[::25, "persona"] = rapport["persona"].shift(1).loc[::25]
    rapport.loc[::25, "account_id"] = rapport["account_id"].shift(1).loc[::25]
    rapport = rapport.dropna()
    custom, _ = events(3000, "measured_at")
    custom["metric"] = rng.choice(["integrations", "seats"], 3000)
    custom["value"] = rng.integers(0, 30, 3000).astype(float)
    return {
        "accounts": accounts,
        "churn": churn,
        "sessions": sessions,
        "page_loads": page_loads,
        "ratings": ratings,
        "nps_responses": responses,
        "nps_invitations": invitations,
        "touchpoints": touchpoints,
        "rapport": rapport,
        "custom_metrics": custom,
    }


def write_world(tables: dict, path: Path) -> Path:
    """Write contract tables as `path/<table>/part-00000.parquet`."""
    for name, frame in tables.items():
        frame = frame.copy()
        for col in frame.columns:
            if isinstance(frame[col].dtype, pd.DatetimeTZDtype) or col.endswith("_at"):
                frame[col] = pd.to_datetime(frame[col], utc=True).astype(
                    "datetime64[us, UTC]"
                )
        (path / name).mkdir(parents=True, exist_ok=True)
        frame.to_parquet(path / name / "part-00000.parquet", index=False)
    return path


@pytest.fixture(scope="session")
def world_tables():
    return make_world()


@pytest.fixture(scope="session")
def world_dir(world_tables, tmp_path_factory):
    return write_world(world_tables, tmp_path_factory.mktemp("index_world"))
