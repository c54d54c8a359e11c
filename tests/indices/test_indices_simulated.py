"""Raw metrics of a small simulated world against the plain-pandas reference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from indices_reference import reference_metrics

from healthlab.asof import month_ends
from healthlab.definition import load_definition
from healthlab.engine import open_source
from healthlab.indices import compute_raw_metrics

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sim_world(tmp_path_factory):
    from healthlab.simulate import simulate_world

    path = tmp_path_factory.mktemp("sim_world")
    simulate_world(path, n_accounts=60, months=8, seed=3)
    tables = {
        entry.name: pd.read_parquet(entry) for entry in path.iterdir() if entry.is_dir()
    }
    return path, tables


def test_simulated_world_matches_reference(sim_world):
    path, tables = sim_world
    labels = month_ends("2024-11-01", "2025-06-30")
    # the packaged default definition: its custom index is 'integrations'
    result = compute_raw_metrics(open_source(path), labels, load_definition())
    custom = [("integrations", "custom_metrics", "value", "mean", 30, "integrations")]
    expected = reference_metrics(tables, labels, custom)
    got = {
        (r.account_id, r.as_of, r.index, r.metric): r.value for r in result.itertuples()
    }
    assert set(got) == set(expected)
    keys = sorted(expected)
    exp = np.array([expected[k] for k in keys], dtype=float)
    obs = np.array([got[k] for k in keys], dtype=float)
    np.testing.assert_array_equal(np.isnan(exp), np.isnan(obs))
    np.testing.assert_allclose(obs, exp, rtol=1e-9, atol=1e-9)
    # the simulated signals are there: most benchmarked metrics are available
    for index in ("duration", "retention", "loyalty", "nps", "integrations"):
        values = result.loc[result["index"] == index, "value"]
        assert values.notna().mean() > 0.3, index
