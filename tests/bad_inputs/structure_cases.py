"""Bad-input cases about the shape of a source, not the values in its rows.

Which tables and columns exist and with which types, empty tables, how time
stamps are encoded, and how CSV files are written. No row can be dropped to
mend these: with ``drop_invalid_rows`` a case raises as it does without.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from bad_inputs.cases import (
    FIX_COL,
    FIX_TIME,
    FIX_TYPE,
    Case,
    change_csv_delimiter,
    drop_column,
    drop_table,
    empty_table,
    naive_timestamps,
    no_change,
    replace_columns,
    replace_csv_text,
    set_values,
)
from healthlab.errors import (
    ColumnTypeError,
    EmptyTableError,
    MissingColumnError,
    MissingTableError,
    SourceError,
    TimestampError,
)

ALL_TABLES = [
    "accounts",
    "churn",
    "custom_metrics",
    "nps_invitations",
    "nps_responses",
    "page_loads",
    "rapport",
    "ratings",
    "sessions",
    "touchpoints",
]


def _latin1_accounts(root: Path) -> None:
    csv = root / "accounts.csv"
    text = csv.read_text(encoding="utf-8").replace("Acme", "Café Müller")
    csv.write_bytes(text.encode("latin-1"))


SCHEMA_CASES: list[Case] = [
    # -- missing tables and columns ------------------------------------------
    Case(
        "missing-table-accounts",
        drop_table("accounts"),
        MissingTableError,
        "accounts: required table is missing from {root} (tables found: "
        f"{[t for t in ALL_TABLES if t != 'accounts']!r}); provide it as "
        "accounts/ (Parquet files), accounts.parquet or accounts.csv, or as a "
        "table named accounts.",
    ),
    Case(
        "missing-table-sessions",
        drop_table("sessions"),
        MissingTableError,
        "sessions: required table is missing from {root} (tables found: "
        f"{[t for t in ALL_TABLES if t != 'sessions']!r}); provide it as "
        "sessions/ (Parquet files), sessions.parquet or sessions.csv, or as a "
        "table named sessions.",
    ),
    Case("missing-optional-table-ratings", drop_table("ratings")),
    Case(
        "missing-column-accounts-csm",
        drop_column("accounts", "csm"),
        MissingColumnError,
        "accounts.csm: required column is missing (columns found: ['account_id', "
        "'name', 'industry', 'size_band', 'app_type', 'created_at', 'arr']); "
        f"{FIX_COL}",
    ),
    Case(
        "missing-column-page-loads-items-loaded",
        drop_column("page_loads", "items_loaded"),
        MissingColumnError,
        "page_loads.items_loaded: required column is missing (columns found: "
        "['account_id', 'page', 'loaded_at', 'load_ms', 'items_requested']); "
        f"{FIX_COL}",
    ),
    Case(
        "missing-column-nps-score",
        drop_column("nps_responses", "score"),
        MissingColumnError,
        "nps_responses.score: required column is missing (columns found: "
        "['account_id', 'responded_at', 'user_id', 'persona']); "
        f"{FIX_COL}",
    ),
    Case("missing-optional-column-arr", drop_column("accounts", "arr")),
    Case(
        "extra-columns-allowed",
        lambda f: [
            f.__setitem__("sessions", f["sessions"].assign(browser="firefox")),
            f.__setitem__("accounts", f["accounts"].assign(region=[1, 2, 3, 4])),
        ],
    ),
    # -- wrong types -----------------------------------------------------------
    Case(
        "wrong-dtype-duration-text",
        replace_columns("sessions", duration_s=["1m"] * 8),
        ColumnTypeError,
        "sessions.duration_s: 8 rows have string values where the contract "
        f"expects an integer or float (examples: ['1m']); {FIX_TYPE}",
    ),
    Case(
        "wrong-dtype-stars-boolean",
        replace_columns("ratings", stars=[True, False, True]),
        ColumnTypeError,
        "ratings.stars: 3 rows have boolean values where the contract expects "
        f"an integer or float (examples: [False, True]); {FIX_TYPE}",
    ),
    Case(
        "wrong-dtype-account-id-float",
        replace_columns("nps_invitations", account_id=[1.5, 2.5, 3.5, 4.5]),
        ColumnTypeError,
        "nps_invitations.account_id: 4 rows have float64 values where the "
        "contract expects a string or integer id (examples: [1.5, 2.5, 3.5, "
        f"4.5]); {FIX_TYPE}",
    ),
    Case(
        "wrong-dtype-created-at-text",
        replace_columns("accounts", created_at=["2025-01-01T00:00:00Z"] * 4),
        TimestampError,
        "accounts.created_at: 4 rows have string values where the contract "
        "expects a time-zone-aware timestamp (examples: ['2025-01-01T00:00:00Z']);"
        f" {FIX_TIME}",
    ),
    Case(
        "wrong-dtype-account-ids-mixed-kinds",
        replace_columns("churn", account_id=[4]),
        ColumnTypeError,
        "churn.account_id: 1 row has int64 values where accounts.account_id "
        "holds string ids (examples: [4]); export account ids with one type in "
        "every table.",
    ),
    Case(
        "wrong-dtype-epoch-seconds",
        replace_columns("accounts", created_at=[1735689600] * 4),
        ColumnTypeError,
        "accounts.created_at: 4 rows have int64 values where the contract "
        f"expects a time-zone-aware timestamp (examples: [1735689600]); {FIX_TYPE}",
    ),
    Case(
        "wrong-dtype-dates-not-instants",
        replace_columns("accounts", created_at=[dt.date(2025, 1, 1)] * 4),
        ColumnTypeError,
        "accounts.created_at: 4 rows have date values where the contract "
        f"expects a time-zone-aware timestamp (examples: ['2025-01-01']); {FIX_TYPE}",
    ),
    # -- empty tables ------------------------------------------------------------
    Case(
        "empty-accounts",
        empty_table("accounts"),
        EmptyTableError,
        "accounts: table has 0 rows; the contract requires at least one row.",
    ),
    Case(
        "empty-sessions",
        empty_table("sessions"),
        EmptyTableError,
        "sessions: table has 0 rows; the contract requires at least one row.",
    ),
    Case("empty-optional-ratings", empty_table("ratings")),
    Case(
        "empty-sessions-csv",
        empty_table("sessions"),
        EmptyTableError,
        "sessions: table has 0 rows; the contract requires at least one row.",
        csv=("sessions",),
    ),
    Case(
        "empty-optional-ratings-csv-header-only",
        empty_table("ratings"),
        csv=("ratings",),
    ),
    Case(
        "empty-csv-file",
        no_change,
        MissingColumnError,
        "ratings.account_id: required column is missing (columns found: "
        f"['column0']); {FIX_COL}",
        csv=("ratings",),
        raw=lambda root: (root / "ratings.csv").write_bytes(b""),
    ),
]

TIMESTAMP_CASES: list[Case] = [
    # -- time stamps ---------------------------------------------------------
    Case(
        "naive-timestamps-parquet",
        naive_timestamps("sessions", "started_at"),
        TimestampError,
        "sessions.started_at: 8 rows have timestamps without a time zone "
        "(examples: ['2025-03-01 09:30:00', '2025-03-02 09:30:00', "
        "'2025-03-03 09:30:00', '2025-03-04 09:30:00', '2025-03-05 09:30:00', "
        f"...]); {FIX_TIME}",
    ),
    Case(
        "naive-timestamps-csv",
        replace_columns("ratings", rated_at=["2025-03-05 10:00:00"] * 3),
        TimestampError,
        "ratings.rated_at: 3 rows have timestamps without a time zone "
        f"(examples: ['2025-03-05 10:00:00']); {FIX_TIME}",
        csv=("ratings",),
    ),
    Case(
        "mixed-naive-and-aware-csv",
        replace_columns(
            "ratings",
            rated_at=[
                "2025-03-05T10:00:00Z",
                "2025-03-06T10:00:00",
                "2025-03-07T10:00:00+02:00",
            ],
        ),
        TimestampError,
        "ratings.rated_at: 1 row has timestamps without a time zone "
        f"(examples: ['2025-03-06T10:00:00']); {FIX_TIME}",
        csv=("ratings",),
    ),
    Case(
        "mixed-offsets-csv-allowed",
        replace_columns(
            "ratings",
            rated_at=[
                "2025-03-05T10:00:00Z",
                "2025-03-06T12:00:00+02:00",
                "2025-03-07T05:00:00-05:00",
            ],
        ),
        csv=("ratings",),
    ),
    Case(
        "non-utc-zone-parquet-allowed",
        lambda f: f.__setitem__(
            "sessions",
            f["sessions"].assign(
                started_at=f["sessions"]["started_at"].dt.tz_convert("Asia/Tokyo")
            ),
        ),
    ),
    Case(
        "unparseable-timestamps-csv",
        replace_columns(
            "ratings", rated_at=["yesterday", "2025-03-06T10:00:00Z", "soon"]
        ),
        TimestampError,
        "ratings.rated_at: 3 rows have string values where the contract expects "
        "a time-zone-aware timestamp (examples: ['2025-03-06T10:00:00Z', "
        f"'soon', 'yesterday']); {FIX_TIME}",
        csv=("ratings",),
    ),
    Case(
        "future-timestamps-allowed",
        set_values("sessions", "started_at", [7], pd.Timestamp("2099-01-01", tz="UTC")),
    ),
]

CSV_CASES: list[Case] = [
    # -- CSV files ----------------------------------------------------------------
    Case(
        "csv-with-byte-order-mark-and-crlf",
        no_change,
        csv=("ratings",),
        raw=lambda root: (root / "ratings.csv").write_bytes(
            b"\xef\xbb\xbf"
            + (root / "ratings.csv").read_bytes().replace(b"\n", b"\r\n")
        ),
    ),
    Case(
        "non-utf8-csv",
        no_change,
        SourceError,
        "Cannot read table 'accounts' from {csv}: InvalidInputException: the "
        "file is not UTF-8 encoded; re-export it as UTF-8.",
        csv=("accounts",),
        raw=_latin1_accounts,
    ),
    # DuckDB's sniffer recognises ; | and tab delimiters: such files read fine
    Case(
        "csv-semicolon-delimiter-sniffed",
        no_change,
        csv=("ratings",),
        raw=change_csv_delimiter("ratings", ";"),
    ),
    Case(
        "csv-caret-delimiter",
        no_change,
        MissingColumnError,
        "ratings.account_id: required column is missing (columns found: "
        f"['account_id^rated_at^stars']); {FIX_COL}",
        csv=("ratings",),
        raw=change_csv_delimiter("ratings", "^"),
    ),
    Case(
        "csv-text-in-numeric-column",
        no_change,
        ColumnTypeError,
        "page_loads.load_ms: 3 rows have string values where the contract "
        "expects an integer or float (examples: ['300.0', '450.0', 'n/a']); "
        f"{FIX_TYPE}",
        csv=("page_loads",),
        raw=replace_csv_text("page_loads", ",500.0,", ",n/a,"),
    ),
]
