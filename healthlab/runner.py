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

__all__ = ["RunTimings", "store_lock"]

logger = logging.getLogger("healthlab")


@dataclass
class RunTimings:
    """Wall time of each step of a run, in seconds, in the order run."""

    steps: list[tuple[str, float]] = field(default_factory=list)

    def run(self, name: str, step: Callable[[], object]) -> object:
        """Run `step`, log its start and record its duration under `name`."""
        logger.info("[%d] %s ...", len(self.steps) + 1, name)
        started = time.perf_counter()
        result = step()
        elapsed = time.perf_counter() - started
        self.steps.append((name, elapsed))
        logger.info("    %s done in %.1f s", name, elapsed)
        return result

    def __str__(self) -> str:
        width = max((len(n) for n, _ in self.steps), default=4)
        lines = [f"{name:<{width}}  {sec:7.1f} s" for name, sec in self.steps]
        total = sum(sec for _, sec in self.steps)
        lines.append(f"{'total':<{width}}  {total:7.1f} s")
        return "\n".join(lines)


@contextlib.contextmanager
def store_lock(store_path: str | Path, timeout: float = 600.0) -> Iterator[None]:
    """Hold an exclusive lock on the store for the duration of a run.

    A second run on the same store waits up to `timeout` seconds, then
    raises :class:`~healthlab.errors.LockTimeoutError`.
    """
    lock_path = Path(str(store_path) + ".lock")
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
