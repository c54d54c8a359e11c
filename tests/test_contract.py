"""Tests of the data contract validator (healthlab.contract).

Each case builds a small world by hand (pandas frames written to Parquet or
CSV in a temporary folder), breaks one rule and matches the whole error
message. Expected counts and examples follow from how the case was built.
"""

from __future__ import annotations

import logging
import re
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from bad_inputs.world import to_arrow, write_world
from bad_inputs.world import utc as _utc
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from healthlab.contract import validate_source
from healthlab.engine import open_source
from healthlab.errors import (
    ColumnTypeError,
    DroppedRowsWarning,
    DuplicateKeyError,
    EmptyTableError,
    HealthlabError,
    MissingColumnError,
    MissingTableError,
    NullValueError,
    OutOfRangeError,
    ParameterError,
    SourceError,
    TimestampError,
    UnknownAccountError,
)

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


# ---------------------------------------------------------------------------
# a valid world passes untouched


def test_valid_world_passes_unchanged(tmp_path):
    frames = make_world()
    checked = validate(tmp_path, frames)

    assert checked.dropped_rows == {}
    assert set(checked.tables) == set(frames)
    for name, frame in frames.items():
        assert len(fetch(checked, name)) == len(frame), name


def test_valid_world_from_csv_passes(tmp_path):
    frames = make_world()
    checked = validate(tmp_path, frames, csv=("sessions", "ratings", "touchpoints"))

    got = fetch(checked, "sessions").sort_values("started_at")
    assert got["started_at"].dt.tz is not None
    assert got["duration_s"].tolist() == frames["sessions"]["duration_s"].tolist()


def test_nanosecond_utc_parquet_and_all_null_optional_column_pass(tmp_path):
    # pandas' default writer: timestamp[ns, tz=UTC], NaN and None as null
    frames = make_world()
    frames["accounts"]["plan"] = None
    frames["accounts"]["created_at"] = frames["accounts"]["created_at"].astype(
        "datetime64[ns, UTC]"
    )
    root = tmp_path / "w"
    for name, frame in frames.items():
        (root / name).mkdir(parents=True)
        frame.to_parquet(root / name / "part-0.parquet", index=False)

    checked = validate_source(open_source(root))

    created = fetch(checked, "accounts")["created_at"].sort_values()
    expected = frames["accounts"]["created_at"].sort_values()
    assert created.tolist() == expected.tolist()


def test_integer_ids_and_integer_measures_pass(tmp_path):
    frames = make_world()
    for frame in frames.values():
        frame["account_id"] = frame["account_id"].str[1:].astype("int64")
    frames["sessions"]["duration_s"] = frames["sessions"]["duration_s"].astype("int64")

    checked = validate(tmp_path, frames)

    assert checked.dropped_rows == {}


# ---------------------------------------------------------------------------
# structural violations


def test_missing_required_table(tmp_path):
    frames = make_world()
    del frames["sessions"]
    root = write_world(tmp_path / "w", frames)
    found = sorted(frames)

    with pytest.raises(MissingTableError) as info:
        validate_source(open_source(root))

    assert str(info.value) == (
        f"sessions: required table is missing from {str(root)!r} (tables found: "
        f"{found!r}); provide it as sessions/ (Parquet files), sessions.parquet "
        "or sessions.csv, or as a table named sessions."
    )


def test_missing_optional_table_is_fine(tmp_path):
    frames = make_world()
    del frames["page_loads"], frames["churn"]

    checked = validate(tmp_path, frames)

    assert "page_loads" not in checked.tables


def test_missing_required_column(tmp_path):
    frames = make_world()
    frames["sessions"] = frames["sessions"].drop(columns="duration_s")

    with pytest.raises(MissingColumnError) as info:
        validate(tmp_path, frames)

    assert str(info.value) == (
        "sessions.duration_s: required column is missing (columns found: "
        "['account_id', 'user_id', 'started_at']); rename the column in the export."
    )


