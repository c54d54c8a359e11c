"""The main job: ``healthlab run`` from raw tables to HTML reports.

Steps, each timed and logged: simulate the default world when the source is
absent, check the data contract, refresh benchmarks and score every as-of
date, validate, calibrate, and write the reports. A lock on the store keeps
two runs from interleaving; every step writes atomically, so a failed run
leaves the previous outputs as they were.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock, Timeout

from healthlab.errors import LockTimeoutError
from healthlab.store_layout import store_file

__all__ = ["RunResult", "RunTimings", "run_all", "store_lock"]

logger = logging.getLogger("healthlab")


@dataclass
class RunTimings:
    """Wall time of each step of a run, in seconds, in the order run."""

    steps: list[tuple[str, float]] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    wall: float | None = None

    def run(self, name: str, step: Callable[[], object]) -> object:
        """Run `step`, log its start and record its duration under `name`."""
        logger.info("[%d] %s ...", len(self.steps) + 1, name)
        started = time.perf_counter()
        result = step()
        self.add(name, time.perf_counter() - started)
        return result

    def add(self, name: str, seconds: float) -> None:
        """Record a step run elsewhere (alongside others) under `name`."""
        self.steps.append((name, seconds))
        logger.info("    %s done in %.1f s", name, seconds)

    def stop(self) -> None:
        """Record the wall time since the timings started."""
        self.wall = time.perf_counter() - self.started

    def __str__(self) -> str:
        width = max((len(n) for n, _ in self.steps), default=4)
        width = max(width, len("total (wall clock)"))
        lines = [f"{name:<{width}}  {sec:7.1f} s" for name, sec in self.steps]
        total = sum(sec for _, sec in self.steps)
        lines.append(f"{'total of the steps':<{width}}  {total:7.1f} s")
        if self.wall is not None:
            lines.append(f"{'total (wall clock)':<{width}}  {self.wall:7.1f} s")
        return "\n".join(lines)


@contextlib.contextmanager
def store_lock(store_path: str | Path, timeout: float = 600.0) -> Iterator[None]:
    """Hold an exclusive lock on the store for the duration of a run.

    A second run on the same store waits up to `timeout` seconds, then
    raises :class:`~healthlab.errors.LockTimeoutError`.
    """
    # the same lock whether the store is named by its file or its folder
    lock_path = Path(str(store_file(store_path)) + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(lock_path)
    try:
        lock.acquire(timeout=timeout)
    except Timeout as exc:
        raise LockTimeoutError(
            f"Another healthlab run holds {str(lock_path)!r} for more than "
            f"{timeout:g} s; wait for it to finish or pass a longer --lock-timeout."
        ) from exc
    try:
        yield
    finally:
        lock.release()


@dataclass
class RunResult:
    """What ``healthlab run`` produced."""

    as_of: str
    reports: list[Path]
    timings: RunTimings
    score_summary: object = None


def run_all(
    source: str | Path,
    *,
    store_path: str | Path = "healthlab.duckdb",
    reports_dir: str | Path = "reports",
    as_of=None,
    definition=None,
    engine: str = "duckdb",
    simulate_missing: bool = False,
    validate: bool = True,
    calibrate: bool = True,
    lock_timeout: float = 600.0,
    n_boot: int = 200,
) -> RunResult:
    """Run the main job from a data source to the HTML reports.

    Parameters
    ----------
    source : str or Path
        Folder of tables, ``.duckdb`` file or ibis URL.
    store_path : str or Path
        The ``healthlab.duckdb`` store receiving benchmarks and histories.
    reports_dir : str or Path
        Reports go to ``<reports_dir>/<as-of>/`` and an index page.
    as_of : date-like, optional
        The report date. Scoring covers every month end of the data up to it
        (and it, when it is not a month end). Default: the last month end.
    definition : str or Path, optional
        Score definition YAML (default: the packaged definition).
    engine : {'duckdb', 'spark'}
        Engine of event-level work.
    simulate_missing : bool
        Simulate the default world into `source` when it does not exist.
    validate, calibrate : bool
        Whether to run the validation and calibration notebooks.
    lock_timeout : float
        Seconds to wait for another run holding the store's lock.
    n_boot : int
        Bootstrap resamples of the weight calibration.

    Returns
    -------
    RunResult

    Notes
    -----
    Re-running for the same as-of date replaces that date's scores and
    reports (idempotent); each report is written to a temporary folder and
    moved into place only when complete. The calibration notebook runs in a
    second process alongside validation and the portfolio report (it only
    reads the store), so the steps' times add up to more than the wall
    time, which is printed too.
    """
    import json

    import pandas as pd

    from healthlab.definition import load_definition
    from healthlab.notebooks import execute_notebook
    from healthlab.pipeline import score_source
    from healthlab.report_publishing import write_index, write_portfolio_report

    timings = RunTimings()
    source, store_path = Path(source), Path(store_path)
    reports_dir = Path(reports_dir)
    if simulate_missing and not (source / "truth.json").exists():
        from healthlab.simulate import simulate_world

        timings.run("simulate the default world", lambda: simulate_world(source))

    spec = load_definition(definition)
    with store_lock(store_path, timeout=lock_timeout):
        dates = None
        if as_of is not None:
            dates = _month_ends_until(source, as_of, engine)
        summary = timings.run(
            "check, benchmark and score",
            lambda: score_source(
                source,
                definition=spec,
                as_of_dates=dates,
                store_path=store_path,
                engine=engine,
            ),
        )
        logger.info("%s", summary)
        label = pd.Timestamp(summary.as_of_dates[-1]).date().isoformat()
        out_dir = reports_dir / label
        common = {
            "store_path": str(store_path.resolve()),
            "source_path": str(source.resolve()),
            "definition_version": spec.version,
            "engine": engine,
            "output_dir": ".",
        }
        reports = []
        validation_summary = None
        calibration = None
        if calibrate:
            # the calibration notebook runs in a second process alongside
            # validation and the portfolio report, which do not need it
            calibration = _start_notebook(
                "calibrate",
                {**common, "n_boot": n_boot},
                out_dir,
                output_name="calibration",
                title=f"Weight calibration {label}",
            )
        try:
            if validate:
                run = timings.run(
                    "validate (notebook)",
                    lambda: execute_notebook(
                        "validate",
                        common,
                        out_dir,
                        output_name="validation",
                        title=f"Score validation {label}",
                    ),
                )
                reports.append(run.html)
                summary_file = out_dir / "validation_summary.json"
                if summary_file.exists():
                    validation_summary = json.loads(summary_file.read_text())
            run = timings.run(
                "portfolio report (notebook)",
                lambda: write_portfolio_report(
                    store_path,
                    source,
                    reports_dir,
                    as_of=label,
                    definition_version=spec.version,
                    validation_report="validation.html" if validate else None,
                    validation_summary=validation_summary,
                    dropped_rows=summary.dropped_rows,
                    engine=engine,
                ),
            )
            reports.append(run.html)
        except BaseException:
            if calibration is not None:
                # keep the store lock until the other process is done
                calibration[0].shutdown(wait=True, cancel_futures=True)
            raise
        if calibration is not None:
            logger.info("waiting for the calibration notebook ...")
            pool, future = calibration
            with pool:
                run = future.result()
            timings.add("calibrate (notebook, alongside)", run.seconds)
            reports.insert(-1, run.html)
        write_index(reports_dir)
    timings.stop()
    return RunResult(label, reports, timings, summary)


def _start_notebook(name, parameters, out_dir, **options):
    # execute a notebook in a fresh process; returns (pool, future)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from healthlab.notebooks import execute_notebook

    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    future = pool.submit(execute_notebook, name, parameters, out_dir, **options)
    return pool, future


def _month_ends_until(source, as_of, engine: str) -> list:
    # every month end of the data up to the report date, and the date itself
    import pandas as pd

    from healthlab.asof import month_ends
    from healthlab.engine import open_source
    from healthlab.pipeline import data_period

    label = pd.Timestamp(as_of)
    first, _ = data_period(open_source(source, engine=engine))
    dates = month_ends(first, label) if first <= label else []
    if not dates or dates[-1] != label:
        dates.append(label)
    return dates
