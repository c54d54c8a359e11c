"""Definition history: backfill under a new definition, comparison, report marks.

One store lives through a definition change: the first eleven month ends
are scored with the packaged definition, the last month end with a new
version (other weights), then ``healthlab score --backfill`` rescores the
whole history under the new version. A second, fresh store is scored
under the new version alone.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from healthlab.cli import main
from healthlab.definition import (
    DEFAULT_DEFINITION_PATH,
    load_definition,
    parse_definition,
)
from healthlab.engine import open_source
from healthlab.pipeline import compare_definitions, default_as_of_dates, score_source
from healthlab.report_publishing import write_portfolio_report
from healthlab.reports import definition_changes
from healthlab.store import Store

pytestmark = pytest.mark.slow

OLD, NEW = "default-1", "changed-2"


@pytest.fixture(scope="module")
def history(small_world, tmp_path_factory):
    root = tmp_path_factory.mktemp("definition_history")
    data = yaml.safe_load(DEFAULT_DEFINITION_PATH.read_text())
    data["version"] = NEW
    data["weights"] = {**data["weights"], "duration": 10, "retention": 45}
    new_path = root / "changed.yaml"
    new_path.write_text(yaml.safe_dump(data))
    old = load_definition()
    dates = default_as_of_dates(open_source(small_world), old)

    changed = root / "changed" / "healthlab.duckdb"
    score_source(
        small_world, definition=old, as_of_dates=dates[:-1], store_path=changed
    )
    score_source(
        small_world, definition=new_path, as_of_dates=dates[-1:], store_path=changed
    )
    argv = ["--quiet", "score", "--source", str(small_world), "--store", str(changed)]
    argv += ["--definition", str(new_path), "--backfill"]
    argv += ["--export", str(root / "changed_export")]
    assert main(argv) == 0

    fresh = root / "fresh" / "healthlab.duckdb"
    score_source(
        small_world,
        definition=new_path,
        store_path=fresh,
        export=root / "fresh_export",
    )
    return {
        "root": root,
        "dates": dates,
        "changed": Store(changed),
        "fresh": Store(fresh),
        "old": old,
        "new": parse_definition(data),
    }


@pytest.mark.parametrize(
    "table", ["score_history", "index_history", "metric_history", "alerts"]
)
def test_backfill_equals_fresh_scoring(history, table):
    """The backfilled history of the new version is a fresh scoring under it.

    Both runs refresh their benchmarks from the same data at the same as-of
    dates under the new definition, rather than pinning one version: a new
    definition may change peer keys or metrics, so a benchmark built for the
    old one does not fit it, and the backfill must rebuild benchmarks to be
    comparable with a fresh start. Benchmark version names differ between
    the stores (the changed store already holds older versions), so names
    are left out here and the benchmark contents compared below.
    """
    root = history["root"]
    backfilled = pd.read_parquet(root / "changed_export" / f"{table}.parquet")
    fresh = pd.read_parquet(root / "fresh_export" / f"{table}.parquet")
    assert set(fresh["definition_version"]) == {NEW}
    assert set(backfilled["definition_version"]) == {OLD, NEW}
    backfilled = backfilled[backfilled["definition_version"] == NEW]
    drop = [c for c in ["benchmark_version"] if c in fresh.columns]
    assert len(fresh) > 0
    pd.testing.assert_frame_equal(
        backfilled.drop(columns=drop).reset_index(drop=True),
        fresh.drop(columns=drop).reset_index(drop=True),
    )
    if table == "score_history":
        # every month end, the last one first scored in a regular run
        assert sorted(backfilled["as_of"].unique()) == history["dates"]


def test_backfill_benchmarks_equal_fresh_ones(history):
    changed, fresh = history["changed"], history["fresh"]
    latest = changed.read_scores(NEW)["benchmark_version"].unique()
    assert len(latest) == 1
    assert len(changed.benchmark_versions()) == 3
    ours = changed.read_benchmarks(latest[0]).drop(columns="version")
    theirs = fresh.read_benchmarks().drop(columns="version")
    pd.testing.assert_frame_equal(ours, theirs)


def test_definition_history_lists_both_versions(history):
    dates = history["dates"]
    table = history["changed"].definition_history()
    assert list(table["version"]) == [OLD, NEW]
    old, new = table.iloc[0], table.iloc[1]
    assert old["first_used"] < new["first_used"]
    assert json.loads(old["content"]) == json.loads(history["old"].to_json())
    assert json.loads(new["content"]) == json.loads(history["new"].to_json())
    assert old["as_of_dates"] == dates[:-1]
    assert new["as_of_dates"] == dates
    # the backfill does not change which version was in use at each date
    assert old["in_use_dates"] == dates[:-1]
    assert new["in_use_dates"] == dates[-1:]


def test_definition_changes(history):
    changes = definition_changes(history["changed"])
    assert changes.to_dict("records") == [
        {
            "as_of": history["dates"][-1],
            "previous_version": OLD,
            "definition_version": NEW,
        }
    ]
    assert definition_changes(history["fresh"]).empty
    assert definition_changes(history["changed"], until=history["dates"][-2]).empty


def test_compare_definitions_against_pandas(history):
    scores = history["changed"].read_scores()
    got = compare_definitions(history["changed"], OLD, NEW)
    assert list(got["as_of"]) == history["dates"][:-1]
    for as_of in [history["dates"][0], history["dates"][-2]]:
        a = scores[(scores["definition_version"] == OLD) & (scores["as_of"] == as_of)]
        b = scores[(scores["definition_version"] == NEW) & (scores["as_of"] == as_of)]
        a = a.set_index("account_id")
        b = b.set_index("account_id")
        both = a.index[a["score"].notna()].intersection(b.index[b["score"].notna()])
        a, b = a.loc[both], b.loc[both]
        row = got[got["as_of"] == as_of].iloc[0]
        assert row["accounts"] == len(both)
        assert row["mean_score_a"] == pytest.approx(np.mean(a["score"]))
        assert row["mean_score_b"] == pytest.approx(np.mean(b["score"]))
        assert row["share_Weak_b"] == pytest.approx(np.mean(b["category"] == "Weak"))
        changed = np.mean(a["category"].to_numpy() != b["category"].to_numpy())
        assert row["changed_category"] == pytest.approx(changed)
        rho = stats.spearmanr(a["score"], b["score"]).statistic
        assert row["rank_correlation"] == pytest.approx(rho)
    # other weights do move some accounts, but the ranks stay close
    assert got["changed_category"].max() > 0
    assert got["rank_correlation"].min() > 0.5


def test_report_marks_the_definition_change(history, small_world):
    run = write_portfolio_report(
        history["changed"].path, small_world, history["root"] / "reports"
    )
    text = run.html_path.read_text()
    day = history["dates"][-1].date().isoformat()
    assert (
        f"Definition changed from <code>{OLD}</code> to <code>{NEW}</code> on {day}."
        in text
    )
    assert run.parameters.get("definition_version") in (None, NEW)


def test_trend_figure_draws_a_line_at_each_change():
    import matplotlib.dates as mdates

    from healthlab.figures import plot_csm_trend

    dates = pd.date_range("2024-01-31", periods=6, freq="ME")
    trend = pd.DataFrame(
        {
            "csm": ["Ann"] * 6 + ["Bob"] * 6,
            "as_of": list(dates) * 2,
            "mean_score": np.arange(12, dtype=float) + 40,
        }
    )
    changes = pd.DataFrame(
        {"as_of": [dates[4]], "previous_version": [OLD], "definition_version": [NEW]}
    )
    when = mdates.date2num(dates[4])
    for drawn, expected in [(changes, 1), (None, 0)]:
        fig = plot_csm_trend(trend, changes=drawn)
        for ax in fig.axes[:2]:
            vertical = [
                line
                for line in ax.lines
                if len(set(mdates.date2num(line.get_xdata()))) == 1
                and mdates.date2num(line.get_xdata())[0] == when
            ]
            assert len(vertical) == expected
        labels = [t.get_text() for t in fig.axes[0].texts]
        assert labels == ([NEW] if expected else [])
