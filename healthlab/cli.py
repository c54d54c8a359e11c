"""The ``healthlab`` command line.

Each subcommand is a thin shell over a package function, so everything it
does is also available from Python. Errors about the input print one line
naming the problem and the fix and exit with status 2; ``--debug`` shows the
full traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from pathlib import Path

from healthlab.errors import HealthlabError

__all__ = ["main", "build_parser"]

DEFAULT_WORLD = Path("datasets") / "default"
DEFAULT_STORE = Path("healthlab.duckdb")
DEFAULT_REPORTS = Path("reports")

logger = logging.getLogger("healthlab")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``healthlab`` command."""
    parser = argparse.ArgumentParser(
        prog="healthlab",
        description=(
            "Customer Health Scores for subscription accounts: simulate a "
            "world, check a data source, score it against peer benchmarks, "
            "validate and calibrate the score, and write HTML reports."
        ),
    )
    parser.add_argument(
        "--debug", action="store_true", help="show full tracebacks on errors"
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="only print warnings and errors"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    for register in _COMMANDS:
        register(commands)
    return parser


def _add_source(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--source",
        default=str(DEFAULT_WORLD),
        help="folder of Parquet/CSV tables, .duckdb file or ibis URL "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--engine",
        choices=("duckdb", "spark"),
        default="duckdb",
        help="engine for event-level work on a folder source (default: duckdb)",
    )


def _register_simulate(commands) -> None:
    p = commands.add_parser(
        "simulate",
        help="write a synthetic world with known churn truth",
        description="Simulate accounts, users, events and churn into a folder "
        "of partitioned Parquet tables plus truth.json.",
    )
    p.add_argument("--out", default=str(DEFAULT_WORLD), help="output folder")
    p.add_argument("--accounts", type=int, default=2000, help="number of accounts")
    p.add_argument("--months", type=int, default=24, help="length of the period")
    p.add_argument("--start", default="2024-11-01", help="first day of the period")
    p.add_argument("--seed", type=int, default=20261203, help="random seed")
    p.set_defaults(handler=_cmd_simulate)


def _cmd_simulate(args) -> None:
    from healthlab.simulate import simulate_world

    summary = simulate_world(
        args.out,
        n_accounts=args.accounts,
        months=args.months,
        start=args.start,
        seed=args.seed,
    )
    print(summary)


def _register_check(commands) -> None:
    p = commands.add_parser(
        "check",
        help="check a data source against the data contract",
        description="Validate every table and column of a source; print the "
        "tables found and their row counts, or the first violation.",
    )
    _add_source(p)
    p.add_argument(
        "--drop-invalid",
        action="store_true",
        help="drop rows that break range, null or unknown-account rules "
        "(with a warning and a count) instead of failing",
    )
    p.set_defaults(handler=_cmd_check)


def _cmd_check(args) -> None:
    from healthlab.contract import validate_source
    from healthlab.engine import open_source

    source = validate_source(
        open_source(args.source, engine=args.engine), drop_invalid=args.drop_invalid
    )
    for name, table in sorted(source.tables.items()):
        print(f"{name:<16} {source.con.execute(table.count()):>12,} rows")
    for key, count in sorted(source.dropped_rows.items()):
        print(f"dropped {count:,} rows of {key}")
    print(f"{source.location}: the data contract holds.")


def _add_store(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--store",
        default=str(DEFAULT_STORE),
        help="the healthlab.duckdb store (default: %(default)s)",
    )


def _add_as_of(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--as-of",
        action="append",
        dest="as_of",
        metavar="DATE",
        help="as-of date (repeatable; default: every month end of the data)",
    )


def _register_score(commands) -> None:
    p = commands.add_parser(
        "score",
        help="benchmark and score every as-of date into the store",
        description="Check the source, compute the raw metrics, refresh (or "
        "pin) peer benchmarks, score every as-of date, detect alerts and "
        "write the histories into the store.",
    )
    _add_source(p)
    _add_store(p)
    _add_as_of(p)
    p.add_argument("--definition", help="score definition YAML (default: packaged)")
    p.add_argument("--benchmark-version", help="pin a stored benchmark version")
    p.add_argument(
        "--backfill",
        action="store_true",
        help="rescore every as-of date already in the store (default: the "
        "data's month ends) under this definition, as its own version",
    )
    p.add_argument("--export", help="folder to export the histories to")
    p.add_argument("--export-format", choices=("parquet", "csv"), default="parquet")
    p.add_argument("--lock-timeout", type=float, default=600.0, metavar="SECONDS")
    p.set_defaults(handler=_cmd_score)


def _cmd_score(args) -> None:
    from healthlab.pipeline import score_source
    from healthlab.runner import store_lock

    # the same run lock as `healthlab run`: one job at a time per store
    with store_lock(args.store, timeout=args.lock_timeout):
        summary = score_source(
            args.source,
            definition=args.definition,
            as_of_dates=args.as_of,
            store_path=args.store,
            benchmark_version=args.benchmark_version,
            engine=args.engine,
            export=args.export,
            export_format=args.export_format,
            backfill=args.backfill,
        )
    print(summary)


def _register_benchmarks(commands) -> None:
    p = commands.add_parser(
        "benchmarks",
        help="manage peer benchmark versions",
        description="Peer benchmarks are versioned quantile tables; a "
        "refresh writes a new version atomically and never alters old ones.",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    refresh = actions.add_parser(
        "refresh",
        help="compute the raw metrics and store them as a new benchmark version",
    )
    _add_source(refresh)
    _add_store(refresh)
    _add_as_of(refresh)
    refresh.add_argument("--definition", help="score definition YAML")
    refresh.add_argument("--version", help="name of the new version")
    refresh.add_argument(
        "--reports",
        default=str(DEFAULT_REPORTS),
        help="report folder: REPORTS/<as-of>/benchmarks.html (default: %(default)s)",
    )
    refresh.set_defaults(handler=_cmd_benchmarks_refresh)
    listing = actions.add_parser("list", help="list the stored benchmark versions")
    _add_store(listing)
    listing.set_defaults(handler=_cmd_benchmarks_list)


def _cmd_benchmarks_refresh(args) -> None:
    import json

    import pandas as pd

    import healthlab
    from healthlab.notebooks import execute_notebook

    if args.as_of:
        label = max(pd.Timestamp(d) for d in args.as_of).date().isoformat()
    else:
        label = _last_month_end(args.source, args.definition, args.engine)
    source = args.source if "://" in args.source else str(Path(args.source).resolve())
    parameters = {
        "source_path": source,
        "store_path": str(Path(args.store).resolve()),
        "as_of": args.as_of,
        "definition_path": args.definition and str(Path(args.definition).resolve()),
        "engine": args.engine,
        "version": args.version,
    }
    # by path: a `benchmarks/` folder in the working directory shadows the name
    package = Path(healthlab.__file__).resolve().parent
    candidates = [
        folder / "benchmarks.ipynb"
        for folder in (package.parent / "notebooks", package / "notebooks")
    ]
    notebook = next((p for p in candidates if p.is_file()), candidates[0])
    run = execute_notebook(
        notebook,
        parameters,
        Path(args.reports) / label,
        output_name="benchmarks",
        title=f"Benchmarks {label}",
    )
    done = json.loads((run.html.parent / "benchmarks.json").read_text())
    state = "reused (same content)" if done["reused"] else "written"
    print(f"benchmark version {done['version']} {state} in {args.store}")
    print(run.html)


def _last_month_end(source, definition, engine) -> str:
    from healthlab.definition import load_definition
    from healthlab.engine import open_source
    from healthlab.pipeline import default_as_of_dates

    dates = default_as_of_dates(
        open_source(source, engine=engine), load_definition(definition)
    )
    return dates[-1].date().isoformat()


def _cmd_benchmarks_list(args) -> None:
    from healthlab.store import Store

    print(Store(args.store).benchmark_versions().to_string(index=False))


def _register_notebooks(commands) -> None:
    for name, output, blurb in (
        ("validate", "validation", "survival and regression checks of the score"),
        ("calibrate", "calibration", "fit weights and propose a definition"),
    ):
        p = commands.add_parser(
            name,
            help=f"execute the {name} notebook: {blurb}",
            description=f"Execute notebooks/{name}.ipynb with papermill on a "
            f"scored store and write REPORTS/<as-of>/{output}.html (no code "
            "cells). A failing cell exits non-zero naming the cell; the "
            "partial notebook is kept under REPORTS/<as-of>/failed/.",
        )
        _add_source(p)
        _add_store(p)
        p.add_argument("--reports", default=str(DEFAULT_REPORTS))
        p.add_argument("--definition-version", help="default: the latest scored")
        p.add_argument("--as-of-start", help="first snapshot used")
        p.add_argument("--as-of-end", help="last snapshot used (names the folder)")
        p.add_argument("--horizon-days", type=int, default=90)
        if name == "calibrate":
            p.add_argument("--shrinkage", type=float, default=0.1)
            p.add_argument("--n-boot", type=int, default=200)
            p.add_argument("--definition", help="definition YAML to start from")
        p.set_defaults(handler=_cmd_notebook, notebook=name, output=output)


def _cmd_notebook(args) -> None:
    from healthlab.notebooks import execute_notebook

    parameters = {
        "store_path": str(Path(args.store).resolve()),
        "source_path": str(Path(args.source).resolve()),
        "definition_version": args.definition_version,
        "as_of_start": args.as_of_start,
        "as_of_end": args.as_of_end,
        "horizon_days": args.horizon_days,
        "engine": args.engine,
        "output_dir": ".",
    }
    if args.notebook == "calibrate":
        parameters["shrinkage"] = args.shrinkage
        parameters["n_boot"] = args.n_boot
        parameters["definition_path"] = args.definition
    label = args.as_of_end or _latest_as_of(args.store, args.definition_version)
    run = execute_notebook(
        args.notebook,
        parameters,
        Path(args.reports) / str(label),
        output_name=args.output,
        title=f"{args.output.title()} {label}",
    )
    print(run.html)


def _latest_as_of(store_path, definition_version) -> str:
    from healthlab.errors import StoreError
    from healthlab.store import Store

    scores = Store(store_path).read_scores(definition_version)
    if scores.empty:
        raise StoreError(
            f"Store {str(store_path)!r} holds no scores; run `healthlab score` first."
        )
    return scores["as_of"].max().date().isoformat()


def _register_report(commands) -> None:
    p = commands.add_parser(
        "report",
        help="write the portfolio report and the reports index",
        description="Execute the portfolio notebook for an as-of date into "
        "REPORTS/<as-of>/portfolio.html and refresh REPORTS/index.html.",
    )
    _add_source(p)
    _add_store(p)
    p.add_argument("--reports", default=str(DEFAULT_REPORTS))
    p.add_argument("--as-of", help="default: the latest scored as-of date")
    p.add_argument("--definition-version", help="default: the latest scored")
    p.set_defaults(handler=_cmd_report)


def _cmd_report(args) -> None:
    import json

    from healthlab.report_publishing import write_portfolio_report

    label = args.as_of
    summary = None
    if label is not None:
        found = Path(args.reports) / label / "validation_summary.json"
        summary = json.loads(found.read_text()) if found.exists() else None
    run = write_portfolio_report(
        args.store,
        args.source,
        args.reports,
        as_of=label,
        definition_version=args.definition_version,
        validation_report="validation.html" if summary else None,
        validation_summary=summary,
        engine=args.engine,
    )
    print(run.html)


def _register_run(commands) -> None:
    p = commands.add_parser(
        "run",
        help="the main job: score, validate, calibrate and write the reports",
        description="Simulate the default world when no source is given and "
        "it is absent, then check the data, refresh benchmarks, score every "
        "month end up to the as-of date, validate, calibrate and write the "
        "HTML reports under REPORTS/<as-of>/ with an index page. Idempotent "
        "per as-of date; prints the time of each step.",
    )
    p.add_argument(
        "--source",
        help="folder of tables, .duckdb file or ibis URL (default: simulate "
        f"into {DEFAULT_WORLD} if absent)",
    )
    p.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb")
    _add_store(p)
    p.add_argument("--reports", default=str(DEFAULT_REPORTS), help="reports folder")
    p.add_argument("--as-of", help="report date (default: the last month end)")
    p.add_argument("--definition", help="score definition YAML (default: packaged)")
    p.add_argument("--skip-validation", action="store_true")
    p.add_argument("--skip-calibration", action="store_true")
    p.add_argument("--lock-timeout", type=float, default=600.0, metavar="SECONDS")
    p.set_defaults(handler=_cmd_run)


def _cmd_run(args) -> None:
    from healthlab.runner import run_all

    result = run_all(
        args.source or DEFAULT_WORLD,
        store_path=args.store,
        reports_dir=args.reports,
        as_of=args.as_of,
        definition=args.definition,
        engine=args.engine,
        simulate_missing=args.source is None,
        validate=not args.skip_validation,
        calibrate=not args.skip_calibration,
        lock_timeout=args.lock_timeout,
    )
    print(f"Reports for {result.as_of}:")
    for path in result.reports:
        print(f"  {path}")
    print(f"  {Path(args.reports) / 'index.html'}")
    print("Time per step:")
    print(result.timings)


_COMMANDS = [
    _register_simulate,
    _register_check,
    _register_score,
    _register_benchmarks,
    _register_notebooks,
    _register_report,
    _register_run,
]


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(message)s",
    )
    try:
        args.handler(args)
    except HealthlabError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"healthlab {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"healthlab {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
