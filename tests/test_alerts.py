"""Alerts: hysteresis on a flapping series, drops, the index that moved most."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import yaml

from healthlab.alerts import ALERT_COLUMNS, detect_alerts, held_categories
from healthlab.definition import DEFAULT_DEFINITION_PATH, parse_definition


def _definition(**alerts):
    data = copy.deepcopy(yaml.safe_load(DEFAULT_DEFINITION_PATH.read_text()))
    data["alerts"].update(alerts)
    return parse_definition(data)


def _series(scores, account="a1"):
    dates = pd.date_range("2025-01-31", periods=len(scores), freq="ME")
    return pd.DataFrame(
        {
            "account_id": account,
            "as_of": dates,
            "definition_version": "default-1",
            "score": np.array(scores, dtype=float),
        }
    )


def _indices(scores: pd.DataFrame, moves: dict[int, tuple[str, float]]) -> pd.DataFrame:
    # two indices share each score; `moves[i]` puts the change into one index
    rows = []
    for i, row in enumerate(scores.itertuples()):
        part = {"duration": row.score / 2, "nps": row.score / 2}
        if i in moves:
            name, _ = moves[i]
            other = "nps" if name == "duration" else "duration"
            prev = scores["score"].iloc[i - 1]
            part[other] = prev / 2
            part[name] = row.score - prev / 2
        for name, value in part.items():
            rows.append((row.account_id, row.as_of, name, value))
    return pd.DataFrame(rows, columns=["account_id", "as_of", "index", "contribution"])


def test_plain_categories_flap_without_margin():
    d = _definition(hysteresis_margin=0)
    flapping = [68, 71, 69, 72, 68, 71]
    got = held_categories(flapping, d.categories, margin=0)
    assert got == ["Moderate", "Strong", "Moderate", "Strong", "Moderate", "Strong"]


def test_hysteresis_holds_the_category_on_a_flapping_series():
    d = _definition(hysteresis_margin=3, drop_points=None)
    flapping = [68, 71, 69, 72, 68, 71, 74, 69, 68, 66, 75]
    scores = _series(flapping)
    alerts = detect_alerts(scores, _indices(scores, {}), d)
    # crossing 70 needs >= 73 upward and < 67 downward
    assert alerts["kind"].tolist() == ["category_change"] * 3
    assert alerts["score"].tolist() == [74.0, 66.0, 75.0]
    assert list(zip(alerts["previous_category"], alerts["category"], strict=True)) == [
        ("Moderate", "Strong"),
        ("Strong", "Moderate"),
        ("Moderate", "Strong"),
    ]
    no_margin = detect_alerts(
        scores, _indices(scores, {}), _definition(hysteresis_margin=0, drop_points=None)
    )
    # without the margin every crossing of 70 fires
    crossings = np.sum(np.diff(np.array(flapping) >= 70) != 0)
    assert len(no_margin) == crossings == 7


def test_jump_over_two_boundaries_lands_where_the_margin_allows():
    d = _definition(hysteresis_margin=3)
    assert held_categories([30, 71], d.categories, 3) == ["Weak", "Moderate"]
    assert held_categories([30, 73], d.categories, 3) == ["Weak", "Strong"]
    assert held_categories([80, 38], d.categories, 3) == ["Strong", "Moderate"]
    assert held_categories([80, 36.9], d.categories, 3) == ["Strong", "Weak"]
    assert held_categories([80, np.nan, 66], d.categories, 3) == [
        "Strong",
        None,
        "Moderate",
    ]


def test_drop_alert_names_the_index_that_moved_most():
    d = _definition(drop_points=10, category_change=False)
    scores = _series([60, 55, 44, 43.5])
    indices = _indices(scores, {2: ("nps", 0)})
    alerts = detect_alerts(scores, indices, d)
    assert len(alerts) == 1
    alert = alerts.iloc[0]
    assert alert["as_of"] == pd.Timestamp("2025-03-31")
    assert alert["previous_as_of"] == pd.Timestamp("2025-02-28")
    assert alert["change"] == pytest.approx(-11.0)
    assert alert["top_index"] == "nps"
    # nps carried the whole drop: 44 - 55/2 - 55/2
    assert alert["top_index_change"] == pytest.approx(-11.0)
    assert alert["message"] == (
        "score fell 11.0 points (55.0 on 2025-02-28 -> 44.0); nps moved most "
        "(-11.0 points)"
    )
    assert list(alerts.columns) == ALERT_COLUMNS


def test_drop_of_exactly_the_threshold_does_not_fire():
    d = _definition(drop_points=10, category_change=False)
    scores = _series([60, 50, 39.5])
    alerts = detect_alerts(scores, _indices(scores, {}), d)
    assert alerts["score"].tolist() == [39.5]


def test_unavailable_snapshot_is_skipped():
    d = _definition(drop_points=10, hysteresis_margin=0)
    scores = _series([75, np.nan, 50])
    alerts = detect_alerts(scores, _indices(scores.fillna(0), {}), d)
    assert alerts["kind"].tolist() == ["category_change", "score_drop"]
    assert (alerts["previous_as_of"] == pd.Timestamp("2025-01-31")).all()


def test_accounts_are_independent_and_output_sorted():
    d = _definition(hysteresis_margin=0)
    scores = pd.concat([_series([80, 60], "b"), _series([30, 45], "a")])
    alerts = detect_alerts(scores, _indices(scores, {}), d)
    assert alerts[["account_id", "kind"]].values.tolist() == [
        ["a", "category_change"],
        ["b", "category_change"],
        ["b", "score_drop"],
    ]


def test_no_alerts_gives_typed_empty_frame():
    d = _definition()
    scores = _series([50, 51])
    alerts = detect_alerts(scores, _indices(scores, {}), d)
    assert alerts.empty and list(alerts.columns) == ALERT_COLUMNS
    assert str(alerts["as_of"].dtype) == "datetime64[ns]"