def test_csv_with_unknown_delimiter_reports_missing_column(tmp_path):
    frames = make_world()
    root = write_world(tmp_path / "w", frames)
    csv = frames["ratings"].to_csv(index=False, sep="^")
    (root / "ratings").rename(tmp_path / "unused")
    (root / "ratings.csv").write_text(csv)

    with pytest.raises(MissingColumnError) as info:
        validate_source(open_source(root))

    assert str(info.value) == (
        "ratings.account_id: required column is missing (columns found: "
        "['account_id^rated_at^stars']); rename the column in the export."
    )


def test_non_utf8_csv_is_a_source_error(tmp_path):
    frames = make_world()
    root = write_world(tmp_path / "w", frames)
    (root / "accounts").rename(tmp_path / "unused")
    accounts = frames["accounts"].assign(name=["Café", "Müller", "Ørsted", "Dune"])
    (root / "accounts.csv").write_bytes(accounts.to_csv(index=False).encode("latin-1"))

    with pytest.raises(SourceError) as info:
        open_source(root)

    assert str(info.value) == (
        f"Cannot read table 'accounts' from {str(root / 'accounts.csv')!r}: "
        "InvalidInputException: the file is not UTF-8 encoded; re-export it as UTF-8."
    )


@pytest.mark.parametrize(
    ("table", "column", "values", "message"),
    [
        (
            "sessions",
            "duration_s",
            ["60", "1:00", "x", "60", "60", "60", "60", "60"],
            "sessions.duration_s: 8 rows have string values where the contract "
            "expects an integer or float (examples: ['1:00', '60', 'x']); " + FIX_TYPE,
        ),
        (
            "accounts",
            "account_id",
            [1.0, 2.0, 3.0, 4.0],
            "accounts.account_id: 4 rows have float64 values where the contract "
            "expects a string or integer id (examples: [1.0, 2.0, 3.0, 4.0]); "
            + FIX_TYPE,
        ),
        (
            "accounts",
            "csm",
            # the null stays out of the count; NaN would be a float value
            pd.array([1, 1, 2, None], dtype="Int64"),
            "accounts.csm: 3 rows have int64 values where the contract expects "
            "a string (examples: [1, 2]); " + FIX_TYPE,
        ),
        (
            "ratings",
            "rated_at",
            [1741132800, 1741219200],
            "ratings.rated_at: 2 rows have int64 values where the contract expects "
            "a time-zone-aware timestamp (examples: [1741132800, 1741219200]); "
            + FIX_TYPE,
        ),
        (
            "ratings",
            "stars",
            [True, False],
            "ratings.stars: 2 rows have boolean values where the contract expects "
            "an integer or float (examples: [False, True]); " + FIX_TYPE,
        ),
    ],
)
def test_wrong_column_type(tmp_path, table, column, values, message):
    frames = make_world()
    frames[table][column] = values

    with pytest.raises(ColumnTypeError) as info:
        validate(tmp_path, frames)

    assert str(info.value) == message


def test_account_ids_of_different_types(tmp_path):
    frames = make_world()
    frames["ratings"]["account_id"] = [3, 4]

    with pytest.raises(ColumnTypeError) as info:
        validate(tmp_path, frames)

    assert str(info.value) == (
        "ratings.account_id: 2 rows have int64 values where accounts.account_id "
        "holds string ids (examples: [3, 4]); export account ids with one type "
        "in every table."
    )


def test_naive_parquet_timestamps(tmp_path):
    frames = make_world()
    sessions = frames["sessions"]
    sessions["started_at"] = sessions["started_at"].dt.tz_localize(None)

    with pytest.raises(TimestampError) as info:
        validate(tmp_path, frames)

    assert str(info.value) == (
        "sessions.started_at: 8 rows have timestamps without a time zone "
        "(examples: ['2025-03-01 09:30:00', '2025-03-02 09:30:00', "
        "'2025-03-03 09:30:00', '2025-03-04 09:30:00', '2025-03-05 09:30:00', "
        f"...]); {FIX_TIME}"
    )


def test_naive_csv_timestamps(tmp_path):
    frames = make_world()
    ratings = frames["ratings"]
    ratings["rated_at"] = ratings["rated_at"].dt.strftime("%Y-%m-%d %H:%M:%S")

    with pytest.raises(TimestampError) as info:
        validate(tmp_path, frames, csv=("ratings",))

    assert str(info.value) == (
        "ratings.rated_at: 2 rows have timestamps without a time zone (examples: "
        f"['2025-03-05 00:00:00', '2025-03-06 00:00:00']); {FIX_TIME}"
    )


