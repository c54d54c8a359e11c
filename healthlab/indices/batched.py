"""Raw metrics of a large source in bounded memory: batches of accounts.

Every index is a function of one account's own rows, so the accounts can be
computed apart. :func:`write_raw_metrics` splits the sorted account ids into
contiguous ranges, restricts every table of the source to one range at a
time, computes that batch's indices as
:func:`healthlab.indices.compute_raw_metrics` would and appends the result
to a folder of Parquet part files. The engine then holds the rollups of one
batch only (the session rollup is the large one), and the Python process
one batch's long frame.

A range filter ``lo <= account_id <= hi`` rather than a list of ids lets a
Parquet reader skip whole row groups by their min/max statistics: files
written per chunk of accounts (as the simulator and most exports do) are
read only where they overlap the batch.

Only the indices that need it run per batch. The session indices always do:
their rollup of one row per user and day is materialised, so its memory
follows the sessions of the batch. An index whose tables all hold at most
``whole_pass_rows`` rows (ratings, NPS, touchpoints, rapport and custom
metrics, typically) is a streaming aggregation to one row per as-of date
and account, so it runs once over every account instead, and each batch
takes its rows: a query per batch on a small table is nearly all fixed
cost (compilation, planning, opening every Parquet file's footer).
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
from healthlab.indices.compute import (
    compute_blocks,
    index_passes,
    require_sessions,
    resolve_index_params,
)
from healthlab.indices.rollup import assemble, build_context

__all__ = [
    "RawMetricsSummary",
    "write_raw_metrics",
    "read_raw_metrics",
    "DEFAULT_ACCOUNTS_PER_BATCH",
    "DEFAULT_WHOLE_PASS_ROWS",
]

logger = logging.getLogger("healthlab")

# About 4 million sessions per batch for accounts like the simulated default
# world's (about 2,000 sessions per account over two years): DuckDB's peak
# resident memory grows by about 0.25 MB per account of a batch, above about
# 300 MB, and each batch costs a fixed half second or so (its queries).
DEFAULT_ACCOUNTS_PER_BATCH = 2000
# Tables up to this many rows are read in one pass over every account.
DEFAULT_WHOLE_PASS_ROWS = 20_000_000
# The session rollup is materialised: its indices always run per batch.
_ALWAYS_BATCHED = frozenset({"sessions"})
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
    whole_pass : tuple of str
        The index computations run once over every account, not per batch.
    """

    path: Path
    batches: int
    accounts: int
    rows: int
    elapsed_s: float
    whole_pass: tuple = ()

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
    whole_pass_rows: int = DEFAULT_WHOLE_PASS_ROWS,
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
    whole_pass_rows : int
        An index whose source tables all hold at most this many rows runs
        once over every account instead of once per batch (never the
        session indices). 0 runs every index per batch.

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
    _require_count("accounts_per_batch", accounts_per_batch, minimum=1)
    _require_count("whole_pass_rows", whole_pass_rows, minimum=0)
    started = time.perf_counter()
    require_sessions(source)
    passes = index_passes(resolve_index_params(definition_params))
    fits = [_fits_whole_pass(source, p, whole_pass_rows) for p in passes]
    whole = [p for p, once in zip(passes, fits, strict=True) if once]
    per_batch = [p for p, once in zip(passes, fits, strict=True) if not once]
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
        everyone = _WholePass(source, as_of_dates, whole)
        # no account at all: one (empty) part from the whole source
        for batch, (lo, hi) in enumerate(ranges or [(None, None)]):
            part = source if lo is None else _restrict(source, lo, hi)
            ctx = build_context(part, as_of_dates)
            try:
                blocks = compute_blocks(ctx, per_batch)
            finally:
                ctx.release()
            frame = assemble(blocks + everyone.blocks_for(ctx), ctx.skeleton)
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
        whole_pass=tuple(p.name for p in whole),
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


def _require_count(name: str, value, minimum: int) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | np.integer)
        or value < minimum
    ):
        kind = "a positive integer" if minimum == 1 else "a non-negative integer"
        raise ParameterError(f"`{name}` must be {kind}, got {value!r}.")


def _fits_whole_pass(source, index, limit: int) -> bool:
    # an index of small tables only; absent tables hold nothing
    if limit == 0 or _ALWAYS_BATCHED & set(index.tables):
        return False
    for name in index.tables:
        table = source.tables.get(name)
        if table is not None and table.count().to_pyarrow().as_py() > limit:
            return False
    return True


class _WholePass:
    """Index blocks computed once over every account, handed out per batch."""

    def __init__(self, source, as_of_dates, passes):
        self.blocks = []
        self.rows = None
        if not passes:
            return
        ctx = build_context(source, as_of_dates)
        try:
            self.blocks = compute_blocks(ctx, passes)
        finally:
            ctx.release()
        skeleton = ctx.skeleton
        self.rows = pd.MultiIndex.from_arrays(
            [skeleton["as_of_day"], skeleton["account_id"]]
        )

    def blocks_for(self, ctx) -> list:
        """The blocks restricted and ordered to the skeleton of `ctx`."""
        if not self.blocks:
            return []
        keys = pd.MultiIndex.from_arrays(
            [ctx.skeleton["as_of_day"], ctx.skeleton["account_id"]]
        )
        rows = self.rows.get_indexer(keys)
        if (rows < 0).any():
            raise RuntimeError(
                "A batch holds (as-of date, account) pairs the pass over every "
                "account lacks; the accounts table changed during the run."
            )
        return [
            replace(
                block,
                values=block.values[:, rows],
                why=block.why[:, rows],
                partial=block.partial[rows],
            )
            for block in self.blocks
        ]


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
