"""Shared fixtures: a private Jupyter/matplotlib home, worlds, Spark, report frames."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from report_frames import HOSTILE, OCT, SEP

ROOT = Path(__file__).resolve().parents[1]

# Jupyter, IPython and matplotlib write under $HOME by default; keep tests
# (and the notebooks they execute) away from it.
_STATE = Path(tempfile.mkdtemp(prefix="healthlab-tests-"))
for _var, _sub in {
    "MPLCONFIGDIR": "matplotlib",
    "IPYTHONDIR": "ipython",
    "JUPYTER_CONFIG_DIR": "jupyter/config",
    "JUPYTER_DATA_DIR": "jupyter/data",
    "JUPYTER_RUNTIME_DIR": "jupyter/runtime",
}.items():
    os.environ.setdefault(_var, str(_STATE / _sub))
os.environ.setdefault("JUPYTER_PLATFORM_DIRS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_STATE, ignore_errors=True)


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    """The shared real datasets; tests using it skip when it is absent."""
    path = Path(
        os.environ.get("HEALTHLAB_DATASETS", ROOT.parent / "shared" / "datasets")
    )
    if not path.is_dir():
        pytest.skip(f"real datasets folder {path} is absent")
    return path


@pytest.fixture(scope="session")
def small_world(tmp_path_factory) -> Path:
    """A small simulated world (120 accounts, 12 months), made once."""
    from healthlab.simulate import simulate_world

    path = tmp_path_factory.mktemp("small_world")
    simulate_world(path, n_accounts=120, months=12, seed=7)
    return path


@pytest.fixture(scope="session")
def spark_session():
    """One local Spark session shared by the whole test run."""
    pytest.importorskip("pyspark", reason="pyspark is not installed")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        if os.environ.get("CI"):
            pytest.fail("Java is required for the Spark tests in CI")
        pytest.skip("no Java runtime for Spark")
    from healthlab.engine import get_spark_session

    return get_spark_session()


@pytest.fixture(scope="session")
def small_reports(small_world, tmp_path_factory) -> Path:
    """The small world scored, validated and reported, once.

    Returns the reports folder (``<as-of>/validation.html``,
    ``<as-of>/portfolio.html`` and ``index.html``); the store is
    ``healthlab.duckdb`` beside it.
    """
    import json

    from healthlab.notebooks import execute_notebook
    from healthlab.pipeline import score_source
    from healthlab.report_publishing import write_portfolio_report

    root = tmp_path_factory.mktemp("small_reports")
    store = root / "healthlab.duckdb"
    summary = score_source(small_world, store_path=store)
    out_dir = root / "reports" / summary.as_of_dates[-1].date().isoformat()
    params = {"store_path": str(store), "source_path": str(small_world)}
    execute_notebook("validate", params, out_dir, output_name="validation")
    write_portfolio_report(
        store,
        small_world,
        root / "reports",
        validation_report="validation.html",
        validation_summary=json.loads(
            (out_dir / "validation_summary.json").read_text()
        ),
    )
    return root / "reports"


# ------------------------------------------- hand-built report frames


@pytest.fixture
def accounts() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": ["a1", "a2", "a3", "a4", "a5"],
            "name": ["Acme", HOSTILE, "Beta & Sons", "Gamma", "Delta"],
            "csm": ["Ann", "Ann", "$Bo <b>", "$Bo <b>", HOSTILE],
        }
    )


@pytest.fixture
def scores() -> pd.DataFrame:
    rows = [
        ("a1", SEP, 75.0, "Strong"),
        ("a2", SEP, 45.0, "Moderate"),
        ("a3", SEP, 20.0, "Weak"),
        ("a4", SEP, 35.0, "Weak"),
        ("a5", SEP, 60.0, "Moderate"),
        ("a1", OCT, 80.0, "Strong"),
        ("a2", OCT, 30.0, "Weak"),
        ("a3", OCT, 25.0, "Weak"),
        ("a4", OCT, 38.0, "Weak"),
        ("a5", OCT, np.nan, None),
    ]
    frame = pd.DataFrame(rows, columns=["account_id", "as_of", "score", "category"])
    return frame.assign(definition_version="v1", coverage=1.0)


@pytest.fixture
def indices() -> pd.DataFrame:
    rows = []
    for acc, value_d, value_n in [("a2", 20.0, 50.0), ("a3", 10.0, 55.0)]:
        rows.append((acc, OCT, "duration", value_d, 25.0, value_d * 25 / 35, True))
        rows.append((acc, OCT, "nps", value_n, 10.0, value_n * 10 / 35, True))
        rows.append((acc, OCT, "retention", np.nan, 20.0, np.nan, False))
    frame = pd.DataFrame(
        rows,
        columns=[
            "account_id",
            "as_of",
            "index",
            "value",
            "weight",
            "contribution",
            "available",
        ],
    )
    return frame.assign(
        source_index=frame["index"],
        reason=np.where(frame["available"], None, "too_few_users"),
        peer_level="industry+app_type",
        peer_group=f"retail|{HOSTILE}",
        partial=[False, True, False, False, False, False],
    )


@pytest.fixture
def metrics() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": ["a2", "a2", "a3"],
            "as_of": [OCT, OCT, OCT],
            "index": ["duration", "duration", "nps"],
            "metric": ["level", "trend", "nps"],
            "value": [0.5, -0.1, 10.0],
            "percentile": [12.4, 61.0, 48.6],
        }
    )
