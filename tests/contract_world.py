"""A small valid world for the data contract tests, built without the package.

``make_world`` returns the frames; ``validate`` writes them to a temporary
folder (Parquet, or CSV for the tables named) and runs
:func:`healthlab.contract.validate_source` on it. The ``FIX_*`` constants are
the advice that ends each contract error message.
"""

from __future__ import annotations

import pandas as pd
from bad_inputs.world import utc as _utc
from bad_inputs.world import write_world

from healthlab.contract import validate_source
from healthlab.engine import open_source
from healthlab.errors import DroppedRowsWarning

FIX_ROWS = "fix the export or set drop_invalid_rows in the score definition."
FIX_TIME = "export timestamps in UTC with their offset, e.g. '2026-01-31T12:00:00Z'."
FIX_TYPE = "change the column's type in the export."


# ---------------------------------------------------------------------------
# a small valid world, built independently of the package


def make_world() -> dict[str, pd.DataFrame]:
    """Four accounts (two web, two mobile) with a few rows in every table."""
    ids = ["a1", "a2", "a3", "a4"]
    return {
        "accounts": pd.DataFrame(
            {
                "account_id": ids,
                "name": ["Acme", "Birch & Co", "Cobalt", "Dune"],
                "csm": ["Ann", "Ann", "Bob", "Bob"],
                "industry": ["retail", "retail", "media", "media"],
                "size_band": ["small", "large", "small", "large"],
                "app_type": ["web", "web", "mobile", "mobile"],
                "created_at": _utc(
                    "2025-01-01", "2025-01-02", "2025-01-03", "2025-01-04"
                ),
                "arr": [1000.0, 2000.0, 3000.0, 4000.0],
            }
        ),
        "churn": pd.DataFrame(
            {"account_id": ["a4"], "churned_at": _utc("2025-06-01T10:00:00")}
        ),
        "sessions": pd.DataFrame(
            {
                "account_id": ["a1", "a1", "a2", "a2", "a3", "a3", "a4", "a4"],
                "user_id": ["u1", "u2", "u1", "u2", "u1", "u2", "u1", "u2"],
                "started_at": _utc(*(f"2025-03-0{d}T09:30:00" for d in range(1, 9))),
                "duration_s": [60.0, 120.0, 180.0, 240.0, 300.0, 360.0, 420.0, 480.0],
            }
        ),
        "page_loads": pd.DataFrame(
            {
                "account_id": ["a1", "a1", "a2"],
                "page": ["home", "search", "home"],
                "loaded_at": _utc("2025-03-01", "2025-03-02", "2025-03-03"),
                "load_ms": [300.0, 450.0, 500.0],
                "items_requested": [10.0, 10.0, 8.0],
                "items_loaded": [10.0, 9.0, 8.0],
            }
        ),
        "ratings": pd.DataFrame(
            {
                "account_id": ["a3", "a4"],
                "rated_at": _utc("2025-03-05", "2025-03-06"),
                "stars": [4, 5],
            }
        ),
        "nps_responses": pd.DataFrame(
            {
                "account_id": ["a1", "a2", "a3"],
                "responded_at": _utc("2025-02-01", "2025-02-02", "2025-02-03"),
                "score": [9, 6, 10],
                "user_id": ["u1", None, "u2"],
                "persona": ["champion", None, "business_user"],
            }
        ),
        "nps_invitations": pd.DataFrame(
            {"account_id": ids, "sent_at": _utc(*["2025-01-20"] * 4)}
        ),
        "touchpoints": pd.DataFrame(
            {
                "account_id": ["a1", "a3"],
                "occurred_at": _utc("2025-02-10", "2025-02-11"),
                "kind": ["qbr", "call"],
                "status": ["held", "cancelled"],
                "csm": ["Ann", "Bob"],
            }
        ),
        "rapport": pd.DataFrame(
            {
                "account_id": ["a1", "a2"],
                "rated_at": _utc("2025-02-15", "2025-02-16"),
                "persona": ["champion", "decision_maker"],
                "rating": [4.0, 3.0],
            }
        ),
        "custom_metrics": pd.DataFrame(
            {
                "account_id": ids,
                "metric": ["integrations"] * 4,
                "measured_at": _utc(*["2025-03-01"] * 4),
                "value": [3.0, 0.0, 5.0, 1.0],
            }
        ),
    }


def validate(tmp_path, frames, csv=(), **kwargs):
    return validate_source(
        open_source(write_world(tmp_path / "w", frames, csv)), **kwargs
    )


def dropped_warnings(record) -> list:
    # pytest.warns records every warning, including the backends' own
    return [w for w in record if issubclass(w.category, DroppedRowsWarning)]


def fetch(source, name) -> pd.DataFrame:
    return source.tables[name].to_pandas()