def test_csv_timestamps_mixing_offsets_and_none(tmp_path):
    # DuckDB reads such a column as TIMESTAMPTZ, taking the naive ones as UTC
    frames = make_world()
    frames["touchpoints"]["occurred_at"] = [
        "2025-02-10T08:00:00+02:00",
        "2025-02-11 09:15:00",
    ]

    with pytest.raises(TimestampError) as info:
        validate(tmp_path, frames, csv=("touchpoints",))

    assert str(info.value) == (
        "touchpoints.occurred_at: 1 row has timestamps without a time zone "
        f"(examples: ['2025-02-11 09:15:00']); {FIX_TIME}"
    )


def test_unparseable_csv_timestamps(tmp_path):
    frames = make_world()
    frames["rapport"]["rated_at"] = ["2025-02-15T00:00:00Z", "last tuesday"]

    with pytest.raises(TimestampError) as info:
        validate(tmp_path, frames, csv=("rapport",))

    assert str(info.value) == (
        "rapport.rated_at: 2 rows have string values where the contract expects "
        "a time-zone-aware timestamp (examples: ['2025-02-15T00:00:00Z', "
        f"'last tuesday']); {FIX_TIME}"
    )


def test_csv_value_beyond_the_type_sniffing_sample(tmp_path):
    # DuckDB types CSV columns from a sample; a later bad value fails at query
    frames = make_world()
    sessions = pd.concat([frames["sessions"]] * 2600, ignore_index=True)
    sessions["duration_s"] = sessions["duration_s"].astype(object)
    sessions.loc[len(sessions) - 1, "duration_s"] = "n/a"
    frames["sessions"] = sessions

    with pytest.raises(SourceError) as info:
        validate(tmp_path, frames, csv=("sessions",))

    assert re.fullmatch(
        r"sessions: the backend failed while checking the table "
        r"\(ConversionException: Conversion Error: CSV Error on Line: 20801\); "
        r"check that the files are readable UTF-8 CSV or Parquet\.",
        str(info.value),
    )


def test_empty_required_table(tmp_path):
    frames = make_world()
    frames["sessions"] = frames["sessions"].iloc[:0]

    with pytest.raises(EmptyTableError) as info:
        validate(tmp_path, frames)

    assert str(info.value) == (
        "sessions: table has 0 rows; the contract requires at least one row."
    )


def test_empty_optional_table_is_fine(tmp_path):
    frames = make_world()
    frames["ratings"] = frames["ratings"].iloc[:0]

    checked = validate(tmp_path, frames)

    assert len(fetch(checked, "ratings")) == 0


@pytest.mark.parametrize("drop", [False, True])
def test_duplicate_account_ids_always_raise(tmp_path, drop):
    frames = make_world()
    accounts = frames["accounts"]
    frames["accounts"] = pd.concat([accounts, accounts.iloc[[1, 1, 3]]])

    with pytest.raises(DuplicateKeyError) as info:
        validate(tmp_path, frames, drop_invalid=drop)

    assert str(info.value) == (
        "accounts.account_id: 5 rows have duplicated values (examples: "
        "['a2', 'a4']); each account must appear once."
    )


def test_duplicate_churn_rows(tmp_path):
    frames = make_world()
    frames["churn"] = pd.concat([frames["churn"]] * 2)

    with pytest.raises(DuplicateKeyError) as info:
        validate(tmp_path, frames)

    assert str(info.value) == (
        "churn.account_id: 2 rows have duplicated values (examples: ['a4']); "
        "each account must appear once."
    )


# ---------------------------------------------------------------------------
# row-level violations


