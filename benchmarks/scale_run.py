"""The full index computation at scale: 100M sessions on DuckDB, 10M on Spark.

Usage::

    python benchmarks/scale_run.py                         # 1e8 DuckDB, 1e7 Spark
    python benchmarks/scale_run.py --duckdb 1e7 --spark 1e6
    python benchmarks/scale_run.py --keep /tmp/worlds      # keep (and reuse) worlds

For each size a synthetic world is simulated with
:func:`healthlab.simulate.simulate_world`, streamed to Parquet part files
(more accounts, each like one of the default world; the accounts-per-session
ratio comes from a small pilot world). Then, each in its own subprocess so
its peak RSS is its own:

- the floor: one DuckDB pass grouping sessions to (user_id, day), with
  ``day = epoch_us(started_at) // 86400000000``, threads = 2;
- the same pass to (account_id, user_id, day): simulated user ids repeat
  across accounts (``u00007`` exists in every account), so the pass above
  merges users of different accounts and builds a small hash table, while
  this one yields one row per real user-day;
- :func:`healthlab.indices.compute_raw_metrics` of the packaged default
  definition at the last 12 month ends of the world, on DuckDB with
  threads = 2 (DuckDB's ``memory_limit`` set by ``--memory-limit``,
  otherwise its default of 80% of RAM) or on local Spark (``local[2]``).

Printed per run: wall time, CPU seconds of the Python process, peak RSS
(for Spark also the JVM's peak RSS, read from ``/proc/<pid>/status``
``VmHWM``) and the ratio of the wall time to the floor's. Worlds are
written under ``--tmp`` (default: the system temporary folder) and removed
afterwards unless ``--keep`` names a folder; a kept world is reused.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SEED = 20261203
THREADS = 2
_MEMORY_LIMIT = "HEALTHLAB_SCALE_MEMORY_LIMIT"


# --- measurements, each run in a child process --------------------------------


def _labels(world: str) -> list[str]:
    import pandas as pd

    from healthlab.asof import month_ends

    truth = json.loads((Path(world) / "truth.json").read_text())["world"]
    start = pd.Timestamp(truth["start"]).tz_localize(None)
    end = pd.Timestamp(truth["end"]).tz_localize(None) - pd.Timedelta(days=1)
    dates = month_ends(start, end)
    return [d.date().isoformat() for d in dates[-12:]]


def measure_floor(world: str, keys: str = "user_id") -> dict:
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET threads = {THREADS}")
    start, cpu = time.perf_counter(), time.process_time()
    con.execute(
        f"CREATE TEMP TABLE user_days AS SELECT {keys}, "
        "epoch_us(started_at) // 86400000000 AS day, "
        "sum(duration_s) AS usage_s, count(*) AS n "
        f"FROM read_parquet('{world}/sessions/**/*.parquet') GROUP BY ALL"
    )
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu
    rows = con.execute("SELECT count(*) FROM user_days").fetchone()[0]
    return {"seconds": seconds, "cpu_s": cpu, "rows": rows}


def measure_metrics(world: str, engine: str) -> dict:
    from healthlab.definition import load_definition
    from healthlab.engine import open_source
    from healthlab.indices import compute_raw_metrics

    labels = _labels(world)
    definition = load_definition(None)
    started = time.perf_counter()
    if engine == "spark":
        from healthlab.engine import get_spark_session

        get_spark_session()  # session start-up is not part of the computation
    start, cpu = time.perf_counter(), time.process_time()
    threads = THREADS if engine == "duckdb" else None
    source = open_source(world, engine=engine, threads=threads)
    if engine == "duckdb" and os.environ.get(_MEMORY_LIMIT):
        source.con.raw_sql(f"SET memory_limit = '{os.environ[_MEMORY_LIMIT]}'")
    result = compute_raw_metrics(source, labels, definition)
    out = {
        "seconds": time.perf_counter() - start,
        "startup_s": start - started,
        "cpu_s": time.process_time() - cpu,
        "rows": len(result),
        "as_of": [labels[0], labels[-1]],
    }
    if engine == "spark":
        out["jvm_peak_rss_mb"] = _jvm_peak_mb()
    return out


def _jvm_peak_mb() -> float | None:
    from healthlab.engine import get_spark_session

    try:
        pid = get_spark_session().sparkContext._gateway.proc.pid
        text = Path(f"/proc/{pid}/status").read_text()
    except (AttributeError, OSError):
        return None
    for line in text.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def _child(kind: str, world: str) -> dict:
    if kind == "floor":
        result = measure_floor(world)
    elif kind == "floor_account":
        # simulated user ids repeat across accounts: the per-user pass
        result = measure_floor(world, "account_id, user_id")
    else:
        result = measure_metrics(world, kind)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def run(kind: str, world: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-W", "ignore", __file__, "--child", kind, str(world)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- worlds ------------------------------------------------------------------


def simulate(path: Path, n_accounts: int) -> dict:
    """Simulate (or reuse) a world of `n_accounts` accounts at `path`."""
    from healthlab.simulate import simulate_world

    truth = path / "truth.json"
    if truth.exists():
        saved = json.loads(truth.read_text())
        if saved["world"]["n_accounts"] == n_accounts:
            return {"seconds": 0.0, "rows": saved["rows"], "reused": True}
    summary = simulate_world(path, n_accounts=n_accounts, seed=SEED)
    return {"seconds": summary.elapsed_s, "rows": summary.rows, "reused": False}


def sessions_per_account(tmp: Path) -> float:
    from healthlab.simulate import simulate_world

    pilot_accounts = 300
    summary = simulate_world(tmp / "pilot", n_accounts=pilot_accounts, seed=SEED)
    shutil.rmtree(tmp / "pilot")
    return summary.rows["sessions"] / pilot_accounts


def _gib(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**30


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duckdb", type=float, default=1e8, help="sessions")
    parser.add_argument("--spark", type=float, default=1e7, help="sessions (0: skip)")
    parser.add_argument("--tmp", default=None, help="folder for the worlds")
    parser.add_argument("--keep", default=None, help="keep worlds in this folder")
    parser.add_argument(
        "--memory-limit", help="DuckDB memory_limit of the index run, e.g. 1GB"
    )
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_limit:
        os.environ[_MEMORY_LIMIT] = args.memory_limit
    if args.child:
        print(json.dumps(_child(*args.child)))
        return

    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(dir=args.tmp))
    base.mkdir(parents=True, exist_ok=True)
    try:
        per_account = sessions_per_account(base)
        print(f"pilot: {per_account:,.0f} sessions per account (24 months)")
        plan = [("duckdb", args.duckdb), ("spark", args.spark)]
        for engine, target in plan:
            if not target:
                continue
            accounts = max(1, round(target / per_account))
            world = base / f"world-{accounts}"
            sim = simulate(world, accounts)
            print(
                f"world: {accounts:,} accounts, {sim['rows']['sessions']:,} sessions, "
                f"{_gib(world):.2f} GiB Parquet, simulated in {sim['seconds']:.0f} s"
                + (" (reused)" if sim["reused"] else ""),
                flush=True,
            )
            floor = run("floor", world)
            print(
                f"  floor (DuckDB, {THREADS} threads, one pass to (user_id, day)): "
                f"{floor['seconds']:.1f} s wall, CPU {floor['cpu_s']:.1f} s, "
                f"peak RSS {floor['peak_rss_mb']:,.0f} MB, "
                f"{floor['rows']:,} user-days",
                flush=True,
            )
            per_user = run("floor_account", world)
            print(
                "  same pass to (account_id, user_id, day) (user ids are unique "
                f"per account only): {per_user['seconds']:.1f} s wall, "
                f"CPU {per_user['cpu_s']:.1f} s, peak RSS "
                f"{per_user['peak_rss_mb']:,.0f} MB, {per_user['rows']:,} user-days",
                flush=True,
            )
            metrics = run(engine, world)
            jvm = metrics.get("jvm_peak_rss_mb")
            print(
                f"  compute_raw_metrics on {engine}, 12 month ends "
                f"{metrics['as_of'][0]}..{metrics['as_of'][1]}: "
                f"{metrics['seconds']:.1f} s wall, CPU {metrics['cpu_s']:.1f} s "
                f"(Python process), peak RSS {metrics['peak_rss_mb']:,.0f} MB"
                + (f" + JVM {jvm:,.0f} MB" if jvm else "")
                + (
                    f" (session start {metrics['startup_s']:.0f} s not counted)"
                    if engine == "spark"
                    else ""
                )
                + f", {metrics['rows']:,} rows | ratio to floor "
                f"{metrics['seconds'] / floor['seconds']:.2f}x",
                flush=True,
            )
            if not args.keep:
                shutil.rmtree(world)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
