"""The bad-input catalogue: each case is one mutation of the base world.

A :class:`Case` names the mutation, how the world is written (Parquet, or CSV
for some tables, plus raw edits of the written files), and the outcome:

* ``error`` and ``message``: the exact exception class and whole message;
* ``dropped``: for row-level problems, the ``table.column`` counts that
  ``drop_invalid_rows`` reports instead of raising (the warning text is the
  error message reworded, see ``test_bad_inputs.as_warning``);
* neither: the input is acceptable and passes the contract unchanged.

``{root}`` in a message stands for ``repr(str(world folder))``. Counts and
examples follow from the base world in :mod:`bad_inputs.world` and the edit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from healthlab.errors import (
    ColumnTypeError,
    DuplicateKeyError,
    EmptyTableError,
    MissingColumnError,
    MissingTableError,
    NullValueError,
    OutOfRangeError,
    SourceError,
    TimestampError,
    UnknownAccountError,
)

FIX_ROWS = "fix the export or set drop_invalid_rows in the score definition."
FIX_TIME = "export timestamps in UTC with their offset, e.g. '2026-01-31T12:00:00Z'."
FIX_TYPE = "change the column's type in the export."
FIX_COL = "rename the column in the export."

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


@dataclass(frozen=True)
class Case:
    """One bad (or awkward but acceptable) input and its expected outcome."""

    id: str
    mutate: Callable[[dict[str, pd.DataFrame]], object]
    error: type | None = None
    message: str | None = None
    dropped: dict[str, int] = field(default_factory=dict)
    csv: tuple[str, ...] = ()
    raw: Callable[[Path], object] | None = None
    # outcome when dropping is allowed but cannot help: (class, message)
    drop_error: tuple[type, str] | None = None


def _set(table: str, column: str, rows, values):
    """Mutation: put `values` at `rows` of `table.column`."""

    def edit(frames):
        frame = frames[table]
        if column in frame and frame[column].dtype.kind in "iu":
            frame[column] = frame[column].astype(float)
        frame.loc[rows, column] = values

    return edit


def _replace(table: str, **columns):
    """Mutation: replace whole columns of `table`."""

    def edit(frames):
        frames[table] = frames[table].assign(**columns)

    return edit


def _drop_table(table: str):
    return lambda frames: frames.pop(table)


def _drop_column(table: str, column: str):
    def edit(frames):
        frames[table] = frames[table].drop(columns=column)

    return edit


def _empty(table: str):
    def edit(frames):
        frames[table] = frames[table].iloc[:0]

    return edit


def _row(where, n, problem, examples=None, label="examples"):
    rows = "1 row has" if n == 1 else f"{n:,} rows have"
    detail = f" ({label}: {examples})" if examples is not None else ""
    return f"{where}: {rows} {problem}{detail}; {FIX_ROWS}"


def _latin1_accounts(root: Path) -> None:
    csv = root / "accounts.csv"
    text = csv.read_text(encoding="utf-8").replace("Acme", "Café Müller")
    csv.write_bytes(text.encode("latin-1"))


def _delimiter(table: str, sep: str):
    def edit(root: Path) -> None:
        csv = root / f"{table}.csv"
        csv.write_text(csv.read_text().replace(",", sep))

    return edit


def _csv_text(table: str, old: str, new: str, count: int = -1):
    def edit(root: Path) -> None:
        csv = root / f"{table}.csv"
        csv.write_text(csv.read_text().replace(old, new, count))

    return edit


def _naive(table: str, column: str):
    def edit(frames):
        frames[table][column] = frames[table][column].dt.tz_localize(None)

    return edit


def _noop(frames) -> None:
    return None


# ---------------------------------------------------------------------------
# data cases

DATA_CASES: list[Case] = [
    # -- missing tables and columns ------------------------------------------
    Case(
        "missing-table-accounts",
        _drop_table("accounts"),
        MissingTableError,
        "accounts: required table is missing from {root} (tables found: "
        f"{[t for t in ALL_TABLES if t != 'accounts']!r}); provide it as "
        "accounts/ (Parquet files), accounts.parquet or accounts.csv, or as a "
        "table named accounts.",
    ),
    Case(
        "missing-table-sessions",
        _drop_table("sessions"),
        MissingTableError,
        "sessions: required table is missing from {root} (tables found: "
        f"{[t for t in ALL_TABLES if t != 'sessions']!r}); provide it as "
        "sessions/ (Parquet files), sessions.parquet or sessions.csv, or as a "
        "table named sessions.",
    ),
    Case("missing-optional-table-ratings", _drop_table("ratings")),
    Case(
        "missing-column-accounts-csm",
        _drop_column("accounts", "csm"),
        MissingColumnError,
        "accounts.csm: required column is missing (columns found: ['account_id', "
        "'name', 'industry', 'size_band', 'app_type', 'created_at', 'arr']); "
        f"{FIX_COL}",
    ),
    Case(
        "missing-column-page-loads-items-loaded",
        _drop_column("page_loads", "items_loaded"),
        MissingColumnError,
        "page_loads.items_loaded: required column is missing (columns found: "
        "['account_id', 'page', 'loaded_at', 'load_ms', 'items_requested']); "
        f"{FIX_COL}",
    ),
    Case(
        "missing-column-nps-score",
        _drop_column("nps_responses", "score"),
        MissingColumnError,
        "nps_responses.score: required column is missing (columns found: "
        "['account_id', 'responded_at', 'user_id', 'persona']); "
        f"{FIX_COL}",
    ),
    Case("missing-optional-column-arr", _drop_column("accounts", "arr")),
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
        _replace("sessions", duration_s=["1m"] * 8),
        ColumnTypeError,
        "sessions.duration_s: 8 rows have string values where the contract "
        f"expects an integer or float (examples: ['1m']); {FIX_TYPE}",
    ),
    Case(
        "wrong-dtype-stars-boolean",
        _replace("ratings", stars=[True, False, True]),
        ColumnTypeError,
        "ratings.stars: 3 rows have boolean values where the contract expects "
        f"an integer or float (examples: [False, True]); {FIX_TYPE}",
    ),
    Case(
        "wrong-dtype-account-id-float",
        _replace("nps_invitations", account_id=[1.5, 2.5, 3.5, 4.5]),
        ColumnTypeError,
        "nps_invitations.account_id: 4 rows have float64 values where the "
        "contract expects a string or integer id (examples: [1.5, 2.5, 3.5, "
        f"4.5]); {FIX_TYPE}",
    ),
    Case(
        "wrong-dtype-created-at-text",
        _replace("accounts", created_at=["2025-01-01T00:00:00Z"] * 4),
        TimestampError,
        "accounts.created_at: 4 rows have string values where the contract "
        "expects a time-zone-aware timestamp (examples: ['2025-01-01T00:00:00Z']);"
        f" {FIX_TIME}",
    ),
    Case(
        "wrong-dtype-account-ids-mixed-kinds",
        _replace("churn", account_id=[4]),
        ColumnTypeError,
        "churn.account_id: 1 row has int64 values where accounts.account_id "
        "holds string ids (examples: [4]); export account ids with one type in "
        "every table.",
    ),
    Case(
        "wrong-dtype-epoch-seconds",
        _replace("accounts", created_at=[1735689600] * 4),
        ColumnTypeError,
        "accounts.created_at: 4 rows have int64 values where the contract "
        f"expects a time-zone-aware timestamp (examples: [1735689600]); {FIX_TYPE}",
    ),
    Case(
        "wrong-dtype-dates-not-instants",
        _replace("accounts", created_at=[dt.date(2025, 1, 1)] * 4),
        ColumnTypeError,
        "accounts.created_at: 4 rows have date values where the contract "
        f"expects a time-zone-aware timestamp (examples: ['2025-01-01']); {FIX_TYPE}",
    ),
    # -- empty tables ------------------------------------------------------------
    Case(
        "empty-accounts",
        _empty("accounts"),
        EmptyTableError,
        "accounts: table has 0 rows; the contract requires at least one row.",
    ),
    Case(
        "empty-sessions",
        _empty("sessions"),
        EmptyTableError,
        "sessions: table has 0 rows; the contract requires at least one row.",
    ),
    Case("empty-optional-ratings", _empty("ratings")),
    Case(
        "empty-sessions-csv",
        _empty("sessions"),
        EmptyTableError,
        "sessions: table has 0 rows; the contract requires at least one row.",
        csv=("sessions",),
    ),
    Case("empty-optional-ratings-csv-header-only", _empty("ratings"), csv=("ratings",)),
    Case(
        "empty-csv-file",
        _noop,
        MissingColumnError,
        "ratings.account_id: required column is missing (columns found: "
        f"['column0']); {FIX_COL}",
        csv=("ratings",),
        raw=lambda root: (root / "ratings.csv").write_bytes(b""),
    ),
    # -- all-null columns --------------------------------------------------------
    Case(
        "all-null-duration",
        _replace("sessions", duration_s=[np.nan] * 8),
        NullValueError,
        _row(
            "sessions.duration_s",
            8,
            "null or NaN values",
            "['a1', 'a2', 'a3', 'a4']",
            "accounts",
        ),
        drop_error=(
            EmptyTableError,
            "sessions: 0 rows are left after dropping 8 invalid rows; fix the "
            "export, the contract requires at least one row.",
        ),
    ),
    Case(
        "all-nan-custom-value",
        _replace("custom_metrics", value=[np.nan] * 4),
        NullValueError,
        _row(
            "custom_metrics.value",
            4,
            "null or NaN values",
            "['a1', 'a2', 'a3', 'a4']",
            "accounts",
        ),
        {"custom_metrics.value": 4},
    ),
    Case(
        "all-null-industry",
        _replace("accounts", industry=[None] * 4),
        NullValueError,
        _row(
            "accounts.industry",
            4,
            "null values",
            "['a1', 'a2', 'a3', 'a4']",
            "accounts",
        ),
        drop_error=(
            EmptyTableError,
            "accounts: 0 rows are left after dropping 4 invalid rows; fix the "
            "export, the contract requires at least one row.",
        ),
    ),
    Case(
        "all-null-account-id",
        _replace("accounts", account_id=[None] * 4),
        NullValueError,
        _row("accounts.account_id", 4, "null values"),
        drop_error=(
            EmptyTableError,
            "accounts: 0 rows are left after dropping 4 invalid rows; fix the "
            "export, the contract requires at least one row.",
        ),
    ),
    Case("all-null-optional-arr", _replace("accounts", arr=[None] * 4)),
    # -- NaN and inf ---------------------------------------------------------------
    Case(
        "nan-load-ms",
        _set("page_loads", "load_ms", [1], np.nan),
        NullValueError,
        _row("page_loads.load_ms", 1, "null or NaN values", "['a1']", "accounts"),
        {"page_loads.load_ms": 1},
    ),
    Case(
        "inf-duration",
        _set("sessions", "duration_s", [2, 3], np.inf),
        OutOfRangeError,
        _row("sessions.duration_s", 2, "infinite values", "[inf]"),
        {"sessions.duration_s": 2},
    ),
    Case(
        "minus-inf-custom-value",
        _set("custom_metrics", "value", [0], -np.inf),
        OutOfRangeError,
        _row("custom_metrics.value", 1, "infinite values", "[-inf]"),
        {"custom_metrics.value": 1},
    ),
    Case(
        "nan-rapport-rating",
        _set("rapport", "rating", [1], np.nan),
        NullValueError,
        _row("rapport.rating", 1, "null or NaN values", "['a2']", "accounts"),
        {"rapport.rating": 1},
    ),
    Case(
        "nan-text-in-csv",
        _noop,
        NullValueError,
        _row("sessions.duration_s", 1, "null or NaN values", "['a1']", "accounts"),
        {"sessions.duration_s": 1},
        csv=("sessions",),
        raw=_csv_text("sessions", ",60.0", ",NaN"),
    ),
    # -- durations and other bounds ----------------------------------------------
    Case(
        "negative-duration",
        _set("sessions", "duration_s", [0, 5], [-5.0, -0.5]),
        OutOfRangeError,
        _row("sessions.duration_s", 2, "values outside [0, 86400]", "[-5.0, -0.5]"),
        {"sessions.duration_s": 2},
    ),
    Case(
        "duration-over-24h",
        _set("sessions", "duration_s", [7], 86400.5),
        OutOfRangeError,
        _row("sessions.duration_s", 1, "values outside [0, 86400]", "[86400.5]"),
        {"sessions.duration_s": 1},
    ),
    Case("duration-exactly-24h", _set("sessions", "duration_s", [7], 86400.0)),
    Case(
        "negative-load-ms",
        _set("page_loads", "load_ms", [2], -1.0),
        OutOfRangeError,
        _row("page_loads.load_ms", 1, "values below 0", "[-1.0]"),
        {"page_loads.load_ms": 1},
    ),
    Case(
        "negative-arr",
        _set("accounts", "arr", [0], -10.0),
        OutOfRangeError,
        _row("accounts.arr", 1, "values below 0", "[-10.0]"),
        # dropping account a1 makes its events unknown: they go too
        {
            "accounts.arr": 1,
            "sessions.account_id": 2,
            "page_loads.account_id": 2,
            "nps_responses.account_id": 1,
            "nps_invitations.account_id": 1,
            "touchpoints.account_id": 1,
            "rapport.account_id": 1,
            "custom_metrics.account_id": 1,
        },
    ),
    # -- ratings, NPS and page loads ---------------------------------------------
    Case(
        "stars-0",
        _set("ratings", "stars", [0], 0),
        OutOfRangeError,
        _row("ratings.stars", 1, "values outside [1, 5]", "[0.0]"),
        {"ratings.stars": 1},
    ),
    Case(
        "stars-6",
        _set("ratings", "stars", [1, 2], 6),
        OutOfRangeError,
        _row("ratings.stars", 2, "values outside [1, 5]", "[6.0]"),
        {"ratings.stars": 2},
    ),
    Case(
        "stars-0-integer-column",
        _replace("ratings", stars=np.array([0, 5, 6], dtype="int64")),
        OutOfRangeError,
        _row("ratings.stars", 2, "values outside [1, 5]", "[0, 6]"),
        {"ratings.stars": 2},
    ),
    Case(
        "nps-11",
        _set("nps_responses", "score", [0], 11),
        OutOfRangeError,
        _row("nps_responses.score", 1, "values outside [0, 10]", "[11.0]"),
        {"nps_responses.score": 1},
    ),
    Case(
        "nps-minus-1",
        _set("nps_responses", "score", [1], -1),
        OutOfRangeError,
        _row("nps_responses.score", 1, "values outside [0, 10]", "[-1.0]"),
        {"nps_responses.score": 1},
    ),
    Case(
        "rapport-rating-0",
        _set("rapport", "rating", [0], 0.0),
        OutOfRangeError,
        _row("rapport.rating", 1, "values outside [1, 5]", "[0.0]"),
        {"rapport.rating": 1},
    ),
    Case(
        "items-loaded-above-requested",
        _set("page_loads", "items_loaded", [1, 2], [11.0, 9.0]),
        OutOfRangeError,
        _row(
            "page_loads.items_loaded",
            2,
            "items_loaded above items_requested",
            "[(9.0, 8.0), (11.0, 10.0)]",
        ),
        {"page_loads.items_loaded": 2},
    ),
    # -- categories -----------------------------------------------------------------
    Case(
        "app-type-desktop",
        _set("accounts", "app_type", [1], "desktop"),
        OutOfRangeError,
        _row("accounts.app_type", 1, "values not in ['web', 'mobile']", "['desktop']"),
        {
            "accounts.app_type": 1,
            "sessions.account_id": 2,
            "page_loads.account_id": 1,
            "nps_responses.account_id": 1,
            "nps_invitations.account_id": 1,
            "rapport.account_id": 1,
            "custom_metrics.account_id": 1,
        },
    ),
    Case(
        "touchpoint-kind-and-status",
        _replace("touchpoints", kind=["lunch", "call"], status=["held", "done"]),
        OutOfRangeError,
        _row(
            "touchpoints.kind",
            1,
            "values not in ['visit', 'qbr', 'meeting', 'call', 'email']",
            "['lunch']",
        ),
        {"touchpoints.kind": 1, "touchpoints.status": 1},
    ),
    Case(
        "rapport-persona-unknown",
        _set("rapport", "persona", [0], "ceo"),
        OutOfRangeError,
        _row(
            "rapport.persona",
            1,
            "values not in ['decision_maker', 'champion', 'business_user', "
            "'economic_buyer']",
            "['ceo']",
        ),
        {"rapport.persona": 1},
    ),
    # -- time stamps ---------------------------------------------------------
    Case(
        "naive-timestamps-parquet",
        _naive("sessions", "started_at"),
        TimestampError,
        "sessions.started_at: 8 rows have timestamps without a time zone "
        "(examples: ['2025-03-01 09:30:00', '2025-03-02 09:30:00', "
        "'2025-03-03 09:30:00', '2025-03-04 09:30:00', '2025-03-05 09:30:00', "
        f"...]); {FIX_TIME}",
    ),
    Case(
        "naive-timestamps-csv",
        _replace("ratings", rated_at=["2025-03-05 10:00:00"] * 3),
        TimestampError,
        "ratings.rated_at: 3 rows have timestamps without a time zone "
        f"(examples: ['2025-03-05 10:00:00']); {FIX_TIME}",
        csv=("ratings",),
    ),
    Case(
        "mixed-naive-and-aware-csv",
        _replace(
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
        _replace(
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
        _replace("ratings", rated_at=["yesterday", "2025-03-06T10:00:00Z", "soon"]),
        TimestampError,
        "ratings.rated_at: 3 rows have string values where the contract expects "
        "a time-zone-aware timestamp (examples: ['2025-03-06T10:00:00Z', "
        f"'soon', 'yesterday']); {FIX_TIME}",
        csv=("ratings",),
    ),
    Case(
        "future-timestamps-allowed",
        _set("sessions", "started_at", [7], pd.Timestamp("2099-01-01", tz="UTC")),
    ),
    # -- keys and accounts -----------------------------------------------------------
    Case(
        "duplicate-account-ids",
        _set("accounts", "account_id", [3], "a1"),
        DuplicateKeyError,
        "accounts.account_id: 2 rows have duplicated values (examples: ['a1']); "
        "each account must appear once.",
    ),
    Case(
        "duplicate-churn-rows",
        lambda f: f.__setitem__("churn", pd.concat([f["churn"]] * 3)),
        DuplicateKeyError,
        "churn.account_id: 3 rows have duplicated values (examples: ['a4']); "
        "each account must appear once.",
    ),
    Case(
        "events-for-unknown-accounts",
        _set("sessions", "account_id", [0, 1, 2], ["zz", "zz", "yy"]),
        UnknownAccountError,
        _row(
            "sessions.account_id", 3, "account_ids absent from accounts", "['yy', 'zz']"
        ),
        {"sessions.account_id": 3},
    ),
    Case(
        "nps-for-unknown-account",
        _set("nps_responses", "account_id", [2], "a9"),
        UnknownAccountError,
        _row(
            "nps_responses.account_id", 1, "account_ids absent from accounts", "['a9']"
        ),
        {"nps_responses.account_id": 1},
    ),
    Case(
        "churn-for-unknown-account",
        _replace("churn", account_id=["gone"]),
        UnknownAccountError,
        _row("churn.account_id", 1, "account_ids absent from accounts", "['gone']"),
        {"churn.account_id": 1},
    ),
    Case(
        "account-with-no-users",
        lambda f: f.__setitem__(
            "sessions", f["sessions"][f["sessions"]["account_id"] != "a4"]
        ),
    ),
    Case(
        "null-user-id",
        _set("sessions", "user_id", [3], None),
        NullValueError,
        _row("sessions.user_id", 1, "null values", "['a2']", "accounts"),
        {"sessions.user_id": 1},
    ),
    # -- CSV files ----------------------------------------------------------------
    Case(
        "csv-with-byte-order-mark-and-crlf",
        _noop,
        csv=("ratings",),
        raw=lambda root: (root / "ratings.csv").write_bytes(
            b"\xef\xbb\xbf"
            + (root / "ratings.csv").read_bytes().replace(b"\n", b"\r\n")
        ),
    ),
    Case(
        "non-utf8-csv",
        _noop,
        SourceError,
        "Cannot read table 'accounts' from {csv}: InvalidInputException: the "
        "file is not UTF-8 encoded; re-export it as UTF-8.",
        csv=("accounts",),
        raw=_latin1_accounts,
    ),
    # DuckDB's sniffer recognises ; | and tab delimiters: such files read fine
    Case(
        "csv-semicolon-delimiter-sniffed",
        _noop,
        csv=("ratings",),
        raw=_delimiter("ratings", ";"),
    ),
    Case(
        "csv-caret-delimiter",
        _noop,
        MissingColumnError,
        "ratings.account_id: required column is missing (columns found: "
        f"['account_id^rated_at^stars']); {FIX_COL}",
        csv=("ratings",),
        raw=_delimiter("ratings", "^"),
    ),
    Case(
        "csv-text-in-numeric-column",
        _noop,
        ColumnTypeError,
        "page_loads.load_ms: 3 rows have string values where the contract "
        "expects an integer or float (examples: ['300.0', '450.0', 'n/a']); "
        f"{FIX_TYPE}",
        csv=("page_loads",),
        raw=_csv_text("page_loads", ",500.0,", ",n/a,"),
    ),
]


# ---------------------------------------------------------------------------
# score definition cases: an edit of the packaged default (a dict), the
# expected problems after "Invalid score definition '<file>': "

KNOWN = (
    "duration, retention, performance, loyalty, nps, touchpoints_held, "
    "touchpoint_cancellations, rapport, integrations"
)


@dataclass(frozen=True)
class DefinitionCase:
    id: str
    edit: Callable[[dict], object]
    problems: str


# whole files that are not a definition: text, and the message after the path
DEFINITION_FILES: list[tuple[str, str, str]] = [
    (
        "not-a-mapping",
        "- duration\n- retention\n",
        ": expected a mapping of keys, got list",
    ),
    ("not-yaml", "version: [unclosed\n", " is not valid YAML: "),
]

DEFINITION_CASES: list[DefinitionCase] = [
    DefinitionCase(
        "unknown-top-level-key", lambda d: d.update(colour="red"), "colour: unknown key"
    ),
    DefinitionCase(
        "unknown-nested-key",
        lambda d: d["indices"]["duration"].update(windw_days=30),
        "indices.duration.windw_days: unknown key",
    ),
    DefinitionCase(
        "weights-sum-to-zero",
        lambda d: d.update(weights={k: 0 for k in d["weights"]}),
        "weights: all weights are zero; give one index a weight > 0",
    ),
    DefinitionCase(
        "weights-empty",
        lambda d: d.update(weights={}),
        "weights: all weights are zero; give one index a weight > 0",
    ),
    DefinitionCase(
        "negative-weight",
        lambda d: d["weights"].update(nps=-5),
        "weights.nps: weight must be >= 0, got -5",
    ),
    DefinitionCase(
        "unknown-index-weight",
        lambda d: d["weights"].update(duraton=5),
        f"weights.duraton: unknown index 'duraton'; known: {KNOWN}",
    ),
    DefinitionCase(
        "overlapping-categories",
        lambda d: d["categories"][0].update(lower=65),
        "categories: 'Moderate' [40, 70) overlaps 'Strong' [65, 100)",
    ),
    DefinitionCase(
        "category-gap",
        lambda d: d["categories"][1].update(lower=45),
        "categories: gap between 'Weak' (upper 40) and 'Moderate' (lower 45)",
    ),
    DefinitionCase(
        "drop-invalid-unknown-table",
        lambda d: d.update(drop_invalid_rows=["session"]),
        "drop_invalid_rows: unknown table 'session'; known: "
        + ", ".join(
            [
                "accounts",
                "churn",
                "sessions",
                "page_loads",
                "ratings",
                "nps_responses",
                "nps_invitations",
                "touchpoints",
                "rapport",
                "custom_metrics",
            ]
        ),
    ),
    DefinitionCase(
        "missing-version", lambda d: d.pop("version"), "version: required key missing"
    ),
]
