"""Hand-built report frames: hostile names, two as-of dates, a tiny world.

Shared by ``test_reports.py`` (report data) and ``test_report_publishing.py``
(the published portfolio report and index page); the frames themselves are
fixtures of ``conftest.py``.
"""

from __future__ import annotations

import pandas as pd

HOSTILE = "<script>alert(1)</script>"
CATS = [("Strong", 70.0, 100.0), ("Moderate", 40.0, 70.0), ("Weak", 0.0, 40.0)]
LABELS = [c[0] for c in CATS]
SEP, OCT = pd.Timestamp("2026-09-30"), pd.Timestamp("2026-10-31")


def hand_built_world(root, accounts, scores, indices, metrics):
    """A source folder (accounts, sessions) and a store holding the frames."""
    from healthlab.definition import load_definition
    from healthlab.store import Store
    from healthlab.store_layout import SCHEMA

    source = root / "source"
    source.mkdir()
    utc = pd.Timestamp("2024-01-01", tz="UTC")
    accounts.assign(
        industry="retail",
        size_band="smb",
        app_type="web",
        created_at=utc,
    ).to_parquet(source / "accounts.parquet")
    pd.DataFrame(
        {
            "account_id": ["a1", "a2"],
            "user_id": ["u1", "u2"],
            "started_at": pd.to_datetime(["2026-01-05", "2026-10-30"], utc=True),
            "duration_s": [60.0, 90.0],
        }
    ).to_parquet(source / "sessions.parquet")

    definition = load_definition()
    version = definition.version

    def full(frame, table):
        frame = frame.assign(definition_version=version)
        for col in SCHEMA[table]:
            if col not in frame:
                frame[col] = None
        return frame

    store = Store(root / "healthlab.duckdb")
    store.write_definition(definition)
    alerts = pd.DataFrame(
        {
            "account_id": ["a2"],
            "as_of": [OCT],
            "kind": ["category_change"],
            "previous_category": ["Moderate"],
            "category": ["Weak"],
            "previous_score": [45.0],
            "score": [30.0],
            "change": [-15.0],
            "top_index": ["duration"],
            "top_index_change": [-8.0],
            "message": ["moved to Weak"],
        }
    )
    store.write_scores(
        full(scores, "score_history"),
        full(indices, "index_history"),
        full(metrics, "metric_history"),
        full(alerts, "alerts"),
    )
    return source, store.path, version
