"""Parquet output of the generator: part files written in the background.

String columns are written from integer codes into a small table of labels
(Parquet dictionary pages, no hashing of every value) and read back as plain
strings; timestamps are microseconds in UTC.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["PartWriter", "labels", "timestamps", "TIMESTAMP"]

TIMESTAMP = pa.timestamp("us", tz="UTC")


def labels(dictionary: pa.Array, codes: np.ndarray) -> pa.DictionaryArray:
    """A string column given as `codes` into `dictionary`.

    The labels of `dictionary` must be distinct: pyarrow writes a dictionary
    with repeated labels differently from one run to the next.
    """
    return pa.DictionaryArray.from_arrays(
        pa.array(np.asarray(codes, dtype=np.int32)), dictionary
    )


def timestamps(values: np.ndarray) -> pa.Array:
    """UTC timestamps from integer microseconds since the epoch."""
    return pa.array(np.asarray(values, dtype=np.int64), type=TIMESTAMP)


class PartWriter:
    """Write part files on a background thread while the next chunk is drawn.

    At most two chunks are in flight: :meth:`next_chunk` waits for the
    writes of the chunk before the previous one.
    """

    def __init__(self, root: Path):
        self.root = root
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._previous: list[Future] = []
        self._current: list[Future] = []

    def write(self, table: str, part: int, columns: dict) -> int:
        folder = self.root / table
        folder.mkdir(exist_ok=True)
        data = pa.table(columns)
        path = folder / f"part-{part:05d}.parquet"
        strings = [
            name
            for name, column in columns.items()
            if pa.types.is_dictionary(column.type) or pa.types.is_string(column.type)
        ]
        self._current.append(
            self._pool.submit(
                pq.write_table,
                data,
                path,
                compression="snappy",
                use_dictionary=strings,
                # readers see plain strings, not dictionaries
                store_schema=False,
            )
        )
        return data.num_rows

    def next_chunk(self) -> None:
        for future in self._previous:
            future.result()
        self._previous, self._current = self._current, []

    def close_quietly(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        try:
            for future in self._previous + self._current:
                future.result()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)
