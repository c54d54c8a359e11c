"""The bad-input case type, the fix hints its messages end with, and builders.

A :class:`Case` names one mutation of the base world, how the world is written
(Parquet, or CSV for some tables, plus raw edits of the written files), and
the outcome:

* ``error`` and ``message``: the exact exception class and whole message;
* ``dropped``: for row-level problems, the ``table.column`` counts that
  ``drop_invalid_rows`` reports instead of raising (the warning text is the
  error message reworded, see ``test_bad_inputs.as_warning``);
* neither: the input is acceptable and passes the contract unchanged.

``{root}`` in a message stands for ``repr(str(world folder))`` and ``{csv}``
for the repr of the case's first CSV file. Counts and examples follow from
the base world in :mod:`bad_inputs.world` and the edit. The builders return
the mutations (of the frames) and raw edits (of the written files) that cases
are made of, and :func:`row_message` the message of a row-level problem.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

__all__ = [
    "FIX_COL",
    "FIX_ROWS",
    "FIX_TIME",
    "FIX_TYPE",
    "Case",
    "change_csv_delimiter",
    "drop_column",
    "drop_table",
    "empty_table",
    "naive_timestamps",
    "no_change",
    "replace_columns",
    "replace_csv_text",
    "row_message",
    "set_values",
]

FIX_ROWS = "fix the export or set drop_invalid_rows in the score definition."
FIX_TIME = "export timestamps in UTC with their offset, e.g. '2026-01-31T12:00:00Z'."
FIX_TYPE = "change the column's type in the export."
FIX_COL = "rename the column in the export."


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


def set_values(table: str, column: str, rows, values):
    """Mutation: put `values` at `rows` of `table.column`."""

    def edit(frames):
        frame = frames[table]
        if column in frame and frame[column].dtype.kind in "iu":
            frame[column] = frame[column].astype(float)
        frame.loc[rows, column] = values

    return edit


def replace_columns(table: str, **columns):
    """Mutation: replace whole columns of `table`."""

    def edit(frames):
        frames[table] = frames[table].assign(**columns)

    return edit


def drop_table(table: str):
    """Mutation: leave `table` out of the world."""
    return lambda frames: frames.pop(table)


def drop_column(table: str, column: str):
    """Mutation: leave `table.column` out."""

    def edit(frames):
        frames[table] = frames[table].drop(columns=column)

    return edit


def empty_table(table: str):
    """Mutation: keep the columns of `table` but none of its rows."""

    def edit(frames):
        frames[table] = frames[table].iloc[:0]

    return edit


def naive_timestamps(table: str, column: str):
    """Mutation: drop the time zone of `table.column`, keeping wall-clock times."""

    def edit(frames):
        frames[table][column] = frames[table][column].dt.tz_localize(None)

    return edit


def no_change(frames) -> None:
    """Mutation that leaves the world as it is (for cases made by raw edits)."""
    return None


def change_csv_delimiter(table: str, sep: str):
    """Raw edit: write `sep` for every comma of the written `table.csv`."""

    def edit(root: Path) -> None:
        csv = root / f"{table}.csv"
        csv.write_text(csv.read_text().replace(",", sep))

    return edit


def replace_csv_text(table: str, old: str, new: str, count: int = -1):
    """Raw edit: replace `old` with `new` in the written `table.csv`."""

    def edit(root: Path) -> None:
        csv = root / f"{table}.csv"
        csv.write_text(csv.read_text().replace(old, new, count))

    return edit


def row_message(where, n, problem, examples=None, label="examples"):
    """The error message for `n` rows of `where` that have `problem`."""
    rows = "1 row has" if n == 1 else f"{n:,} rows have"
    detail = f" ({label}: {examples})" if examples is not None else ""
    return f"{where}: {rows} {problem}{detail}; {FIX_ROWS}"
