"""Tests of the data contract's row-level rules (healthlab.contract_rows).

Values out of bounds, nulls and NaN, infinities and rows of unknown accounts
raise, or are dropped with a warning and counted where ``drop_invalid`` allows;
a Spark source gives the same verdicts. Each case builds a small world by hand
(:mod:`contract_world`), breaks one rule and matches the whole message.
"""

from __future__ import annotations

import contract_world
import numpy as np
import pandas as pd
import pytest
from bad_inputs.world import write_world
from contract_world import FIX_ROWS, dropped_warnings, fetch, make_world, validate

from healthlab.contract import validate_source
from healthlab.engine import open_source
from healthlab.errors import (
    DroppedRowsWarning,
    EmptyTableError,
    NullValueError,
    OutOfRangeError,
    ParameterError,
    TimestampError,
    UnknownAccountError,
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
    # each warning points at validate_source's caller, the helper `validate`
    assert all(w.filename == contract_world.__file__ for w in record)
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