@pytest.mark.parametrize(
    ("table", "column", "rows", "values", "error", "message"),
    [
        (
            "sessions",
            "duration_s",
            [0, 3, 5],
            [-5.0, 90000.0, -1.0],
            OutOfRangeError,
            "sessions.duration_s: 3 rows have values outside [0, 86400] "
            f"(examples: [-5.0, -1.0, 90000.0]); {FIX_ROWS}",
        ),
        (
            "sessions",
            "duration_s",
            [2],
            [np.inf],
            OutOfRangeError,
            f"sessions.duration_s: 1 row has infinite values (examples: [inf]); "
            f"{FIX_ROWS}",
        ),
        (
            "sessions",
            "duration_s",
            [1, 6],
            [np.nan, np.nan],
            NullValueError,
            "sessions.duration_s: 2 rows have null or NaN values (accounts: "
            f"['a1', 'a4']); {FIX_ROWS}",
        ),
        (
            "sessions",
            "user_id",
            [2, 4, 5],
            [None, None, None],
            NullValueError,
            "sessions.user_id: 3 rows have null values (accounts: ['a2', 'a3']); "
            f"{FIX_ROWS}",
        ),
        (
            "sessions",
            "account_id",
            [0],
            [None],
            NullValueError,
            f"sessions.account_id: 1 row has null values; {FIX_ROWS}",
        ),
        (
            "accounts",
            "created_at",
            [3],
            [pd.NaT],
            NullValueError,
            f"accounts.created_at: 1 row has null values (accounts: ['a4']); "
            f"{FIX_ROWS}",
        ),
        (
            "accounts",
            "app_type",
            [0, 2],
            ["desktop", "Web"],
            OutOfRangeError,
            "accounts.app_type: 2 rows have values not in ['web', 'mobile'] "
            f"(examples: ['Web', 'desktop']); {FIX_ROWS}",
        ),
        (
            "accounts",
            "arr",
            [1],
            [-10.0],
            OutOfRangeError,
            f"accounts.arr: 1 row has values below 0 (examples: [-10.0]); {FIX_ROWS}",
        ),
        (
            "ratings",
            "stars",
            [0, 1],
            [7, 0],
            OutOfRangeError,
            "ratings.stars: 2 rows have values outside [1, 5] (examples: [0, 7]); "
            + FIX_ROWS,
        ),
        (
            "nps_responses",
            "score",
            [1],
            [11],
            OutOfRangeError,
            "nps_responses.score: 1 row has values outside [0, 10] (examples: "
            f"[11]); {FIX_ROWS}",
        ),
        (
            "rapport",
            "rating",
            [0],
            [5.5],
            OutOfRangeError,
            "rapport.rating: 1 row has values outside [1, 5] (examples: [5.5]); "
            + FIX_ROWS,
        ),
        (
            "rapport",
            "persona",
            [1],
            ["cfo"],
            OutOfRangeError,
            "rapport.persona: 1 row has values not in ['decision_maker', "
            "'champion', 'business_user', 'economic_buyer'] (examples: ['cfo']); "
            + FIX_ROWS,
        ),
        (
            "page_loads",
            "load_ms",
            [2],
            [-300.0],
            OutOfRangeError,
            "page_loads.load_ms: 1 row has values below 0 (examples: [-300.0]); "
            + FIX_ROWS,
        ),
        (
            "page_loads",
            "items_loaded",
            [0, 2],
            [12.0, 9.5],
            OutOfRangeError,
            "page_loads.items_loaded: 2 rows have items_loaded above "
            f"items_requested (examples: [(9.5, 8.0), (12.0, 10.0)]); {FIX_ROWS}",
        ),
        (
            "touchpoints",
            "status",
            [0],
            ["missed"],
            OutOfRangeError,
            "touchpoints.status: 1 row has values not in ['held', 'cancelled'] "
            f"(examples: ['missed']); {FIX_ROWS}",
        ),
        (
            "custom_metrics",
            "value",
            [0, 3],
            [-np.inf, np.inf],
            OutOfRangeError,
            "custom_metrics.value: 2 rows have infinite values (examples: "
            f"[-inf, inf]); {FIX_ROWS}",
        ),
        (
            "sessions",
            "account_id",
            [0, 7],
            ["zz9", "a9"],
            UnknownAccountError,
            "sessions.account_id: 2 rows have account_ids absent from accounts "
            f"(examples: ['a9', 'zz9']); {FIX_ROWS}",
        ),
        (
            "churn",
            "account_id",
            [0],
            ["gone"],
            UnknownAccountError,
            "churn.account_id: 1 row has account_ids absent from accounts "
            f"(examples: ['gone']); {FIX_ROWS}",
        ),
    ],
)
def test_row_violation(tmp_path, table, column, rows, values, error, message):
    frames = make_world()
    frame = frames[table]
    if frame[column].dtype.kind in "iu" and any(pd.isna(v) for v in values):
        frame[column] = frame[column].astype("float64")
    if frame[column].dtype.kind == "M":
        frame[column] = frame[column].mask(frame.index.isin(rows))
    else:
        frame.loc[frame.index[rows], column] = values

    with pytest.raises(error) as info:
        validate(tmp_path, frames)

    assert str(info.value) == message


