"""The data contract's tables and columns (DESIGN section 2).

This module only *describes* the contract; :mod:`healthlab.contract` checks
sources against it. Column kinds are deliberately coarse (``string``,
``timestamp``, ``float``, ``integer``) so that Parquet, CSV and warehouse
types map onto them without coercion.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "ColumnSpec",
    "TableSpec",
    "TABLES",
    "REQUIRED_TABLES",
    "EVENT_TIME_COLUMN",
]


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a contract table.

    Parameters
    ----------
    name : str
        Column name as the contract spells it.
    kind : {'id', 'string', 'timestamp', 'float'}
        Accepted type family. ``id`` accepts strings or integers (exports
        differ); ``float`` also accepts integers.
    required : bool
        Whether the column must be present.
    nullable : bool
        Whether nulls are allowed in a present column.
    min, max : float, optional
        Inclusive bounds for numeric columns.
    allowed : tuple of str, optional
        Allowed values for a categorical string column.
    """

    name: str
    kind: str
    required: bool = True
    nullable: bool = False
    min: float | None = None
    max: float | None = None
    allowed: tuple[str, ...] | None = None


@dataclass(frozen=True)
class TableSpec:
    """One contract table: its columns, key and whether it is required."""

    name: str
    columns: tuple[ColumnSpec, ...]
    required: bool = False
    unique_key: tuple[str, ...] = field(default_factory=tuple)

    def column(self, name: str) -> ColumnSpec:
        """Return the spec of column `name`."""
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)


_DAY_S = 86_400.0
_PERSONAS = ("decision_maker", "champion", "business_user", "economic_buyer")


def _s(name: str, **kw) -> ColumnSpec:
    return ColumnSpec(name, "string", **kw)


def _id(name: str, **kw) -> ColumnSpec:
    return ColumnSpec(name, "id", **kw)


def _t(name: str, **kw) -> ColumnSpec:
    return ColumnSpec(name, "timestamp", **kw)


def _f(name: str, **kw) -> ColumnSpec:
    return ColumnSpec(name, "float", **kw)


TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        TableSpec(
            "accounts",
            (
                _id("account_id"),
                _s("name"),
                _s("csm"),
                _s("industry"),
                _s("size_band"),
                _s("app_type", allowed=("web", "mobile")),
                _t("created_at"),
                _s("plan", required=False, nullable=True),
                _f("arr", required=False, nullable=True, min=0.0),
            ),
            required=True,
            unique_key=("account_id",),
        ),
        TableSpec(
            "churn",
            (_id("account_id"), _t("churned_at", nullable=True)),
            unique_key=("account_id",),
        ),
        TableSpec(
            "sessions",
            (
                _id("account_id"),
                _id("user_id"),
                _t("started_at"),
                # a session longer than a day is an export error, not usage
                _f("duration_s", min=0.0, max=_DAY_S),
            ),
            required=True,
        ),
        TableSpec(
            "page_loads",
            (
                _id("account_id"),
                _s("page"),
                _t("loaded_at"),
                _f("load_ms", min=0.0),
                _f("items_requested", min=0.0),
                _f("items_loaded", min=0.0),
            ),
        ),
        TableSpec(
            "ratings",
            (_id("account_id"), _t("rated_at"), _f("stars", min=1.0, max=5.0)),
        ),
        TableSpec(
            "nps_responses",
            (
                _id("account_id"),
                _t("responded_at"),
                _f("score", min=0.0, max=10.0),
                _id("user_id", required=False, nullable=True),
                _s("persona", required=False, nullable=True),
            ),
        ),
        TableSpec(
            "nps_invitations",
            (_id("account_id"), _t("sent_at")),
        ),
        TableSpec(
            "touchpoints",
            (
                _id("account_id"),
                _t("occurred_at"),
                _s("kind", allowed=("visit", "qbr", "meeting", "call", "email")),
                _s("status", allowed=("held", "cancelled")),
                _s("csm", required=False, nullable=True),
            ),
        ),
        TableSpec(
            "rapport",
            (
                _id("account_id"),
                _t("rated_at"),
                _s("persona", allowed=_PERSONAS),
                _f("rating", min=1.0, max=5.0),
            ),
        ),
        TableSpec(
            "custom_metrics",
            (_id("account_id"), _s("metric"), _t("measured_at"), _f("value")),
        ),
    )
}

REQUIRED_TABLES: tuple[str, ...] = tuple(n for n, t in TABLES.items() if t.required)

# The column that places each event table's rows in time (point-in-time rule).
EVENT_TIME_COLUMN: dict[str, str] = {
    "sessions": "started_at",
    "page_loads": "loaded_at",
    "ratings": "rated_at",
    "nps_responses": "responded_at",
    "nps_invitations": "sent_at",
    "touchpoints": "occurred_at",
    "rapport": "rated_at",
    "custom_metrics": "measured_at",
    "churn": "churned_at",
}
