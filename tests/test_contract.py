"""Tests of the data contract's structural checks (healthlab.contract).

A valid world passes untouched; missing tables and columns, wrong column and
account-id types, naive or unparseable timestamps, empty tables and duplicated
keys raise. Also a DuckDB file as the source, the logging of rows after the
as-of instant and the type of the source. Each case builds a small world by
hand (:mod:`contract_world`), breaks one rule and matches the whole error
message.
"""

from __future__ import annotations

import logging
import re

import pandas as pd
import pytest
from bad_inputs.world import to_arrow, write_world
from contract_world import FIX_ROWS, FIX_TIME, FIX_TYPE, fetch, make_world, validate

from healthlab.contract import validate_source
from healthlab.engine import open_source
from healthlab.errors import (
    ColumnTypeError,
    DuplicateKeyError,
    EmptyTableError,
    MissingColumnError,
    MissingTableError,
    OutOfRangeError,
    ParameterError,
    SourceError,
    TimestampError,
)

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
# other sources, the as-of instant and the source's type


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