def test_row_violation_from_csv(tmp_path):
    frames = make_world()
    frames["ratings"]["stars"] = [4, 7]

    with pytest.raises(OutOfRangeError) as info:
        validate(tmp_path, frames, csv=("ratings",))

    assert str(info.value) == (
        f"ratings.stars: 1 row has values outside [1, 5] (examples: [7]); {FIX_ROWS}"
    )


def test_duckdb_file_source(tmp_path):
    import duckdb

    frames = make_world()
    frames["nps_responses"]["score"] = [9, -1, 12]
    path = tmp_path / "export.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("SET TimeZone = 'UTC'")
        for name, frame in frames.items():
            con.register("frame", to_arrow(frame))
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM frame")
            con.unregister("frame")

    with pytest.raises(OutOfRangeError) as info:
        validate_source(open_source(path))

    assert str(info.value) == (
        "nps_responses.score: 2 rows have values outside [0, 10] (examples: "
        f"[-1, 12]); {FIX_ROWS}"
    )


# ---------------------------------------------------------------------------
# dropping offending rows instead


def _break_sessions(frames):
    """Negative, NaN and too-long durations, a missing user, unknown accounts."""
    sessions = frames["sessions"]
    sessions.loc[[0, 1], "duration_s"] = [-5.0, 90000.0]
    sessions.loc[2, "duration_s"] = np.nan
    sessions.loc[3, "user_id"] = None
    # row 0 breaks two rules; it counts once, under the first (nulls, ranges,
    # then accounts)
    sessions.loc[[0, 6], "account_id"] = ["zz1", "zz2"]
    return sessions


def test_drop_invalid_rows_warns_with_counts(tmp_path):
    frames = make_world()
    sessions = _break_sessions(frames)

    with pytest.warns(DroppedRowsWarning) as record:
        checked = validate(tmp_path, frames, drop_invalid=True)
    record = dropped_warnings(record)

    assert [str(w.message) for w in record] == [
        "sessions.user_id: dropped 1 row with null values (accounts: ['a2']), as "
        "the score definition allows.",
        "sessions.duration_s: dropped 1 row with null or NaN values (accounts: "
        "['a2']), as the score definition allows.",
        "sessions.duration_s: dropped 2 rows with values outside [0, 86400] "
        "(examples: [-5.0, 90000.0]), as the score definition allows.",
        "sessions.account_id: dropped 1 row with account_ids absent from accounts "
        "(examples: ['zz2']), as the score definition allows.",
    ]
    assert all(w.filename == __file__ for w in record)
    assert checked.dropped_rows == {
        "sessions.user_id": 1,
        "sessions.duration_s": 3,
        "sessions.account_id": 1,
    }

    # the surviving rows are exactly those a plain pandas filter keeps
    keep = (
        sessions["user_id"].notna()
        & sessions["duration_s"].between(0, 86400)
        & sessions["account_id"].isin(frames["accounts"]["account_id"])
    )
    got = fetch(checked, "sessions").sort_values("started_at")
    assert got["started_at"].tolist() == sessions.loc[keep, "started_at"].tolist()
    assert len(fetch(checked, "accounts")) == 4


def test_drop_invalid_only_in_named_tables(tmp_path):
    frames = make_world()
    _break_sessions(frames)
    frames["churn"].loc[0, "account_id"] = "gone"

    # churn (checked before sessions) drops its row; sessions still raise
    with pytest.warns(DroppedRowsWarning, match=r"^churn\.account_id: dropped 1 row"):
        with pytest.raises(NullValueError, match=r"^sessions\.user_id: 1 row has"):
            validate(tmp_path, frames, drop_invalid={"churn", "ratings"})


