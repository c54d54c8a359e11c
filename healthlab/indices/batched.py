"""Raw metrics of a large source in bounded memory: batches of accounts.

Every index is a function of one account's own rows, so the accounts can be
computed apart. :func:`write_raw_metrics` splits the sorted account ids into
contiguous ranges, restricts every table of the source to one range at a
time, runs :func:`healthlab.indices.compute_raw_metrics` on it and appends
the result to a folder of Parquet part files. The engine then holds the
rollups of one batch only (the session rollup is the large one), and the
Python process one batch's long frame.

A range filter ``lo <= account_id <= hi`` rather than a list of ids lets a
Parquet reader skip whole row groups by their min/max statistics: files
written per chunk of accounts (as the simulator and most exports do) are
read only where they overlap the batch.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from healthlab.errors import MissingTableError, ParameterError
from healthlab.indices.compute import compute_raw_metrics

__all__ = [
    "RawMetricsSummary",
    "write_raw_metrics",
    "read_raw_metrics",
    "DEFAULT_ACCOUNTS_PER_BATCH",
]

logger = logging.getLogger("healthlab")

# About 4 million sessions per batch for accounts like the simulated default
# world's (about 2,000 sessions per account over two years): DuckDB's peak
# resident memory grows by about 0.25 MB per account of a batch, above about
# 300 MB, and each batch costs a fixed second or so (a dozen queries).
DEFAULT_ACCOUNTS_PER_BATCH = 2000
_PART = "part-{:05d}.parquet"


@dataclass
class RawMetricsSummary:
    """What :func:`write_raw_metrics` wrote.

    Attributes
    ----------
    path : Path
        Folder of Parquet part files, one per batch, in account order.
    batches, accounts, rows : int
        Batches computed, accounts in the accounts table, metric rows written.
    elapsed_s : float
        Wall time of the whole computation.
    """

    path: Path
    batches: int
    accounts: int
    rows: int
    elapsed_s: float

    def __str__(self) -> str:
        return (
            f"Raw metrics in {self.path}: {self.rows:,} rows for "
            f"{self.accounts:,} accounts in {self.batches} "
            f"batch{'es' if self.batches != 1 else ''} "
            f"({self.elapsed_s:.1f} s)"
        )


def _account_ids(source) -> list:
    # sorted by the engine, so that its range filter selects exactly them
    if "accounts" not in source.tables:
        raise MissingTableError(
            "Table 'accounts' is missing from the source; batches are ranges of "
            "its account ids."
        )
    table = source.tables["accounts"]
    return (
        table.filter(table.account_id.notnull())
        .select("account_id")
        .distinct()
        .order_by("account_id")
        .to_pandas()["account_id"]
        .tolist()
    )


def write_raw_metrics(
    source,
    as_of_dates,
    definition_params,
    path,
    *,
    accounts_per_batch: int = DEFAULT_ACCOUNTS_PER_BATCH,
) -> RawMetricsSummary:
    """Compute raw metrics batch by batch of accounts into Parquet part files.

    Parameters
    ----------
    source : healthlab.engine.Source
        Opened data source (DuckDB, Spark or any ibis backend).
    as_of_dates : iterable of date-like
        As-of labels, as for :func:`compute_raw_metrics`.
    definition_params : IndexParams, mapping, ScoreDefinition or None
        Index parameters, as for :func:`compute_raw_metrics`.
    path : str or Path
        Output folder. Written under a temporary sibling name and renamed
        into place once every batch succeeded; a previous output (a folder
        of ``part-*.parquet`` files only) is replaced, anything else is
        refused.
    accounts_per_batch : int
        Accounts per batch. Memory follows the events of one batch, time
        the number of batches: the default keeps 100 million simulated
        sessions (about 46,000 accounts) under 1.5 GB of resident memory on
        DuckDB. Lower it for accounts with many more events.

    Returns
    -------
    RawMetricsSummary

    Notes
    -----
    Every table with an ``account_id`` column is restricted to
    ``lo <= account_id <= hi`` of the batch; tables without one are passed
    whole. Each index reads one account's rows only, so the parts together
    equal ``compute_raw_metrics`` on the whole source: the same rows, in
    the order (account_id, as_of, index, metric). Strings are written
    dictionary-encoded; readers see plain strings
    (:func:`read_raw_metrics`).
    """
    if (
        isinstance(accounts_per_batch, bool)
        or not isinstance(accounts_per_batch, int | np.integer)
        or accounts_per_batch < 1
    ):
        raise ParameterError(
            "`accounts_per_batch` must be a positive integer, got "
            f"{accounts_per_batch!r}."
        )
    started = time.perf_counter()
    ids = _account_ids(source)
    step = int(accounts_per_batch)
    # contiguous ranges of the sorted ids, bounds included
    ranges = [
        (ids[first], ids[min(first + step, len(ids)) - 1])
        for first in range(0, len(ids), step)
    ]
    path = Path(path)
    tmp = _prepare_output(path)
    rows = 0
    try:
        # no account at all: one (empty) part from the whole source
        for batch, (lo, hi) in enumerate(ranges or [(None, None)]):
            part = source if lo is None else _restrict(source, lo, hi)
            frame = compute_raw_metrics(part, as_of_dates, definition_params)
            rows += len(frame)
            _write_part(tmp / _PART.format(batch), frame)
            del frame
            logger.debug("raw metrics: batch %d of %d done", batch + 1, len(ranges))
        _publish(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return RawMetricsSummary(
        path=path,
        batches=max(len(ranges), 1),
        accounts=len(ids),
        rows=rows,
        elapsed_s=time.perf_counter() - started,
    )


def read_raw_metrics(path) -> pd.DataFrame:
    """Read the part files of :func:`write_raw_metrics` as one frame.

    The frame has the columns and order of :func:`compute_raw_metrics`
    (string columns as Python strings, ``as_of`` as ``datetime64[ns]``).
    """
    path = Path(path)
    files = sorted(path.glob("part-*.parquet"))
    if not files:
        raise ParameterError(
            f"Folder {str(path)!r} holds no raw-metric part files (part-*.parquet)."
        )
    frame = pq.ParquetDataset(files).read().to_pandas()
    return frame.reset_index(drop=True)


def _restrict(source, lo, hi):
    tables = {}
    for name, table in source.tables.items():
        if "account_id" in table.columns:
            table = table.filter(table.account_id.between(lo, hi))
        tables[name] = table
    return replace(source, tables=tables)


def _write_part(file: Path, frame: pd.DataFrame) -> None:
    columns = {}
    for name in frame.columns:
        values = frame[name]
        if values.dtype == object:
            columns[name] = pa.array(
                values.to_numpy(), type=pa.string(), from_pandas=True
            ).dictionary_encode()
        else:
            columns[name] = pa.array(values.to_numpy(), from_pandas=True)
    table = pa.table(columns)
    strings = [
        name for name, col in columns.items() if pa.types.is_dictionary(col.type)
    ]
    # readers see plain strings; Parquet stores them as dictionary pages
    pq.write_table(table, file, use_dictionary=strings, store_schema=False)


def _prepare_output(path: Path) -> Path:
    if path.exists() and (
        not path.is_dir()
        or any(not entry.match("part-*.parquet") for entry in path.iterdir())
    ):
        raise ParameterError(
            f"Output folder {str(path)!r} exists and is not a raw-metrics folder "
            "(part-*.parquet files only); choose an empty or new folder."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    # a sibling, so that publishing is a rename within one file system
    return Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))


def _publish(tmp: Path, path: Path) -> None:
    # the new folder appears in one rename; a previous output goes after it
    stale = path.parent / f".{path.name}.stale-{os.getpid()}"
    if path.exists():
        path.rename(stale)
    tmp.rename(path)
    shutil.rmtree(stale, ignore_errors=True)
