"""The full index computation at scale: 100M sessions on DuckDB, 10M on Spark.

Usage::

    python benchmarks/scale_run.py                         # 1e8 DuckDB, 1e7 Spark
    python benchmarks/scale_run.py --duckdb 1e7 --spark 0 --keep /tmp/worlds
    python benchmarks/scale_run.py --memory-limit 1GB      # DuckDB memory_limit
    python benchmarks/scale_run.py --accounts-per-batch 2000 --unbatched
    python benchmarks/scale_run.py --user-ids world        # ids unique world-wide

For each size a synthetic world is simulated with
:func:`healthlab.simulate.simulate_world`, streamed to Parquet part files
(more accounts, each like one of the default world; the accounts-per-session
ratio comes from a small pilot world). ``--user-ids account`` (the default)
numbers users within each account, as multi-tenant exports do, so the same
user id appears in many accounts; ``--user-ids world`` numbers them across
the world. Then, each in its own subprocess so its peak RSS is its own:

- the floor: one DuckDB pass grouping sessions to (user_id, day), with
  ``day = epoch_us(started_at) // 86400000000``, threads = 2. With user ids
  per account this pass folds the users of different accounts together (a
  hash table of a few thousand keys per day, not one per user-day), so the
  same pass to (account_id, user_id, day), the real per-user pass, is
  measured and compared as well;
- on DuckDB, :func:`healthlab.indices.write_raw_metrics` of the packaged
  default definition at the last 12 month ends of the world: accounts in
  batches of ``--accounts-per-batch`` (default: the package's), each batch
  written as a Parquet part file (the indices of small tables run once
  over every account, and are listed), threads = 2, DuckDB's ``memory_limit``
  from ``--memory-limit`` (otherwise its default of 80% of RAM);
  ``--unbatched`` adds :func:`healthlab.indices.compute_raw_metrics` on the
  whole world for comparison;
- on local Spark (``local[2]``), :func:`compute_raw_metrics` on the whole
  world (``--spark-batches N`` runs ``write_raw_metrics`` in N batches
  instead).

Printed per run: wall time, CPU seconds of the Python process, peak RSS
(for Spark also the JVM's peak RSS, read from ``/proc/<pid>/status``
``VmHWM``), the ratio of the wall time to the floor's and the number of
batches. Worlds are written under ``--tmp`` (default: the system temporary
folder) and removed afterwards unless ``--keep`` names a folder; a kept
world is reused if it was simulated with the same user ids.
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
_OPTIONS = "HEALTHLAB_SCALE_OPTIONS"  # JSON options passed to the children


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


def measure_metrics(world: str, engine: str, options: dict) -> dict:
    from healthlab.definition import load_definition
    from healthlab.engine import open_source
    from healthlab.indices import compute_raw_metrics, write_raw_metrics
    from healthlab.indices.batched import DEFAULT_ACCOUNTS_PER_BATCH

    labels = _labels(world)
    definition = load_definition(None)
    started = time.perf_counter()
    if engine.startswith("spark"):
        from healthlab.engine import get_spark_session

        get_spark_session()  # session start-up is not part of the computation
    start, cpu = time.perf_counter(), time.process_time()
    on_duckdb = engine.startswith("duckdb")
    source = open_source(
        world,
        engine="duckdb" if on_duckdb else "spark",
        threads=THREADS if on_duckdb else None,
        memory_limit=options.get("memory_limit") if on_duckdb else None,
    )
    batches, per_batch, whole_pass = 1, None, []
    if engine in ("duckdb", "spark_batched"):
        per_batch = options.get("accounts_per_batch")
        if engine == "spark_batched":
            per_batch = -(-_n_accounts(world) // options["spark_batches"])
        kwargs = {"accounts_per_batch": per_batch} if per_batch else {}
        out = Path(tempfile.mkdtemp(dir=Path(world).parent)) / "raw_metrics"
        try:
            summary = write_raw_metrics(source, labels, definition, out, **kwargs)
        finally:
            shutil.rmtree(out.parent, ignore_errors=True)
        rows, batches = summary.rows, summary.batches
        whole_pass = list(summary.whole_pass)
        per_batch = per_batch or DEFAULT_ACCOUNTS_PER_BATCH
    else:
        rows = len(compute_raw_metrics(source, labels, definition))
    out = {
        "seconds": time.perf_counter() - start,
        "startup_s": start - started,
        "cpu_s": time.process_time() - cpu,
        "rows": rows,
        "batches": batches,
        "whole_pass": whole_pass,
        "accounts_per_batch": per_batch,
        "as_of": [labels[0], labels[-1]],
    }
    if not on_duckdb:
        out["jvm_peak_rss_mb"] = _jvm_peak_mb()
    return out


def _n_accounts(world: str) -> int:
    return json.loads((Path(world) / "truth.json").read_text())["world"]["n_accounts"]


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
        result = measure_floor(world, "account_id, user_id")
    else:
        result = measure_metrics(world, kind, json.loads(os.environ[_OPTIONS]))
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def run(kind: str, world: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-W", "ignore", __file__, "--child", kind, str(world)],
        capture_output=True,
        text=True,
    )
    if out.returncode:
        sys.exit(f"{kind} run failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- worlds ------------------------------------------------------------------


def simulate(path: Path, n_accounts: int, user_ids: str) -> dict:
    """Simulate (or reuse) a world of `n_accounts` accounts at `path`."""
    from healthlab.simulate import simulate_world

    truth = path / "truth.json"
    if truth.exists():
        saved = json.loads(truth.read_text())
        world = saved["world"]
        if world["n_accounts"] == n_accounts and world.get("user_ids") == user_ids:
            return {"seconds": 0.0, "rows": saved["rows"], "reused": True}
    summary = simulate_world(path, n_accounts=n_accounts, seed=SEED, user_ids=user_ids)
    return {"seconds": summary.elapsed_s, "rows": summary.rows, "reused": False}


def sessions_per_account(tmp: Path) -> float:
    from healthlab.simulate import simulate_world

    pilot_accounts = 300
    summary = simulate_world(tmp / "pilot", n_accounts=pilot_accounts, seed=SEED)
    shutil.rmtree(tmp / "pilot")
    return summary.rows["sessions"] / pilot_accounts


def _gib(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**30


def _report(kind: str, metrics: dict, floor: dict, per_user: dict | None) -> str:
    names = {
        "duckdb": "write_raw_metrics on DuckDB",
        "duckdb_whole": "compute_raw_metrics on DuckDB (unbatched)",
        "spark": "compute_raw_metrics on Spark",
        "spark_batched": "write_raw_metrics on Spark",
    }
    jvm = metrics.get("jvm_peak_rss_mb")
    return (
        f"  {names[kind]}, 12 month ends "
        f"{metrics['as_of'][0]}..{metrics['as_of'][1]}: "
        f"{metrics['seconds']:.1f} s wall, CPU {metrics['cpu_s']:.1f} s "
        f"(Python process), peak RSS {metrics['peak_rss_mb']:,.0f} MB"
        + (f" + JVM {jvm:,.0f} MB" if jvm else "")
        + (
            f" (session start {metrics['startup_s']:.0f} s not counted)"
            if kind.startswith("spark")
            else ""
        )
        + f", {metrics['rows']:,} rows, {metrics['batches']} batch"
        + ("es" if metrics["batches"] > 1 else "")
        + (
            f" of {metrics['accounts_per_batch']:,} accounts"
            if metrics["accounts_per_batch"]
            else ""
        )
        + (
            f" (once over every account: {', '.join(metrics['whole_pass'])})"
            if metrics.get("whole_pass")
            else ""
        )
        + f" | ratio to floor {metrics['seconds'] / floor['seconds']:.2f}x"
        + (
            f", to the per-user pass {metrics['seconds'] / per_user['seconds']:.2f}x"
            if per_user
            else ""
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duckdb", type=float, default=1e8, help="sessions")
    parser.add_argument("--spark", type=float, default=1e7, help="sessions (0: skip)")
    parser.add_argument("--tmp", default=None, help="folder for the worlds")
    parser.add_argument("--keep", default=None, help="keep worlds in this folder")
    parser.add_argument(
        "--memory-limit", help="DuckDB memory_limit of the index run, e.g. 1GB"
    )
    parser.add_argument(
        "--accounts-per-batch", type=int, help="DuckDB batch size (default: package)"
    )
    parser.add_argument(
        "--unbatched", action="store_true", help="also DuckDB on the whole world"
    )
    parser.add_argument(
        "--spark-batches", type=int, default=0, help="Spark in N batches (0: whole)"
    )
    parser.add_argument(
        "--user-ids",
        choices=("account", "world"),
        default="account",
        help="user ids numbered per account (default) or across the world",
    )
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(*args.child)))
        return
    os.environ[_OPTIONS] = json.dumps(
        {
            "memory_limit": args.memory_limit,
            "accounts_per_batch": args.accounts_per_batch,
            "spark_batches": args.spark_batches,
        }
    )

    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(dir=args.tmp))
    base.mkdir(parents=True, exist_ok=True)
    try:
        per_account = sessions_per_account(base)
        print(f"pilot: {per_account:,.0f} sessions per account (24 months)")
        duckdb_runs = ["duckdb"] + (["duckdb_whole"] if args.unbatched else [])
        spark_runs = ["spark_batched" if args.spark_batches else "spark"]
        plan = [(duckdb_runs, args.duckdb), (spark_runs, args.spark)]
        for kinds, target in plan:
            if not target:
                continue
            accounts = max(1, round(target / per_account))
            world = base / f"world-{accounts}-{args.user_ids}"
            sim = simulate(world, accounts, args.user_ids)
            print(
                f"world: {accounts:,} accounts, {sim['rows']['sessions']:,} sessions, "
                f"{_gib(world):.2f} GiB Parquet, simulated in {sim['seconds']:.0f} s"
                + (" (reused)" if sim["reused"] else ""),
                flush=True,
            )
            floor = run("floor", world)
            print(
                f"  floor (DuckDB, {THREADS} threads, one pass to (user_id, day), "
                f"user ids per {args.user_ids}): {floor['seconds']:.1f} s wall, "
                f"CPU {floor['cpu_s']:.1f} s, peak RSS {floor['peak_rss_mb']:,.0f} "
                f"MB, {floor['rows']:,} (user_id, day) groups",
                flush=True,
            )
            per_user = None
            if args.user_ids == "account":
                per_user = run("floor_account", world)
                print(
                    "  the same pass to (account_id, user_id, day), one row per "
                    f"user-day: {per_user['seconds']:.1f} s wall, CPU "
                    f"{per_user['cpu_s']:.1f} s, peak RSS "
                    f"{per_user['peak_rss_mb']:,.0f} MB, {per_user['rows']:,} "
                    "user-days",
                    flush=True,
                )
            for kind in kinds:
                print(_report(kind, run(kind, world), floor, per_user), flush=True)
            if not args.keep:
                shutil.rmtree(world)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
