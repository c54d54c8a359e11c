"""A small valid world (four accounts, every table) and its writer."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

IDS = ["a1", "a2", "a3", "a4"]


def utc(*stamps: str) -> pd.Series:
    """UTC timestamps at microsecond precision, as exports usually hold them."""
    return pd.Series(pd.to_datetime(list(stamps), utc=True)).astype(
        "datetime64[us, UTC]"
    )


def base_world() -> dict[str, pd.DataFrame]:
    """Every contract table with a few valid rows; sessions fill 2025-03-01..08."""
    return {
        "accounts": pd.DataFrame(
            {
                "account_id": IDS,
                "name": ["Acme", "Birch", "Cobalt", "Dune"],
                "csm": ["Ann", "Ann", "Bob", "Bob"],
                "industry": ["retail", "retail", "media", "media"],
                "size_band": ["small", "large", "small", "large"],
                "app_type": ["web", "web", "mobile", "mobile"],
                "created_at": utc(*(f"2025-01-0{d}" for d in range(1, 5))),
                "arr": [1000.0, 2000.0, 3000.0, 4000.0],
            }
        ),
        "churn": pd.DataFrame(
            {"account_id": ["a4"], "churned_at": utc("2025-06-01T10:00:00")}
        ),
        "sessions": pd.DataFrame(
            {
                "account_id": ["a1", "a1", "a2", "a2", "a3", "a3", "a4", "a4"],
                "user_id": ["u1", "u2"] * 4,
                "started_at": utc(*(f"2025-03-0{d}T09:30:00" for d in range(1, 9))),
                "duration_s": [60.0, 120.0, 180.0, 240.0, 300.0, 360.0, 420.0, 480.0],
            }
        ),
        "page_loads": pd.DataFrame(
            {
                "account_id": ["a1", "a1", "a2"],
                "page": ["home", "search", "home"],
                "loaded_at": utc("2025-03-01", "2025-03-02", "2025-03-03"),
                "load_ms": [300.0, 450.0, 500.0],
                "items_requested": [10.0, 10.0, 8.0],
                "items_loaded": [10.0, 9.0, 8.0],
            }
        ),
        "ratings": pd.DataFrame(
            {
                "account_id": ["a3", "a4", "a3"],
                "rated_at": utc("2025-03-05", "2025-03-06", "2025-03-07"),
                "stars": [4, 5, 3],
            }
        ),
        "nps_responses": pd.DataFrame(
            {
                "account_id": ["a1", "a2", "a3"],
                "responded_at": utc("2025-02-01", "2025-02-02", "2025-02-03"),
                "score": [9, 6, 10],
                "user_id": ["u1", None, "u2"],
                "persona": ["champion", None, "business_user"],
            }
        ),
        "nps_invitations": pd.DataFrame(
            {"account_id": IDS, "sent_at": utc(*["2025-01-20"] * 4)}
        ),
        "touchpoints": pd.DataFrame(
            {
                "account_id": ["a1", "a3"],
                "occurred_at": utc("2025-02-10", "2025-02-11"),
                "kind": ["qbr", "call"],
                "status": ["held", "cancelled"],
                "csm": ["Ann", "Bob"],
            }
        ),
        "rapport": pd.DataFrame(
            {
                "account_id": ["a1", "a2"],
                "rated_at": utc("2025-02-15", "2025-02-16"),
                "persona": ["champion", "decision_maker"],
                "rating": [4.0, 3.0],
            }
        ),
        "custom_metrics": pd.DataFrame(
            {
                "account_id": IDS,
                "metric": ["integrations"] * 4,
                "measured_at": utc(*["2025-03-01"] * 4),
                "value": [3.0, 0.0, 5.0, 1.0],
            }
        ),
    }


def to_arrow(frame: pd.DataFrame) -> pa.Table:
    """Arrow table keeping NaN as NaN (pandas' own writer turns it into null)."""
    return pa.table(
        {name: pa.array(col, from_pandas=False) for name, col in frame.items()}
    )


def write_world(root: Path, frames: dict[str, pd.DataFrame], csv=()) -> Path:
    """Write each frame as ``<table>/part-0.parquet``, or ``<table>.csv``."""
    root.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        if name in csv:
            frame.to_csv(root / f"{name}.csv", index=False)
        else:
            (root / name).mkdir(exist_ok=True)
            pq.write_table(to_arrow(frame), root / name / "part-0.parquet")
    return root
