"""The validate and calibrate notebooks run headlessly on a small world."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from healthlab.definition import parse_definition
from healthlab.notebooks import execute_notebook

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def store(small_reports):
    # the small world scored once for the whole session (see conftest)
    return small_reports.parent / "healthlab.duckdb"


def test_validate_notebook_runs(store, small_world, tmp_path):
    run = execute_notebook(
        "validate",
        {
            "store_path": store,
            "source_path": small_world,
            "horizon_days": 60,
            "output_dir": tmp_path,
        },
        tmp_path,
    )
    html = run.html_path.read_text(encoding="utf-8")
    assert "Does the health score track churn?" in html
    assert "data:image/png;base64" in html
    assert "load_validation_inputs" not in html  # no code cells
    _assert_standard_header(html)
    summary = json.loads((tmp_path / "validation_summary.json").read_text())
    assert summary["horizon_days"] == 60
    assert 0 <= summary["auc"] <= 1 and 0 <= summary["concordance"] <= 1


def test_calibrate_notebook_proposes_a_valid_definition(store, small_world, tmp_path):
    run = execute_notebook(
        "calibrate",
        {
            "store_path": store,
            "source_path": small_world,
            "n_boot": 20,
            "output_dir": tmp_path,
        },
        tmp_path,
    )
    html = run.html_path.read_text(encoding="utf-8")
    assert "Out-of-time comparison" in html
    _assert_standard_header(html)
    proposed = yaml.safe_load((tmp_path / "proposed_definition.yaml").read_text())
    definition = parse_definition(proposed)
    assert sum(definition.weights.values()) == pytest.approx(100, abs=3)
    assert definition.version.endswith("-calibrated")


def _assert_standard_header(html):
    # every report opens with the same facts block as the portfolio report
    found = re.search(r"<header class=[\"']hl-header[\"']>(.*?)</header>", html, re.S)
    assert found, "no report header"
    header = found.group(1)
    for fact in (
        "As-of date",
        "Data period",
        "Score definition",
        "Dropped input rows",
        "Generated",
    ):
        assert fact in header
