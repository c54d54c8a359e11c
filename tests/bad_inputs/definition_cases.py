"""Score-definition cases: edits of the packaged default and broken files.

A :class:`DefinitionCase` edits the default definition (a dict) and states the
problems expected after "Invalid score definition '<file>': ".
:data:`DEFINITION_FILES` are whole files that are not a definition: their text
and the message after the path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

KNOWN = (
    "duration, retention, performance, loyalty, nps, touchpoints_held, "
    "touchpoint_cancellations, rapport, integrations"
)


@dataclass(frozen=True)
class DefinitionCase:
    """One edit of the default definition and the problems it must report."""

    id: str
    edit: Callable[[dict], object]
    problems: str


# whole files that are not a definition: text, and the message after the path
DEFINITION_FILES: list[tuple[str, str, str]] = [
    (
        "not-a-mapping",
        "- duration\n- retention\n",
        ": expected a mapping of keys, got list",
    ),
    ("not-yaml", "version: [unclosed\n", " is not valid YAML: "),
]

DEFINITION_CASES: list[DefinitionCase] = [
    DefinitionCase(
        "unknown-top-level-key", lambda d: d.update(colour="red"), "colour: unknown key"
    ),
    DefinitionCase(
        "unknown-nested-key",
        lambda d: d["indices"]["duration"].update(windw_days=30),
        "indices.duration.windw_days: unknown key",
    ),
    DefinitionCase(
        "weights-sum-to-zero",
        lambda d: d.update(weights={k: 0 for k in d["weights"]}),
        "weights: all weights are zero; give one index a weight > 0",
    ),
    DefinitionCase(
        "weights-empty",
        lambda d: d.update(weights={}),
        "weights: all weights are zero; give one index a weight > 0",
    ),
    DefinitionCase(
        "negative-weight",
        lambda d: d["weights"].update(nps=-5),
        "weights.nps: weight must be >= 0, got -5",
    ),
    DefinitionCase(
        "unknown-index-weight",
        lambda d: d["weights"].update(duraton=5),
        f"weights.duraton: unknown index 'duraton'; known: {KNOWN}",
    ),
    DefinitionCase(
        "overlapping-categories",
        lambda d: d["categories"][0].update(lower=65),
        "categories: 'Moderate' [40, 70) overlaps 'Strong' [65, 100)",
    ),
    DefinitionCase(
        "category-gap",
        lambda d: d["categories"][1].update(lower=45),
        "categories: gap between 'Weak' (upper 40) and 'Moderate' (lower 45)",
    ),
    DefinitionCase(
        "drop-invalid-unknown-table",
        lambda d: d.update(drop_invalid_rows=["session"]),
        "drop_invalid_rows: unknown table 'session'; known: "
        + ", ".join(
            [
                "accounts",
                "churn",
                "sessions",
                "page_loads",
                "ratings",
                "nps_responses",
                "nps_invitations",
                "touchpoints",
                "rapport",
                "custom_metrics",
            ]
        ),
    ),
    DefinitionCase(
        "missing-version", lambda d: d.pop("version"), "version: required key missing"
    ),
]
