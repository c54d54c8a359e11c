"""Speed and peak memory of the synthetic world generator.

Usage::

    python benchmarks/simulate_speed.py                  # 1M and 10M sessions
    python benchmarks/simulate_speed.py --sizes 1e6 1e8  # other sizes
    python benchmarks/simulate_speed.py --scale rate     # more sessions per user

Each size runs in a fresh subprocess (so its peak resident memory is its
own) and writes into a temporary folder that is removed afterwards. With
``--scale accounts`` (default) the number of accounts grows with the target
and every account looks like one of the default world; with ``--scale rate``
the default 2,000 accounts keep their users and start more sessions each.
The accounts-per-session ratio comes from a small pilot world.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

from healthlab.simulate import WorldParams

_CHILD = """
import json, resource, sys, time
from healthlab.simulate import simulate_world
kwargs = json.loads(sys.argv[1])
started = time.perf_counter()
summary = simulate_world(sys.argv[2], **kwargs)
elapsed = time.perf_counter() - started
peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"elapsed": elapsed, "rows": summary.rows, "peak_kib": peak_kib}))
"""


def run_child(kwargs: dict) -> dict:
    """Simulate one world in a subprocess; return its timing, rows and memory."""
    with tempfile.TemporaryDirectory(prefix="healthlab-bench-") as tmp:
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, json.dumps(kwargs), f"{tmp}/world"],
            check=True,
            capture_output=True,
            text=True,
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e6, 1e7])
    parser.add_argument("--scale", choices=("accounts", "rate"), default="accounts")
    parser.add_argument("--seed", type=int, default=20261203)
    args = parser.parse_args(argv)

    # pilot: sessions per account of the default world's mechanism
    pilot_accounts, default_accounts = 300, 2000
    default_rate = WorldParams().sessions_per_user_month
    pilot = run_child({"n_accounts": pilot_accounts, "seed": args.seed})
    per_account = pilot["rows"]["sessions"] / pilot_accounts
    print(f"pilot: {per_account:,.0f} sessions per account (24 months)")

    header = (
        f"{'target':>12} {'accounts':>9} {'per user-month':>14} {'sessions':>12} "
        f"{'all rows':>12} {'seconds':>8} {'sessions/s':>11} {'peak RSS MiB':>13}"
    )
    print(header)
    for target in args.sizes:
        if args.scale == "accounts":
            accounts = max(1, round(target / per_account))
            rate = default_rate
        else:
            accounts = default_accounts
            rate = default_rate * target / (per_account * default_accounts)
        kwargs = {
            "n_accounts": accounts,
            "sessions_per_user_month": rate,
            "seed": args.seed,
        }
        result = run_child(kwargs)
        sessions = result["rows"]["sessions"]
        print(
            f"{target:>12,.0f} {accounts:>9,} {rate:>14.2f} {sessions:>12,} "
            f"{sum(result['rows'].values()):>12,} {result['elapsed']:>8.1f} "
            f"{sessions / result['elapsed']:>11,.0f} "
            f"{result['peak_kib'] / 1024:>13,.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
