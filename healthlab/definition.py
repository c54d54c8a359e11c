"""The score definition: a versioned YAML file validated on load (DESIGN §6).

A score definition says which indices make the health score, their weights
and parameters, the peer groups of the benchmarks, the categories, the alert
rules and the minimum coverage. Every score stored carries the definition's
``version``. :func:`load_definition` validates the file and reports each
problem at its key (``weights.duraton: unknown index 'duraton'; ...``) in
one :class:`~healthlab.errors.DefinitionError`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from healthlab.errors import DefinitionError
from healthlab.indices.params import IndexParams
from healthlab.tables import TABLES

__all__ = [
    "AlertRules",
    "Category",
    "PeerGroups",
    "ScoreDefinition",
    "WEIGHTED_INDICES",
    "assign_categories",
    "load_definition",
    "parse_definition",
    "DEFAULT_DEFINITION_PATH",
]

DEFAULT_DEFINITION_PATH = Path(__file__).parent / "definitions" / "default.yaml"

# Built-in indices that take a weight; `rating` fills the `performance` slot
# of mobile accounts and shares its weight.
WEIGHTED_INDICES = (
    "duration",
    "retention",
    "performance",
    "loyalty",
    "nps",
    "touchpoints_held",
    "touchpoint_cancellations",
    "rapport",
)
_PEER_KEYS = ("industry", "size_band", "app_type")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Category(_Model):
    """One category: scores in ``[lower, upper)`` (the top one includes 100)."""

    label: str = Field(min_length=1)
    lower: float = Field(ge=0, le=100)
    upper: float = Field(ge=0, le=100)

    @model_validator(mode="after")
    def _check_order(self):
        if self.upper <= self.lower:
            raise ValueError(f"upper {self.upper:g} is not above lower {self.lower:g}")
        return self


class PeerGroups(_Model):
    """Peer groups of the benchmarks and their fallback chain (DESIGN §5)."""

    levels: tuple[tuple[Literal["industry", "size_band", "app_type"], ...], ...] = (
        ("industry", "size_band", "app_type"),
        ("industry", "app_type"),
        ("app_type",),
        (),
    )
    min_group_size: int = Field(30, ge=1)
    within: dict[str, tuple[Literal["industry", "size_band", "app_type"], ...]] = {
        "loyalty": ("app_type",)
    }

    @model_validator(mode="after")
    def _check_levels(self):
        if not self.levels:
            raise ValueError("at least one peer level is needed")
        for coarse, fine in zip(self.levels[1:], self.levels[:-1], strict=True):
            if not set(coarse) < set(fine):
                raise ValueError(
                    f"each level must drop keys from the one before it, got "
                    f"{list(fine)} then {list(coarse)}"
                )
        return self


class AlertRules(_Model):
    """When an alert fires between consecutive snapshots.

    Attributes
    ----------
    category_change : bool
        Alert when the (hysteresis-held) category changes.
    drop_points : float or None
        Alert when the score falls by more than this many points; None
        turns drop alerts off.
    hysteresis_margin : float
        A category change counts only when the score passes the boundary by
        at least this many points.
    """

    category_change: bool = True
    drop_points: float | None = Field(15.0, gt=0)
    hysteresis_margin: float = Field(5.0, ge=0)


class ScoreDefinition(_Model):
    """A validated score definition; see ``definitions/default.yaml``."""

    version: str = Field(min_length=1)
    description: str = ""
    weights: dict[str, float]
    index_params: IndexParams = Field(default_factory=IndexParams, alias="indices")
    peer_groups: PeerGroups = PeerGroups()
    categories: tuple[Category, ...] = (
        Category(label="Strong", lower=70, upper=100),
        Category(label="Moderate", lower=40, upper=70),
        Category(label="Weak", lower=0, upper=40),
    )
    alerts: AlertRules = AlertRules()
    min_coverage: float = Field(0.5, gt=0, le=1)
    snapshot_interval: Literal["monthly"] | int = "monthly"
    drop_invalid_rows: bool | list[str] = False
    columns: dict[str, dict[str, str]] = {}

    @model_validator(mode="after")
    def _check_all(self):
        problems = (
            _weight_problems(self)
            + _category_problems(self.categories)
            + _table_problems(self)
        )
        if isinstance(self.snapshot_interval, int) and self.snapshot_interval < 7:
            problems.append(
                f"snapshot_interval: interval of {self.snapshot_interval} days is "
                "under 7 days; snapshots closer than a week give skewed scores"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def peer_keys(self) -> tuple[str, ...]:
        """Keys of the most specific peer group."""
        return tuple(self.peer_groups.levels[0])

    @property
    def min_group_size(self) -> int:
        """Members a peer group needs to serve (default 30)."""
        return self.peer_groups.min_group_size

    @property
    def custom_names(self) -> tuple[str, ...]:
        """Names of the declared custom indices."""
        return tuple(c.name for c in self.index_params.custom)

    def to_json(self) -> str:
        """The definition as canonical JSON (stored with every run)."""
        return json.dumps(self.model_dump(mode="json", by_alias=True), sort_keys=True)


def _weight_problems(d: ScoreDefinition) -> list[str]:
    known = (*WEIGHTED_INDICES, *d.custom_names)
    problems = []
    for name, weight in d.weights.items():
        if name not in known:
            hint = " (rating shares the performance weight)" if name == "rating" else ""
            problems.append(
                f"weights.{name}: unknown index {name!r}{hint}; "
                f"known: {', '.join(known)}"
            )
        elif not np.isfinite(weight) or weight < 0:
            problems.append(f"weights.{name}: weight must be >= 0, got {weight:g}")
    if not d.weights or all(w == 0 for w in d.weights.values()):
        problems.append("weights: all weights are zero; give one index a weight > 0")
    return problems


def _category_problems(categories) -> list[str]:
    if not categories:
        return ["categories: at least one category is needed"]
    problems = []
    labels = [c.label for c in categories]
    repeated = sorted({x for x in labels if labels.count(x) > 1})
    if repeated:
        problems.append(f"categories: labels repeat: {repeated}")
    ranked = sorted(categories, key=lambda c: c.lower)
    if ranked[0].lower != 0 or ranked[-1].upper != 100:
        problems.append(
            f"categories: ranges must cover 0 to 100, got {ranked[0].lower:g} "
            f"to {ranked[-1].upper:g}"
        )
    for low, high in zip(ranked[:-1], ranked[1:], strict=True):
        if low.upper > high.lower:
            problems.append(
                f"categories: {low.label!r} [{low.lower:g}, {low.upper:g}) overlaps "
                f"{high.label!r} [{high.lower:g}, {high.upper:g})"
            )
        elif low.upper < high.lower:
            problems.append(
                f"categories: gap between {low.label!r} (upper {low.upper:g}) and "
                f"{high.label!r} (lower {high.lower:g})"
            )
    return problems


def _table_problems(d: ScoreDefinition) -> list[str]:
    problems = []
    if isinstance(d.drop_invalid_rows, list):
        for name in d.drop_invalid_rows:
            if name not in TABLES:
                problems.append(
                    f"drop_invalid_rows: unknown table {name!r}; "
                    f"known: {', '.join(TABLES)}"
                )
    for table, mapping in d.columns.items():
        if table not in TABLES:
            problems.append(
                f"columns.{table}: unknown table {table!r}; known: {', '.join(TABLES)}"
            )
            continue
        names = [c.name for c in TABLES[table].columns]
        for contract in mapping:
            if contract not in names:
                problems.append(
                    f"columns.{table}.{contract}: unknown column {contract!r} of "
                    f"table {table!r}; known: {', '.join(names)}"
                )
    return problems


def parse_definition(data, *, source: str = "<mapping>") -> ScoreDefinition:
    """Validate a mapping (parsed YAML) as a score definition.

    Raises
    ------
    DefinitionError
        Naming `source` and every problem at its key.
    """
    if not isinstance(data, dict):
        raise DefinitionError(
            f"Invalid score definition {source}: expected a mapping of keys, "
            f"got {type(data).__name__}"
        )
    try:
        return ScoreDefinition.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(_describe(err) for err in exc.errors())
        raise DefinitionError(
            f"Invalid score definition {source}: {problems}"
        ) from None


def _describe(err) -> str:
    # "key.path: message" with list positions as [i] and pydantic's prefixes cut
    where = ""
    for part in err["loc"]:
        where += f"[{part}]" if isinstance(part, int) else f".{part}"
    where = where.lstrip(".")
    message = str(err["msg"]).removeprefix("Value error, ")
    # index parameter models report "Invalid XParams: `key`: message"
    while match := re.match(r"Invalid \w+Params: (?:`([^`]+)`: )?(.*)$", message):
        if match.group(1):
            where = f"{where}.{match.group(1)}" if where else match.group(1)
        message = match.group(2)
    message = {
        "Extra inputs are not permitted": "unknown key",
        "Field required": "required key missing",
    }.get(message, message)
    return f"{where}: {message}" if where else message


def load_definition(path=None) -> ScoreDefinition:
    """Read and validate a score definition YAML file.

    Parameters
    ----------
    path : str or Path, optional
        The YAML file; None loads the packaged default definition.

    Returns
    -------
    ScoreDefinition

    Raises
    ------
    DefinitionError
        When the file is missing, is not YAML, or breaks a rule; the message
        names the key of each problem.
    """
    path = Path(path) if path is not None else DEFAULT_DEFINITION_PATH
    if not path.is_file():
        raise DefinitionError(f"Score definition file {str(path)!r} does not exist.")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise DefinitionError(
            f"Score definition {str(path)!r} is not valid YAML: {exc}"
        ) from exc
    return parse_definition(data, source=repr(str(path)))


def assign_categories(scores, categories) -> pd.Series:
    """Label each score with its category; NaN scores get None.

    Notes
    -----
    A score ``s`` falls in the category with ``lower <= s < upper``; the
    highest category also includes its upper bound (100).

    Examples
    --------
    >>> d = load_definition()
    >>> assign_categories([75, 70, 69.9, 40, 39.9, None], d.categories).tolist()
    ['Strong', 'Strong', 'Moderate', 'Moderate', 'Weak', None]
    """
    s = pd.Series(scores, dtype=float)
    out = pd.Series([None] * len(s), index=s.index, dtype=object)
    top = max(c.upper for c in categories)
    for cat in categories:
        inside = (s >= cat.lower) & (
            (s < cat.upper) | ((s == top) & (cat.upper == top))
        )
        out[inside] = cat.label
    return out
