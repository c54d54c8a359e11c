"""The healthlab store: one DuckDB file with histories, benchmarks and runs.

``healthlab.duckdb`` keeps the score history (account x as-of date x
definition version), the index and metric histories behind each score, the
benchmark versions, alerts, the score definitions used and a record of each
run. Every write is one transaction: a failed write leaves the previous
contents intact. Score writes replace the rows of the same as-of dates and
definition version (runs are idempotent per as-of date); benchmark versions
are only ever added, never changed. The tables, their columns and read
order are laid out in :mod:`healthlab.store_layout`.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

import duckdb
import filelock
import pandas as pd

from healthlab.errors import LockTimeoutError, StoreError
from healthlab.store_layout import HISTORIES, READ_ORDER, SCHEMA, store_file

__all__ = ["Store"]


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Store:
    """The DuckDB store of one healthlab installation.

    Parameters
    ----------
    path : str or Path
        The ``.duckdb`` file, or a folder (the file is then
        ``<folder>/healthlab.duckdb``). Created with its tables on first use.
    lock_timeout : float
        Seconds to wait for another process's write to finish.
    """

    def __init__(self, path, *, lock_timeout: float = 600.0):
        path = store_file(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = filelock.FileLock(str(path) + ".write.lock", timeout=lock_timeout)
        with self._write() as con:
            for table, columns in SCHEMA.items():
                cols = ", ".join(f"{_q(c)} {t}" for c, t in columns.items())
                con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({cols})")

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    @contextlib.contextmanager
    def _connect(self, read_only: bool = False):
        # DuckDB refuses a second process while one holds the file (a reader
        # during another's write, or the reverse): wait for it like the lock
        deadline = time.monotonic() + max(self._lock.timeout, 0)
        while True:
            try:
                con = duckdb.connect(str(self.path), read_only=read_only)
                break
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower():
                    raise
                if time.monotonic() >= deadline:
                    raise LockTimeoutError(
                        f"Store {str(self.path)!r} is held by another process for "
                        f"more than {self._lock.timeout:g} s; wait for it to finish."
                    ) from exc
                time.sleep(0.05)
        try:
            con.execute("SET TimeZone = 'UTC'")
            yield con
        finally:
            con.close()

    @contextlib.contextmanager
    def _write(self):
        # one writer at a time, and one transaction per write
        try:
            self._lock.acquire()
        except filelock.Timeout as exc:
            raise LockTimeoutError(
                f"Store {str(self.path)!r} is locked by another run for more "
                f"than {self._lock.timeout:g} s; lock file {self._lock.lock_file!r}."
            ) from exc
        try:
            with self._connect() as con:
                con.execute("BEGIN TRANSACTION")
                try:
                    yield con
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
                con.execute("COMMIT")
        finally:
            self._lock.release()

    # ----------------------------------------------------------------- writes

    def _insert(self, con, table: str, frame: pd.DataFrame, schema=None) -> None:
        columns = SCHEMA[schema or table]
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise StoreError(
                f"Cannot write table {table!r}: frame lacks column(s) {missing}."
            )
        staged = frame[list(columns)]
        con.register("_incoming", staged)
        select = ", ".join(f"CAST({_q(c)} AS {t})" for c, t in columns.items())
        con.execute(f"INSERT INTO {table} SELECT {select} FROM _incoming")
        con.unregister("_incoming")

    def write_scores(
        self,
        scores: pd.DataFrame,
        indices: pd.DataFrame,
        metrics: pd.DataFrame,
        alerts: pd.DataFrame | None = None,
    ) -> None:
        """Replace the histories of the as-of dates and definition versions given.

        All four tables change in one transaction. Rows of other as-of dates
        or definition versions are untouched; alerts, when given, replace the
        alerts of the same definition versions and as-of dates.
        """
        keys = scores[["as_of", "definition_version"]].drop_duplicates()
        with self._write() as con:
            con.register("_keys", keys)
            tables = [
                ("score_history", scores),
                ("index_history", indices),
                ("metric_history", metrics),
            ]
            if alerts is not None:
                tables.append(("alerts", alerts))
            for table, frame in tables:
                con.execute(
                    f"DELETE FROM {table} WHERE (as_of, definition_version) IN "
                    "(SELECT (CAST(as_of AS DATE), definition_version) FROM _keys)"
                )
                self._insert(con, table, frame)
            con.unregister("_keys")

    def write_alerts(self, alerts: pd.DataFrame, definition_version: str) -> None:
        """Replace every alert of `definition_version` by `alerts`."""
        with self._write() as con:
            con.execute(
                "DELETE FROM alerts WHERE definition_version = ?", [definition_version]
            )
            self._insert(con, "alerts", alerts)

    def write_definition(self, definition) -> None:
        """Record a score definition; its version must not change meaning."""
        body = definition.to_json()
        with self._write() as con:
            old = con.execute(
                "SELECT body FROM definitions WHERE version = ?", [definition.version]
            ).fetchone()
            if old is not None and old[0] != body:
                raise StoreError(
                    f"Score definition version {definition.version!r} is already "
                    "stored with different content; bump `version` in the "
                    "definition file."
                )
            if old is None:
                con.execute(
                    "INSERT INTO definitions VALUES (?, ?, now())",
                    [definition.version, body],
                )

    def write_benchmarks(
        self,
        benchmarks: pd.DataFrame,
        *,
        version: str | None = None,
        definition_version: str | None = None,
        description: str = "",
    ) -> str:
        """Add a new benchmark version and return its name.

        The rows are staged in a temporary table, then copied into
        ``benchmarks`` with the version record in one transaction. An
        existing version is never changed.

        Parameters
        ----------
        benchmarks : pandas.DataFrame
            :data:`healthlab.benchmarks.BENCHMARK_COLUMNS`.
        version : str, optional
            Name of the new version; default ``'b0001'``, ``'b0002'``, ...
        """
        frame = benchmarks.assign(version="")
        with self._write() as con:
            existing = {
                row[0]
                for row in con.execute(
                    "SELECT version FROM benchmark_versions"
                ).fetchall()
            }
            if version is None:
                number = len(existing) + 1
                while f"b{number:04d}" in existing:
                    number += 1
                version = f"b{number:04d}"
            elif version in existing:
                raise StoreError(
                    f"Benchmark version {version!r} already exists in "
                    f"{str(self.path)!r}; versions are immutable, choose a new name."
                )
            frame["version"] = version
            cols = ", ".join(f"{_q(c)} {t}" for c, t in SCHEMA["benchmarks"].items())
            con.execute(f"CREATE TEMP TABLE _staged ({cols})")
            self._insert(con, "_staged", frame, schema="benchmarks")
            con.execute("INSERT INTO benchmarks SELECT * FROM _staged")
            con.execute(
                "INSERT INTO benchmark_versions VALUES (?, now(), ?, ?, ?)",
                [version, definition_version, description, len(frame)],
            )
            con.execute("DROP TABLE _staged")
        return version

    def record_run(self, run_id: str, kind: str, started_at, details: dict) -> None:
        """Record a finished run with its details (JSON)."""
        with self._write() as con:
            con.execute(
                "INSERT INTO runs VALUES (?, ?, ?, now(), ?)",
                [run_id, kind, started_at, json.dumps(details, sort_keys=True)],
            )

    # ------------------------------------------------------------------ reads

    def read_table(self, table: str, where: str = "", params=()) -> pd.DataFrame:
        """Read a store table, sorted by its key, as pandas."""
        if table not in SCHEMA:
            raise StoreError(f"Unknown store table {table!r}; known: {list(SCHEMA)}.")
        order = ", ".join(_q(c) for c in READ_ORDER[table])
        sql = f"SELECT * FROM {table} {where} ORDER BY {order}"
        with self._connect(read_only=True) as con:
            frame = con.execute(sql, list(params)).df()
        for col, kind in SCHEMA[table].items():
            if kind == "DATE":
                frame[col] = pd.to_datetime(frame[col]).astype("datetime64[ns]")
            elif kind == "VARCHAR":
                frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
        return frame

    def _read_history(self, table, definition_version, as_of=None) -> pd.DataFrame:
        clauses, params = [], []
        if definition_version is not None:
            clauses.append("definition_version = ?")
            params.append(definition_version)
        if as_of is not None:
            clauses.append("as_of = CAST(? AS DATE)")
            params.append(pd.Timestamp(as_of).date())
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        return self.read_table(table, where, params)

    def read_scores(self, definition_version=None, as_of=None) -> pd.DataFrame:
        """Score history (all definition versions unless one is given)."""
        return self._read_history("score_history", definition_version, as_of)

    def read_indices(self, definition_version=None, as_of=None) -> pd.DataFrame:
        """Index history: per-index values, weights and contributions."""
        return self._read_history("index_history", definition_version, as_of)

    def read_metrics(self, definition_version=None, as_of=None) -> pd.DataFrame:
        """Metric history: raw values and their peer percentiles."""
        return self._read_history("metric_history", definition_version, as_of)

    def read_alerts(self, definition_version=None, as_of=None) -> pd.DataFrame:
        """Alerts fired between consecutive snapshots."""
        return self._read_history("alerts", definition_version, as_of)

    def scored_as_of_dates(self) -> list[pd.Timestamp]:
        """Every as-of date with scores under any definition version, sorted."""
        with self._connect(read_only=True) as con:
            rows = con.execute(
                "SELECT DISTINCT as_of FROM score_history ORDER BY as_of"
            ).fetchall()
        return [pd.Timestamp(r[0]) for r in rows]

    def definitions_in_use(self) -> pd.DataFrame:
        """The definition version in use at each as-of date, from the run records.

        Returns
        -------
        pandas.DataFrame
            Columns ``as_of`` and ``definition_version``, one row per as-of
            date scored by a regular (not backfill) scoring run, oldest first.

        Notes
        -----
        The definition in use at date ``d`` is that of the latest regular
        scoring run whose as-of dates include ``d``: a backfill rescores the
        history under another version but does not change which version was
        in use when each date was first reported.
        """
        runs = self.read_table("runs", "WHERE kind = 'score'")
        in_use: dict[str, str] = {}
        for details in runs["details"]:
            record = json.loads(details)
            if record.get("backfill") or "definition_version" not in record:
                continue
            for day in record.get("as_of_dates", []):
                in_use[day] = record["definition_version"]
        frame = pd.DataFrame(
            {
                "as_of": pd.to_datetime(list(in_use)).astype("datetime64[ns]"),
                "definition_version": pd.Series(list(in_use.values()), dtype=object),
            }
        )
        return frame.sort_values("as_of", ignore_index=True)

    def definition_history(self) -> pd.DataFrame:
        """Every score definition stored, with its first use and dates scored.

        Returns
        -------
        pandas.DataFrame
            One row per version, in order of first use: ``version``,
            ``content`` (the definition as JSON), ``first_used`` (start of
            the first scoring run with it, else when it was stored),
            ``as_of_dates`` (sorted list of the as-of dates it scored, backfill
            included) and ``in_use_dates`` (the dates at which it was the
            definition in use, see :meth:`definitions_in_use`).
        """
        definitions = self.read_table("definitions")
        runs = self.read_table("runs", "WHERE kind = 'score'")
        first_run: dict[str, pd.Timestamp] = {}
        for started, details in zip(runs["started_at"], runs["details"], strict=True):
            version = json.loads(details).get("definition_version")
            if version is not None and version not in first_run:
                first_run[version] = started
        with self._connect(read_only=True) as con:
            dates = con.execute(
                "SELECT DISTINCT definition_version, as_of FROM score_history "
                "ORDER BY definition_version, as_of"
            ).df()
        dates["as_of"] = pd.to_datetime(dates["as_of"]).astype("datetime64[ns]")
        in_use = self.definitions_in_use()
        rows = []
        for version, body, stored in zip(
            definitions["version"],
            definitions["body"],
            definitions["stored_at"],
            strict=True,
        ):
            rows.append(
                {
                    "version": version,
                    "content": body,
                    "first_used": first_run.get(version, stored),
                    "as_of_dates": list(
                        dates.loc[dates["definition_version"] == version, "as_of"]
                    ),
                    "in_use_dates": list(
                        in_use.loc[in_use["definition_version"] == version, "as_of"]
                    ),
                }
            )
        columns = ["version", "content", "first_used", "as_of_dates", "in_use_dates"]
        frame = pd.DataFrame(rows, columns=columns)
        return frame.sort_values(["first_used", "version"], ignore_index=True)

    def benchmark_versions(self) -> pd.DataFrame:
        """The benchmark versions stored, oldest first."""
        return self.read_table("benchmark_versions")

    def latest_benchmark_version(self) -> str | None:
        """Name of the newest benchmark version, or None when there is none."""
        versions = self.benchmark_versions()
        if versions.empty:
            return None
        return str(versions.sort_values("created_at")["version"].iloc[-1])

    def read_benchmarks(self, version: str | None = None) -> pd.DataFrame:
        """Rows of one benchmark version (default: the latest)."""
        version = version or self.latest_benchmark_version()
        if version is None:
            raise StoreError(
                f"Store {str(self.path)!r} holds no benchmarks; run "
                "`healthlab benchmarks refresh` first."
            )
        frame = self.read_table("benchmarks", "WHERE version = ?", [version])
        if frame.empty:
            known = list(self.benchmark_versions()["version"])
            raise StoreError(
                f"Benchmark version {version!r} is not in {str(self.path)!r}; "
                f"stored versions: {known}."
            )
        return frame

    def export(self, out_dir, *, fmt: str = "parquet", tables=HISTORIES) -> list[Path]:
        """Write tables to ``out_dir/<table>.<fmt>`` (Parquet or CSV).

        Each file is written beside its target and moved into place, so a
        reader never sees a half-written file.
        """
        if fmt not in ("parquet", "csv"):
            raise StoreError(f"`fmt` must be 'parquet' or 'csv', got {fmt!r}.")
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        written = []
        for table in tables:
            frame = self.read_table(table)
            target = out_dir / f"{table}.{fmt}"
            temp = out_dir / f".{table}.{fmt}.tmp"
            if fmt == "parquet":
                frame.to_parquet(temp, index=False)
            else:
                frame.to_csv(temp, index=False)
            temp.replace(target)
            written.append(target)
        return written