def test_dropped_accounts_take_their_events_with_them(tmp_path):
    frames = make_world()
    frames["accounts"].loc[1, "csm"] = None

    with pytest.warns(DroppedRowsWarning) as record:
        checked = validate(tmp_path, frames, drop_invalid=True)
    record = dropped_warnings(record)

    n_a2 = {
        name: int((frame["account_id"] == "a2").sum())
        for name, frame in frames.items()
        if name != "accounts" and (frame["account_id"] == "a2").any()
    }
    expected = {"accounts.csm": 1} | {f"{n}.account_id": k for n, k in n_a2.items()}
    assert checked.dropped_rows == expected
    assert len(record) == len(expected)
    for name, frame in frames.items():
        assert len(fetch(checked, name)) == int((frame["account_id"] != "a2").sum())


def test_drop_leaving_a_required_table_empty(tmp_path):
    frames = make_world()
    frames["sessions"]["duration_s"] = -1.0

    with pytest.warns(DroppedRowsWarning):
        with pytest.raises(EmptyTableError) as info:
            validate(tmp_path, frames, drop_invalid=True)

    assert str(info.value) == (
        "sessions: 0 rows are left after dropping 8 invalid rows; fix the "
        "export, the contract requires at least one row."
    )


def test_drop_does_not_excuse_structural_problems(tmp_path):
    frames = make_world()
    frames["sessions"]["started_at"] = frames["sessions"]["started_at"].dt.tz_localize(
        None
    )

    with pytest.raises(TimestampError, match=r"^sessions\.started_at: 8 rows have"):
        validate(tmp_path, frames, drop_invalid=True)


def test_drop_invalid_names_unknown_table(tmp_path):
    with pytest.raises(ParameterError) as info:
        validate(tmp_path, make_world(), drop_invalid={"session"})

    assert str(info.value) == (
        "`drop_invalid` names tables absent from the contract: ['session']; "
        "choose among ['accounts', 'churn', 'custom_metrics', 'nps_invitations', "
        "'nps_responses', 'page_loads', 'rapport', 'ratings', 'sessions', "
        "'touchpoints']."
    )


def test_rows_after_as_of_are_not_an_error(tmp_path, caplog):
    frames = make_world()

    with caplog.at_level(logging.INFO, logger="healthlab"):
        checked = validate(tmp_path, frames, as_of="2025-03-03")

    # 2025-03-04 00:00 UTC onwards: sessions of days 4-8 are later
    late = (
        frames["sessions"]["started_at"] >= pd.Timestamp("2025-03-04", tz="UTC")
    ).sum()
    assert f"sessions: {late} rows at or after the as-of instant" in caplog.text
    assert len(fetch(checked, "sessions")) == len(frames["sessions"])


def test_source_must_be_a_source():
    with pytest.raises(ParameterError, match=re.escape("got 'str'")):
        validate_source("datasets/world")


# ---------------------------------------------------------------------------
# Spark


@pytest.mark.spark
# pyspark's collect leaves py4j sockets for the garbage collector to close
@pytest.mark.filterwarnings("ignore:unclosed <socket:ResourceWarning")
def test_spark_source_gives_the_same_verdicts(tmp_path, spark_session):
    # Spark runs each small query slowly: three tables are enough here
    frames = {name: make_world()[name] for name in ("accounts", "churn", "sessions")}
    root = write_world(tmp_path / "ok", frames)
    checked = validate_source(open_source(root, engine="spark"))
    assert checked.dropped_rows == {}
    assert len(fetch(checked, "sessions")) == 8

    # a range violation (first in rule order): same message as on DuckDB
    frames["sessions"].loc[[0, 3, 5], "duration_s"] = [-5.0, 90000.0, -1.0]
    frames["sessions"].loc[7, "account_id"] = "zz"
    bad = open_source(write_world(tmp_path / "bad", frames), engine="spark")
    with pytest.raises(OutOfRangeError) as info:
        validate_source(bad)
    assert str(info.value) == (
        "sessions.duration_s: 3 rows have values outside [0, 86400] "
        f"(examples: [-5.0, -1.0, 90000.0]); {FIX_ROWS}"
    )

    # dropping them, and the row of an unknown account
    with pytest.warns(DroppedRowsWarning):
        checked = validate_source(bad, drop_invalid=True)
    assert checked.dropped_rows == {
        "sessions.duration_s": 3,
        "sessions.account_id": 1,
    }
    assert len(fetch(checked, "sessions")) == 4

    # Spark keeps naive Parquet timestamps as TIMESTAMP_NTZ: still an error
    sessions = frames["sessions"]
    sessions["started_at"] = sessions["started_at"].dt.tz_localize(None)
    root = write_world(tmp_path / "naive", frames)
    with pytest.raises(TimestampError, match=r"^sessions\.started_at: 8 rows have"):
        validate_source(open_source(root, engine="spark"))


