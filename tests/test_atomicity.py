"""Atomic outputs and concurrent use of one store.

A failure injected midway through a write, or a SIGKILL of the writing
process, must leave the store, benchmark versions and reports exactly as
they were and readable. Store content is compared by a SHA-256 of every
table's rows, sorted and rendered as CSV; report files byte for byte.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from healthlab import notebooks, report_publishing
from healthlab.cli import main
from healthlab.errors import LockTimeoutError, NotebookExecutionError
from healthlab.store import Store
from healthlab.store_layout import SCHEMA

pytestmark = pytest.mark.timeout(300)

AS_OF = pd.Timestamp("2025-01-31")


def histories(n: int, as_of=AS_OF, version="v1", shift=0.0):
    """Score, index and metric rows of `n` accounts at one as-of date."""
    ids = [f"acc{i:07d}" for i in range(n)]
    value = (np.arange(n) % 100).astype(float) + shift
    scores = pd.DataFrame(
        {
            "account_id": ids,
            "as_of": as_of,
            "definition_version": version,
            "score": value,
            "coverage": 1.0,
            "category": np.where(value >= 50, "Strong", "Weak"),
            "reason": None,
            "account_age_days": 100,
            "benchmark_version": "b0001",
        }
    )
    indices = scores[["account_id", "as_of", "definition_version"]].assign(
        index="duration",
        source_index="duration",
        value=value,
        weight=1.0,
        contribution=value,
        available=True,
        reason=None,
        peer_level="everyone",
        peer_group="all",
        partial=False,
    )
    metrics = scores[["account_id", "as_of", "definition_version"]].assign(
        index="duration",
        metric="level",
        value=value / 10,
        percentile=value,
        peer_level="everyone",
        peer_group="all",
    )
    return scores, indices, metrics


def benchmark_rows(n_metrics: int, shift=0.0) -> pd.DataFrame:
    """101 quantiles of `n_metrics` metrics in one peer group."""
    metric, quantile = np.divmod(np.arange(n_metrics * 101), 101)
    return pd.DataFrame(
        {
            "as_of": AS_OF,
            "index": "duration",
            "metric": [f"m{m}" for m in metric],
            "peer_level": "everyone",
            "peer_group": "all",
            "quantile": quantile,
            "value": quantile / 10 + metric + shift,
            "member_count": 40,
            "member_mean": 5.0,
            "source_period": "2025-01",
        }
    )


def fingerprint(store_path) -> str:
    """SHA-256 of every store table except the run log, rows sorted, as CSV."""
    store = Store(store_path, lock_timeout=30)
    digest = hashlib.sha256()
    for table in SCHEMA:
        if table in ("runs", "benchmark_versions", "definitions"):
            # these carry creation times; compared by their stable columns
            frame = store.read_table(table).drop(
                columns=["created_at", "stored_at", "started_at", "finished_at"],
                errors="ignore",
            )
        else:
            frame = store.read_table(table)
        frame = frame.sort_values(list(frame.columns), ignore_index=True)
        digest.update(table.encode())
        digest.update(frame.to_csv(index=False).encode())
    return digest.hexdigest()


@pytest.fixture
def seeded(tmp_path) -> Path:
    """A store holding one score snapshot and one benchmark version."""
    path = tmp_path / "healthlab.duckdb"
    store = Store(path)
    store.write_scores(*histories(50))
    store.write_benchmarks(benchmark_rows(3), definition_version="v1")
    return path


# ---------------------------------------------------------------------------
# failures injected midway


def test_failure_midway_through_write_scores(seeded, monkeypatch):
    before = fingerprint(seeded)
    real = Store._insert
    written = []

    def insert_then_fail(self, con, table, frame, schema=None):
        real(self, con, table, frame, schema)
        written.append(table)
        if table == "metric_history":
            raise OSError("disk full")

    monkeypatch.setattr(Store, "_insert", insert_then_fail)
    # the same as-of date (its rows are deleted first) and a new one
    frames = histories(80, shift=7.0)
    new = pd.concat([frames[0], histories(80, as_of="2025-02-28")[0]])
    with pytest.raises(OSError, match="disk full"):
        Store(seeded).write_scores(new, *frames[1:])

    # the failure came after three tables were rewritten in the transaction
    assert written == ["score_history", "index_history", "metric_history"]
    assert fingerprint(seeded) == before
    assert len(Store(seeded).read_scores()) == 50


def test_failure_midway_through_write_benchmarks(seeded, monkeypatch):
    before = fingerprint(seeded)
    real = Store._insert

    def stage_then_fail(self, con, table, frame, schema=None):
        real(self, con, table, frame, schema)
        raise KeyboardInterrupt  # as when a scheduler stops the job

    monkeypatch.setattr(Store, "_insert", stage_then_fail)
    with pytest.raises(KeyboardInterrupt):
        Store(seeded).write_benchmarks(benchmark_rows(5, shift=1.0))
    monkeypatch.undo()

    assert fingerprint(seeded) == before
    # the failed version left no trace: the next one takes the next name
    assert Store(seeded).write_benchmarks(benchmark_rows(2)) == "b0002"
    assert list(Store(seeded).benchmark_versions()["version"]) == ["b0001", "b0002"]


def _tiny_notebook(path: Path) -> Path:
    """Writes summary.json beside itself, then fails when asked to."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    params = nbformat.v4.new_code_cell("label = 'first'\nfail = False")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        params,
        nbformat.v4.new_code_cell(
            "from pathlib import Path\n"
            "Path('summary.json').write_text('{\"label\": \"%s\"}' % label)\n"
            "print('LABEL', label)"
        ),
        nbformat.v4.new_code_cell("if fail:\n    raise RuntimeError('late failure')"),
    ]
    nbformat.write(nb, path)
    return path


