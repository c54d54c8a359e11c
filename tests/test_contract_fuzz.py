"""Fuzzing of the data contract (healthlab.contract): malformed worlds.

Hypothesis breaks a few tables of the small valid world (:mod:`contract_world`)
in random ways; validation must raise only healthlab errors, and a source that
passes must hold no broken rows any more.
"""

from __future__ import annotations

import re
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from bad_inputs.world import write_world
from contract_world import make_world
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from healthlab.contract import validate_source
from healthlab.engine import open_source
from healthlab.errors import DroppedRowsWarning, HealthlabError, SourceError

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