# ---------------------------------------------------------------------------
# fuzzing: malformed frames raise healthlab errors only

_BREAKS = (
    "drop_column",
    "to_string",
    "to_int",
    "to_bool",
    "nan",
    "inf",
    "none",
    "naive",
    "duplicate_rows",
    "unknown_account",
    "empty",
)


def _break_frame(frame: pd.DataFrame, how: str, column: str, row: int) -> pd.DataFrame:
    frame = frame.copy()
    col = frame[column]
    if how == "drop_column":
        return frame.drop(columns=column)
    if len(frame) == 0:
        return frame
    row = row % len(frame)
    if how == "to_string":
        frame[column] = col.astype(str)
    elif how == "to_int":
        frame[column] = np.arange(len(frame), dtype="int64") - 1
    elif how == "to_bool":
        frame[column] = np.arange(len(frame)) % 2 == 0
    elif how in ("nan", "inf"):
        values = pd.to_numeric(col, errors="coerce").astype("float64")
        values.iloc[row] = np.nan if how == "nan" else -np.inf
        frame[column] = values
    elif how == "none":
        frame[column] = col.astype(object).where(frame.index != frame.index[row], None)
    elif how == "naive" and isinstance(col.dtype, pd.DatetimeTZDtype):
        frame[column] = col.dt.tz_localize(None)
    elif how == "duplicate_rows":
        frame = pd.concat([frame, frame.iloc[[row]]], ignore_index=True)
    elif how == "unknown_account" and "account_id" in frame:
        ids = frame["account_id"].astype(str)
        frame["account_id"] = ids.mask(np.arange(len(frame)) == row, "nobody")
    elif how == "empty":
        frame = frame.iloc[:0]
    return frame


# a few tables keep each example fast; they cover every column kind and rule
_FUZZ_TABLES = ("accounts", "churn", "sessions", "page_loads", "ratings")


@st.composite
def broken_worlds(draw):
    frames = {name: make_world()[name] for name in _FUZZ_TABLES}
    for _ in range(draw(st.integers(1, 4))):
        name = draw(st.sampled_from(sorted(frames)))
        frame = frames[name]
        if frame.shape[1] == 0:
            continue
        column = draw(st.sampled_from(list(frame.columns)))
        how = draw(st.sampled_from(_BREAKS))
        row = draw(st.integers(0, 10))
        frames[name] = _break_frame(frame, how, column, row)
    drop = draw(st.booleans())
    return frames, drop


@pytest.mark.slow
@settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    # shrinking re-runs whole sources for minutes; the failing case is printed
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)
@given(case=broken_worlds())
def test_fuzzed_sources_raise_only_healthlab_errors(case):
    frames, drop = case
    with tempfile.TemporaryDirectory() as tmp:
        root = write_world(Path(tmp), frames)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DroppedRowsWarning)
            try:
                checked = validate_source(open_source(root), drop_invalid=drop)
            except HealthlabError as exc:
                assert isinstance(exc, ValueError)
                assert re.match(r"^\w+(\.[\w+]+)?: ", str(exc)) or isinstance(
                    exc, SourceError
                )
                return
        # a source that passes holds no broken rows any more
        for table in checked.tables.values():
            table.count().to_pyarrow()
