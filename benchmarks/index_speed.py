"""How fast the index engine computes every raw metric, against a floor.

Usage::

    python benchmarks/index_speed.py --sessions 10000000

Generates a random event world with the requested number of sessions (and
page loads, ratings, NPS, touchpoints, rapport and custom metrics in
proportion) as Parquet, then prints, for 1M sessions and for the requested
size:

- the wall time and peak RSS of :func:`compute_raw_metrics` for 12 monthly
  snapshots (default definition plus the ``integrations`` custom index);
- the floor: one DuckDB pass aggregating the same sessions to
  (account, user, day);
- their ratio;

and, at 1M sessions (or the sizes given by ``--pandas-at``), the speed-up
over a straightforward pandas implementation (read the Parquet, filter per
snapshot, group by) of the same metrics: duration, retention, loyalty,
performance, rating, NPS with change and response rate, touchpoints, rapport
and the custom index.
It first prints the fixed cost: the same computation on a world of 10,000
sessions, where the queries' planning, ibis compilation and the assembly of
the result in pandas are nearly all of the time.
CPU seconds (all threads) are printed next to wall times, which a busy
machine inflates.
Every measurement runs in its own subprocess, so peak RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

START_S = 1_735_689_600  # 2025-01-01 00:00 UTC
YEAR_S = 365 * 86_400
LABELS = [
    f"2025-{m:02d}-{d}"
    for m, d in zip(
        range(1, 13), (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31), strict=True
    )
]


def _ts(seconds: np.ndarray) -> pa.Array:
    return pa.array(seconds.astype("int64") * 1_000_000, pa.timestamp("us", tz="UTC"))


def _ids(prefix: str, values: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(
        pa.scalar(prefix), pa.array(values).cast(pa.string()), ""
    )


def _write(path: Path, name: str, columns: dict) -> None:
    (path / name).mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path / name / "part-00000.parquet")


FIXED_COST_SESSIONS = 10_000


def generate(path: Path, n_sessions: int, seed: int = 20261203) -> None:
    """Write a random world with `n_sessions` sessions over 2025 to `path`."""
    rng = np.random.default_rng(seed)
    n_acc = max(200, n_sessions // 2500)
    created = START_S - rng.integers(0, YEAR_S, n_acc)
    created[: n_acc // 5] = START_S + rng.integers(0, YEAR_S // 2, n_acc // 5)
    web = rng.random(n_acc) < 0.7
    _write(
        path,
        "accounts",
        {
            "account_id": _ids("a", np.arange(n_acc)),
            "name": _ids("Account ", np.arange(n_acc)),
            "csm": _ids("csm", rng.integers(0, 20, n_acc)),
            "industry": _ids("ind", rng.integers(0, 5, n_acc)),
            "size_band": _ids("size", rng.integers(0, 3, n_acc)),
            "app_type": np.where(web, "web", "mobile"),
            "created_at": _ts(created),
        },
    )

    def events(n, which=None):
        pool = np.arange(n_acc) if which is None else np.flatnonzero(which)
        acc = rng.choice(pool, n)
        begin = np.maximum(created[acc], START_S)
        at = begin + (rng.random(n) * (START_S + YEAR_S - begin)).astype("int64")
        return acc, _ids("a", acc), _ts(at)

    acc, ids, at = events(n_sessions)
    users = rng.zipf(1.6, n_sessions) % 40
    _write(
        path,
        "sessions",
        {
            "account_id": ids,
            "user_id": _ids("u", users),
            "started_at": at,
            "duration_s": rng.gamma(2.0, 600.0, n_sessions).round(1),
        },
    )
    n = n_sessions // 2
    _, ids, at = events(n, web)
    requested = rng.integers(1, 30, n).astype(float)
    _write(
        path,
        "page_loads",
        {
            "account_id": ids,
            "page": _ids("page", rng.integers(0, 12, n)),
            "loaded_at": at,
            "load_ms": rng.gamma(3.0, 300.0, n).round(0),
            "items_requested": requested,
            "items_loaded": np.floor(requested * rng.uniform(0.8, 1.0, n)),
        },
    )
    n = max(100, n_sessions // 1000)
    _, ids, at = events(n, ~web)
    _write(
        path,
        "ratings",
        {
            "account_id": ids,
            "rated_at": at,
            "stars": rng.integers(1, 6, n).astype(float),
        },
    )
    n = max(100, n_sessions // 2000)
    _, ids, at = events(n)
    _write(
        path,
        "nps_responses",
        {
            "account_id": ids,
            "responded_at": at,
            "score": rng.integers(0, 11, n).astype(float),
        },
    )
    _, ids, at = events(2 * n)
    _write(path, "nps_invitations", {"account_id": ids, "sent_at": at})
    _, ids, at = events(n)
    _write(
        path,
        "touchpoints",
        {
            "account_id": ids,
            "occurred_at": at,
            "kind": rng.choice(["visit", "qbr", "meeting", "call", "email"], n),
            "status": rng.choice(["held", "cancelled"], n, p=[0.8, 0.2]),
        },
    )
    _, ids, at = events(n)
    _write(
        path,
        "rapport",
        {
            "account_id": ids,
            "rated_at": at,
            "persona": rng.choice(
                ["decision_maker", "champion", "business_user", "economic_buyer"], n
            ),
            "rating": rng.integers(1, 6, n).astype(float),
        },
    )
    n = max(100, n_sessions // 200)
    _, ids, at = events(n)
    _write(
        path,
        "custom_metrics",
        {
            "account_id": ids,
            "metric": ["integrations"] * n,
            "measured_at": at,
            "value": rng.integers(0, 20, n).astype(float),
        },
    )


# --- measurements, each run in a child process ---------------------------------


def measure_metrics(path: str) -> dict:
    from healthlab.engine import open_source
    from healthlab.indices import CustomIndexParams, IndexParams, compute_raw_metrics

    params = IndexParams(
        custom=[CustomIndexParams(name="integrations", metric="integrations")]
    )
    start, cpu = time.perf_counter(), time.process_time()
    result = compute_raw_metrics(open_source(path), LABELS, params)
    return {
        "seconds": time.perf_counter() - start,
        "cpu_s": time.process_time() - cpu,
        "rows": len(result),
    }


def measure_floor(path: str) -> dict:
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    start, cpu = time.perf_counter(), time.process_time()
    con.execute(
        "CREATE TEMP TABLE user_days AS SELECT account_id, user_id, "
        "CAST(floor(epoch(started_at) / 86400) AS BIGINT) AS day, "
        "sum(duration_s) AS usage_s, count(*) AS n "
        f"FROM read_parquet('{path}/sessions/*.parquet') GROUP BY ALL"
    )
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu
    rows = con.execute("SELECT count(*) FROM user_days").fetchone()[0]
    return {"seconds": seconds, "cpu_s": cpu, "rows": rows}


def measure_pandas(path: str) -> dict:
    """A straightforward pandas version: per snapshot, filter and group."""
    import pandas as pd

    start, cpu = time.perf_counter(), time.process_time()
    p = Path(path)
    s = pd.read_parquet(p / "sessions")
    s["date"] = s["started_at"].dt.floor("D")
    pl = pd.read_parquet(p / "page_loads")
    ratings = pd.read_parquet(p / "ratings")
    nps = pd.read_parquet(p / "nps_responses")
    invites = pd.read_parquet(p / "nps_invitations")
    touch = pd.read_parquet(p / "touchpoints")
    rapport = pd.read_parquet(p / "rapport")
    custom = pd.read_parquet(p / "custom_metrics")
    custom = custom[custom.metric == "integrations"]
    day = pd.Timedelta(days=1)
    out = []
    for label in LABELS:
        t = pd.Timestamp(label, tz="UTC") + day
        w = s[(s.started_at >= t - 30 * day) & (s.started_at < t)]
        daily = w.groupby(["account_id", "user_id", "date"]).duration_s.sum() / 3600
        daily = daily.reset_index()
        level = daily.groupby("account_id").duration_s.median()
        recent = (
            daily[daily.date >= t - 15 * day].groupby("account_id").duration_s.median()
        )
        earlier = (
            daily[daily.date < t - 15 * day].groupby("account_id").duration_s.median()
        )
        trend = np.log(recent / earlier)
        # retention: cohorts from all sessions before t
        past = s[s.started_at < t]
        first = past.groupby(["account_id", "user_id"]).date.min().rename("cohort")
        act = (
            past[["account_id", "user_id", "date"]]
            .drop_duplicates()
            .join(first, on=["account_id", "user_id"])
        )
        act["offset"] = (act.date - act.cohort).dt.days
        shares = []
        for k in (7, 14, 28, 56, 84):
            elig = first[(first >= t - 180 * day) & (first < t - (k + 7) * day)]
            back = act[(act.offset >= k) & (act.offset < k + 7)]
            back = back.set_index(["account_id", "user_id"]).index.unique()
            flag = elig.index.isin(back)
            shares.append(pd.Series(flag, index=elig.index).groupby(level=0).mean())
        # loyalty
        base = s[(s.started_at >= t - 120 * day) & (s.started_at < t - 30 * day)]
        base = base[["account_id", "user_id"]].drop_duplicates()
        cur = w[["account_id", "user_id"]].drop_duplicates().assign(cur=1)
        base = base.merge(cur, how="left")
        loyalty = base.cur.notna().groupby(base.account_id).mean()
        # performance, rating, nps
        pw = pl[(pl.loaded_at >= t - 30 * day) & (pl.loaded_at < t)]
        perf = pw.groupby("account_id").agg(
            load_ms=("load_ms", "mean"),
            req=("items_requested", "sum"),
            ok=("items_loaded", "sum"),
        )
        rw = ratings[(ratings.rated_at >= t - 90 * day) & (ratings.rated_at < t)]
        stars = rw.groupby("account_id").stars.mean()

        def net_score(t, lo, hi):
            nw = nps[
                (nps.responded_at >= t - lo * day) & (nps.responded_at < t - hi * day)
            ]
            return nw.groupby("account_id").score.agg(
                lambda x: 100 * ((x >= 9).mean() - (x <= 6).mean())
            )

        score = net_score(t, 90, 0)
        change = score - net_score(t, 180, 90)
        iw = invites[(invites.sent_at >= t - 90 * day) & (invites.sent_at < t)]
        rate = (
            nps[(nps.responded_at >= t - 90 * day) & (nps.responded_at < t)]
            .groupby("account_id")
            .size()
            / iw.groupby("account_id").size()
        )
        # relationship indices and the custom index
        tw = touch[(touch.occurred_at >= t - 90 * day) & (touch.occurred_at < t)]
        held = (tw.status == "held").groupby(tw.account_id).sum()
        cancelled = (tw.status == "cancelled").groupby(tw.account_id).mean()
        aw = rapport[(rapport.rated_at >= t - 365 * day) & (rapport.rated_at < t)]
        latest = (
            aw.sort_values(["rated_at", "rating"])
            .groupby(["account_id", "persona"])
            .rating.last()
        )
        rapport_value = latest.groupby(level=0).mean()
        cw = custom[(custom.measured_at >= t - 30 * day) & (custom.measured_at < t)]
        integrations = cw.groupby("account_id").value.mean()
        out.append(
            (level, trend, shares, loyalty, perf, stars, score, change, rate)
            + (held, cancelled, rapport_value, integrations)
        )
    return {
        "seconds": time.perf_counter() - start,
        "cpu_s": time.process_time() - cpu,
        "rows": len(out),
    }


def _child(kind: str, path: str) -> dict:
    result = {
        "metrics": measure_metrics,
        "floor": measure_floor,
        "pandas": measure_pandas,
    }[kind](path)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def run(kind: str, path: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-W", "ignore", __file__, "--child", kind, str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10_000_000)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--skip-pandas", action="store_true")
    parser.add_argument(
        "--pandas-at",
        type=int,
        nargs="+",
        default=[1_000_000],
        help="session counts at which to also time the pandas version",
    )
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(*args.child)))
        return

    with tempfile.TemporaryDirectory(prefix="healthlab-bench-") as tmp:
        pandas_at = set() if args.skip_pandas else set(args.pandas_at)
        sizes = sorted({1_000_000, args.sessions} | pandas_at)
        results = {}
        fixed = Path(tmp) / "fixed"
        generate(fixed, FIXED_COST_SESSIONS)
        small = run("metrics", fixed)
        print(
            f"fixed cost (queries, compilation, assembly) at "
            f"{FIXED_COST_SESSIONS:,} sessions: {small['seconds']:.2f} s "
            f"(CPU {small['cpu_s']:.1f} s)",
            flush=True,
        )
        for n in sizes:
            path = Path(tmp) / f"s{n}"
            start = time.perf_counter()
            generate(path, n)
            print(
                f"generated {n:,} sessions in {time.perf_counter() - start:.1f} s",
                flush=True,
            )
            floor = run("floor", path)
            metrics = run("metrics", path)
            results[n] = (floor, metrics)
            print(
                f"{n:>12,} sessions: all raw metrics, 12 snapshots "
                f"{metrics['seconds']:6.2f} s (CPU {metrics['cpu_s']:5.1f} s), "
                f"peak RSS {metrics['peak_rss_mb']:6.0f} MB"
                f" ({metrics['rows']:,} rows) | floor (one DuckDB pass to user-days) "
                f"{floor['seconds']:5.2f} s (CPU {floor['cpu_s']:4.1f} s, "
                f"{floor['rows']:,} user-days) | ratio "
                f"{metrics['seconds'] / floor['seconds']:4.1f}x wall, "
                f"{metrics['cpu_s'] / floor['cpu_s']:4.1f}x CPU",
                flush=True,
            )
            if n in pandas_at:
                pandas = run("pandas", path)
                print(
                    f"{'':>12} straightforward pandas, same metrics "
                    f"{pandas['seconds']:6.2f} s (CPU {pandas['cpu_s']:5.1f} s), "
                    "peak RSS "
                    f"{pandas['peak_rss_mb']:6.0f} MB | speed-up "
                    f"{pandas['seconds'] / metrics['seconds']:4.1f}x wall, "
                    f"{pandas['cpu_s'] / metrics['cpu_s']:4.1f}x CPU",
                    flush=True,
                )
        if args.sessions != 1_000_000:
            small, large = sorted((1_000_000, args.sessions))
            growth = results[large][1]["seconds"] / results[small][1]["seconds"]
            cpu = results[large][1]["cpu_s"] / results[small][1]["cpu_s"]
            print(
                f"growth {small:,} -> {large:,} sessions: x{large / small:.0f} data, "
                f"x{growth:.1f} time (x{cpu:.1f} CPU)"
            )


if __name__ == "__main__":
    main()
