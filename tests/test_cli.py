"""The command line: help, one-line errors, exit codes, the store lock."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from healthlab.cli import main
from healthlab.errors import LockTimeoutError
from healthlab.runner import store_lock


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in (
        "simulate",
        "check",
        "score",
        "benchmarks",
        "validate",
        "calibrate",
        "report",
        "run",
    ):
        assert f"    {command}" in out


def _bad_world(tmp_path):
    # a valid minimal source except for one negative session duration
    stamp = pd.Timestamp("2026-01-05 10:00", tz="UTC")
    pd.DataFrame(
        {
            "account_id": ["a1"],
            "name": ["Acme"],
            "csm": ["Kim"],
            "industry": ["retail"],
            "size_band": ["small"],
            "app_type": ["web"],
            "created_at": [stamp - pd.Timedelta(days=400)],
        }
    ).to_parquet(tmp_path / "accounts.parquet")
    pd.DataFrame(
        {
            "account_id": ["a1", "a1"],
            "user_id": ["u1", "u2"],
            "started_at": [stamp, stamp],
            "duration_s": [120.0, -5.0],
        }
    ).to_parquet(tmp_path / "sessions.parquet")
    return tmp_path


def test_bad_input_prints_one_line_and_exits_non_zero(tmp_path, capsys):
    code = main(["check", "--source", str(_bad_world(tmp_path))])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith("healthlab check: error: sessions.duration_s: 1 row")
    assert "-5.0" in err
    assert "Traceback" not in err


def test_debug_shows_the_traceback(tmp_path, capsys):
    code = main(["--debug", "check", "--source", str(_bad_world(tmp_path))])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" in err


def test_missing_source_names_the_path(tmp_path, capsys):
    missing = tmp_path / "nowhere"
    code = main(["check", "--source", str(missing)])
    err = capsys.readouterr().err
    assert code == 2
    assert str(missing) in err


def test_check_reports_row_counts_of_a_world(small_world, capsys):
    assert main(["check", "--source", str(small_world)]) == 0
    out = capsys.readouterr().out
    sessions = pd.read_parquet(small_world / "sessions")
    assert f"{len(sessions):,} rows" in out
    assert "the data contract holds" in out


def test_second_run_on_a_locked_store_times_out(tmp_path):
    store = tmp_path / "healthlab.duckdb"
    holder = textwrap.dedent(
        f"""
        import sys, time
        from healthlab.runner import store_lock
        with store_lock({str(store)!r}):
            print("locked", flush=True)
            time.sleep(30)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(LockTimeoutError, match="Another healthlab run holds"):
            with store_lock(store, timeout=0.5):
                pass
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    # once the holder is gone the lock is free again
    with store_lock(store, timeout=5):
        pass


def test_store_named_by_folder_or_file_takes_one_lock(tmp_path):
    # `--store runs` and `--store runs/healthlab.duckdb` are the same store
    folder = tmp_path / "runs"
    with store_lock(folder, timeout=1):
        with pytest.raises(LockTimeoutError, match="healthlab.duckdb.lock"):
            with store_lock(folder / "healthlab.duckdb", timeout=0.2):
                pass
