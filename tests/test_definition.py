"""Score definition: the packaged default and every validation message."""

from __future__ import annotations

import copy

import pytest
import yaml

from healthlab.definition import (
    DEFAULT_DEFINITION_PATH,
    assign_categories,
    load_definition,
    parse_definition,
)
from healthlab.errors import DefinitionError

KNOWN = (
    "duration, retention, performance, loyalty, nps, touchpoints_held, "
    "touchpoint_cancellations, rapport, integrations"
)
PREFIX = "Invalid score definition <mapping>: "


@pytest.fixture(scope="module")
def base() -> dict:
    return yaml.safe_load(DEFAULT_DEFINITION_PATH.read_text())


def _fails(data: dict) -> str:
    with pytest.raises(DefinitionError) as info:
        parse_definition(data)
    return str(info.value)


def test_default_definition_has_the_design_defaults():
    d = load_definition()
    assert d.version == "default-1"
    assert d.weights == {
        "duration": 25,
        "retention": 20,
        "performance": 20,
        "loyalty": 15,
        "nps": 10,
        "integrations": 10,
    }
    assert [(c.label, c.lower, c.upper) for c in d.categories] == [
        ("Strong", 70, 100),
        ("Moderate", 40, 70),
        ("Weak", 0, 40),
    ]
    assert d.peer_keys == ("industry", "size_band", "app_type")
    assert d.min_group_size == 30
    assert d.min_coverage == 0.5
    assert d.drop_invalid_rows is False
    assert d.index_params.retention.intervals == (7, 14, 28, 56, 84)
    custom = d.index_params.custom[0]
    assert (custom.name, custom.metric, custom.aggregation, custom.window_days) == (
        "integrations",
        "integrations",
        "mean",
        30,
    )
    assert d.peer_groups.within == {"loyalty": ("app_type",)}
    assert (d.alerts.drop_points, d.alerts.hysteresis_margin) == (15, 5)


def test_definition_is_frozen_and_serialises_stably():
    d = load_definition()
    with pytest.raises(Exception, match="frozen"):
        d.version = "x"
    assert d.to_json() == load_definition().to_json()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda d: d["weights"].update(duraton=5),
            f"weights.duraton: unknown index 'duraton'; known: {KNOWN}",
        ),
        (
            lambda d: d["weights"].update(rating=5),
            "weights.rating: unknown index 'rating' (rating shares the "
            f"performance weight); known: {KNOWN}",
        ),
        (
            lambda d: d["weights"].update(nps=-5),
            "weights.nps: weight must be >= 0, got -5",
        ),
        (
            lambda d: d.update(weights={k: 0 for k in d["weights"]}),
            "weights: all weights are zero; give one index a weight > 0",
        ),
        (
            lambda d: d["categories"][0].update(lower=65),
            "categories: 'Moderate' [40, 70) overlaps 'Strong' [65, 100)",
        ),
        (
            lambda d: d["categories"][1].update(lower=45),
            "categories: gap between 'Weak' (upper 40) and 'Moderate' (lower 45)",
        ),
        (
            lambda d: d["categories"][2].update(lower=10),
            "categories: ranges must cover 0 to 100, got 10 to 100",
        ),
        (
            lambda d: d["categories"][1].update(label="Strong"),
            "categories: labels repeat: ['Strong']",
        ),
        (
            lambda d: d["categories"][1].update(upper=30),
            "categories[1]: upper 30 is not above lower 40",
        ),
        (
            lambda d: d["indices"]["retention"].update(intervals=[3, 14, 28, 56, 84]),
            "indices.retention: retention intervals must be at least 7 days "
            "(data younger than a week skews the shares), got [3]",
        ),
        (
            lambda d: d.update(snapshot_interval=5),
            "snapshot_interval: interval of 5 days is under 7 days; snapshots "
            "closer than a week give skewed scores",
        ),
        (
            lambda d: d.pop("version"),
            "version: required key missing",
        ),
        (
            lambda d: d.update(colour="blue"),
            "colour: unknown key",
        ),
        (
            lambda d: d["indices"]["duration"].update(windw_days=3),
            "indices.duration.windw_days: unknown key",
        ),
        (
            lambda d: d.update(min_coverage=1.5),
            "min_coverage: Input should be less than or equal to 1",
        ),
        (
            lambda d: d.update(drop_invalid_rows=["sesions"]),
            "drop_invalid_rows: unknown table 'sesions'; known: accounts, churn, "
            "sessions, page_loads, ratings, nps_responses, nps_invitations, "
            "touchpoints, rapport, custom_metrics",
        ),
        (
            lambda d: d.update(columns={"sessions": {"seconds": "dur"}}),
            "columns.sessions.seconds: unknown column 'seconds' of table "
            "'sessions'; known: account_id, user_id, started_at, duration_s",
        ),
        (
            lambda d: d["peer_groups"].update(min_group_size=0),
            "peer_groups.min_group_size: Input should be greater than or equal to 1",
        ),
        (
            lambda d: d["alerts"].update(hysteresis_margin=-1),
            "alerts.hysteresis_margin: Input should be greater than or equal to 0",
        ),
    ],
)
def test_definition_errors_name_the_key(base, edit, message):
    data = copy.deepcopy(base)
    edit(data)
    assert _fails(data) == PREFIX + message


def test_several_problems_are_reported_together(base):
    data = copy.deepcopy(base)
    data["weights"]["nps"] = -1
    data["weights"]["duraton"] = 1
    assert _fails(data) == PREFIX + (
        "weights.nps: weight must be >= 0, got -1; "
        f"weights.duraton: unknown index 'duraton'; known: {KNOWN}"
    )


def test_file_errors(tmp_path):
    missing = tmp_path / "none.yaml"
    with pytest.raises(DefinitionError) as info:
        load_definition(missing)
    assert str(info.value) == f"Score definition file {str(missing)!r} does not exist."

    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n- b\n")
    with pytest.raises(DefinitionError) as info:
        load_definition(listed)
    assert str(info.value) == (
        f"Invalid score definition {str(listed)!r}: expected a mapping of keys, "
        "got list"
    )

    bad = tmp_path / "bad.yaml"
    bad.write_text("version: [unclosed\n")
    with pytest.raises(DefinitionError, match="is not valid YAML"):
        load_definition(bad)


def test_custom_weight_can_take_the_whole_score(base):
    data = copy.deepcopy(base)
    data["weights"] = {"integrations": 100}
    d = parse_definition(data)
    assert d.weights == {"integrations": 100.0}


def test_assign_categories_bounds():
    d = load_definition()
    got = assign_categories(
        [100, 70, 69.999, 40, 39.999, 0, float("nan")], d.categories
    )
    assert got.tolist() == [
        "Strong",
        "Strong",
        "Moderate",
        "Moderate",
        "Weak",
        "Weak",
        None,
    ]