@pytest.mark.slow
def test_failure_midway_through_execute_notebook(tmp_path, monkeypatch):
    source = _tiny_notebook(tmp_path / "tiny.ipynb")
    out = tmp_path / "reports"
    notebooks.execute_notebook(source, {"label": "first"}, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert sorted(before) == ["summary.json", "tiny.html", "tiny.ipynb"]
    assert before["summary.json"] == b'{"label": "first"}'
    assert b"LABEL first" in before["tiny.html"]

    # a cell fails after the notebook wrote its summary: nothing is published
    with pytest.raises(NotebookExecutionError, match="late failure"):
        notebooks.execute_notebook(source, {"label": "second", "fail": True}, out)
    shutil.rmtree(out / "failed")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before

    # the HTML export fails halfway through writing its page
    real = notebooks.export_html

    def export_half_then_fail(executed, html, **kwargs):
        real(executed, html, **kwargs)
        Path(html).write_bytes(Path(html).read_bytes()[:100])
        raise OSError("no space left on device")

    monkeypatch.setattr(notebooks, "export_html", export_half_then_fail)
    with pytest.raises(OSError, match="no space left"):
        notebooks.execute_notebook(source, {"label": "third"}, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before

    # a run that succeeds publishes its summary with its page
    monkeypatch.undo()
    notebooks.execute_notebook(source, {"label": "fourth"}, out)
    assert (out / "summary.json").read_text() == '{"label": "fourth"}'
    assert sorted(p.name for p in out.iterdir()) == sorted(before)


def test_failure_midway_through_the_report_index(tmp_path, monkeypatch):
    root = tmp_path / "reports"
    (root / "2025-01-31").mkdir(parents=True)
    (root / "2025-01-31" / "portfolio.html").write_text("<html></html>")
    report_publishing.write_index(root)
    before = (root / "index.html").read_bytes()
    (root / "2025-02-28").mkdir()
    (root / "2025-02-28" / "portfolio.html").write_text("<html></html>")

    def fail(*args):
        raise OSError("interrupted")

    monkeypatch.setattr(report_publishing.os, "replace", fail)
    with pytest.raises(OSError, match="interrupted"):
        report_publishing.write_index(root)

    assert (root / "index.html").read_bytes() == before
    assert sorted(p.name for p in root.iterdir()) == [
        "2025-01-31",
        "2025-02-28",
        "index.html",
    ]


# ---------------------------------------------------------------------------
# the writing process is killed


_KILLED_WRITER = """
import sys, time
import numpy as np
import pandas as pd
sys.path.insert(0, {tests!r})
from test_atomicity import benchmark_rows, histories
from healthlab.store import Store

store = Store({store!r})
real = Store._insert

def insert_and_hang(self, con, table, frame, schema=None):
    real(self, con, table, frame, schema)
    if table == {hang_after!r}:
        print("inside", flush=True)
        time.sleep(120)

Store._insert = insert_and_hang
if {what!r} == "scores":
    # rewrite the stored as-of date and add a large one, over and over
    while True:
        scores, indices, metrics = histories(150_000, as_of="2025-02-28")
        store.write_scores(
            pd.concat([histories(50, shift=3.0)[0], scores]), indices, metrics
        )
else:
    store.write_benchmarks(benchmark_rows(1500, shift=2.0))
"""


@pytest.mark.parametrize(
    ("what", "hang_after"),
    [("scores", "metric_history"), ("benchmarks", "_staged")],
)
def test_sigkill_midway_through_a_write(seeded, what, hang_after):
    before = fingerprint(seeded)
    code = _KILLED_WRITER.format(
        tests=str(Path(__file__).parent),
        store=str(seeded),
        what=what,
        hang_after=hang_after,
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True
    )
    try:
        # hundreds of thousands of rows are written inside the open transaction
        assert proc.stdout.readline().strip() == "inside"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL

    assert fingerprint(seeded) == before
    # and the store still takes writes
    Store(seeded).write_scores(*histories(5, as_of="2025-03-31"))
    assert sorted(Store(seeded).read_scores()["as_of"].unique()) == [
        pd.Timestamp("2025-01-31"),
        pd.Timestamp("2025-03-31"),
    ]


def test_sigkill_at_a_random_point_of_a_large_write(seeded):
    """Killed without warning while writing: each write is all or nothing."""
    code = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_atomicity import histories
        from healthlab.store import Store
        store = Store({str(seeded)!r})
        print("writing", flush=True)
        for i in range(1000):
            store.write_scores(*histories(100_000, as_of="2025-02-28", shift=i))
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "writing"
        proc.wait(timeout=2.5)  # let it write for a while; it never ends alone
    except subprocess.TimeoutExpired:
        pass
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()

    scores = Store(seeded).read_scores()
    first = scores[scores["as_of"] == AS_OF]
    assert len(first) == 50
    late = scores[scores["as_of"] == pd.Timestamp("2025-02-28")]
    # either no snapshot of the later date, or one whole snapshot
    assert len(late) in (0, 100_000)
    if len(late):
        shift = late["score"].iloc[0]
        expected = (np.arange(100_000) % 100) + shift
        assert np.array_equal(late.sort_values("account_id")["score"], expected)
        assert len(Store(seeded).read_metrics(as_of="2025-02-28")) == 100_000


# ---------------------------------------------------------------------------
# two processes on one store


_HOLDER = """
import time
from healthlab.store import Store
store = Store({store!r})
with store._write() as con:
    print("writing", flush=True)
    time.sleep({seconds})
"""


def _hold_store(store: Path, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER.format(store=str(store), seconds=seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "writing"
    return proc


def test_a_reader_waits_for_another_process_writing(seeded):
    store = Store(seeded, lock_timeout=60)
    proc = _hold_store(seeded, 2)
    try:
        # DuckDB refuses to open a file another process writes; the store waits
        assert len(store.read_scores()) == 50
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()


def test_a_reader_gives_up_with_a_clear_message(seeded):
    store = Store(seeded, lock_timeout=0.5)
    proc = _hold_store(seeded, 60)
    try:
        with pytest.raises(LockTimeoutError) as info:
            store.read_scores()
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    assert str(info.value) == (
        f"Store {str(seeded)!r} is held by another process for more than 0.5 s; "
        "wait for it to finish."
    )


def test_two_writers_do_not_corrupt_the_store(seeded):
    code = textwrap.dedent(
        """
        import sys
        sys.path.insert(0, {tests!r})
        from test_atomicity import histories
        from healthlab.store import Store
        store = Store({store!r})
        for i in range(4):
            store.write_scores(*histories(5_000, as_of={as_of!r}, shift=i))
        """
    )
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                code.format(
                    tests=str(Path(__file__).parent), store=str(seeded), as_of=as_of
                ),
            ],
            stderr=subprocess.PIPE,
            text=True,
        )
        for as_of in ("2025-02-28", "2025-03-31")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err

    scores = Store(seeded).read_scores()
    counts = scores.groupby("as_of").size().to_dict()
    assert counts == {
        pd.Timestamp("2025-01-31"): 50,
        pd.Timestamp("2025-02-28"): 5_000,
        pd.Timestamp("2025-03-31"): 5_000,
    }
    # each date holds its writer's last snapshot (shift 3)
    late = scores[scores["as_of"] > AS_OF].sort_values(["as_of", "account_id"])
    expected = np.tile((np.arange(5_000) % 100) + 3.0, 2)
    assert np.array_equal(late["score"].to_numpy(), expected)


@pytest.mark.parametrize("command", ["score", "run"])
def test_score_and_run_take_the_run_lock(tmp_path, capsys, command):
    store = tmp_path / "healthlab.duckdb"
    holder = textwrap.dedent(
        f"""
        import time
        from healthlab.runner import store_lock
        with store_lock({str(store)!r}):
            print("locked", flush=True)
            time.sleep(60)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "locked"
        status = main(
            [
                command,
                "--source",
                str(tmp_path / "absent"),
                "--store",
                str(store),
                "--lock-timeout",
                "0.5",
            ]
        )
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()

    assert status == 2
    lock = str(store) + ".lock"
    assert capsys.readouterr().err == (
        f"healthlab {command}: error: Another healthlab run holds {lock!r} for "
        "more than 0.5 s; wait for it to finish or pass a longer --lock-timeout.\n"
    )
    assert not os.path.exists(store) or fingerprint(store)
