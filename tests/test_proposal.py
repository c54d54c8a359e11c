"""Proposed thresholds and definition: hand recomputation and a round trip."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml
from known_effects import BETAS, simulate_wide

from healthlab.calibration import compute_weighted_score
from healthlab.definition import DEFAULT_DEFINITION_PATH, parse_definition
from healthlab.errors import ParameterError
from healthlab.proposal import propose_definition, propose_thresholds
from healthlab.validation import build_horizon_frame


@pytest.fixture(scope="module")
def horizon():
    wide, churn, end = simulate_wide()
    return build_horizon_frame(wide, churn, end, horizon_days=90)


def test_thresholds_are_monotone_and_recomputed_by_hand(horizon):
    frame = horizon.assign(score=compute_weighted_score(horizon[list(BETAS)], [1] * 4))
    table = propose_thresholds(frame, min_share=0.1)
    assert table["label"].tolist() == ["Strong", "Moderate", "Weak"]
    for row in table.itertuples():
        inside = (frame["score"] >= row.lower) & (
            (frame["score"] < row.upper) if row.upper < 100 else True
        )
        assert row.rows == inside.sum()
        assert row.churn_rate == pytest.approx(frame.loc[inside, "churned"].mean())
        assert row.rows >= 0.1 * len(frame)
    assert table["churn_rate"].is_monotonic_increasing
    assert table.attrs["separation"] > 3
    with pytest.raises(ParameterError, match="No thresholds on a 5-point grid"):
        propose_thresholds(frame, labels=list("abcdefghijk"), min_share=0.1)


def test_proposed_definition_keeps_comments_and_validates():
    text = DEFAULT_DEFINITION_PATH.read_text()
    weights = {
        "duration": 30,
        "retention": 25,
        "performance": 20,
        "loyalty": 15,
        "nps": 8,
        "integrations": 2,
    }
    thresholds = pd.DataFrame(
        {
            "label": ["Strong", "Moderate", "Weak"],
            "lower": [65.0, 35.0, 0.0],
            "upper": [100.0, 65.0, 35.0],
        }
    )
    proposed = propose_definition(text, weights, thresholds, version="v2")
    data = yaml.safe_load(proposed.text)
    assert data["weights"] == weights
    assert data["version"] == "v2"
    assert parse_definition(data).categories[0].lower == 65
    assert "+  duration: 30" in proposed.diff
    assert "-  duration: 25" in proposed.diff
    assert "+  retention: 20" not in proposed.diff
    # fitted weights keep the file's order and round to whole points summing 100
    fitted = {
        "nps": 9.4,
        "retention": 13.6,
        "duration": 38.6,
        "loyalty": 18.8,
        "integrations": 6.3,
        "performance": 13.3,
    }
    again = yaml.safe_load(propose_definition(text, fitted).text)["weights"]
    assert list(again) == list(yaml.safe_load(text)["weights"])
    assert sum(again.values()) == 100
    assert again == {
        "duration": 39,
        "retention": 14,
        "performance": 13,
        "loyalty": 19,
        "nps": 9,
        "integrations": 6,
    }
    # comments of the file survive
    assert sum(ln.startswith("#") for ln in proposed.text.splitlines()) == sum(
        ln.startswith("#") for ln in text.splitlines()
    )
