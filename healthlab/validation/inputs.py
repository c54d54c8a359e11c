"""Read what validation and calibration need from the store and the source."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd

from healthlab.errors import StoreError

__all__ = ["ValidationInputs", "load_validation_inputs"]


@dataclass
class ValidationInputs:
    """Histories, outcomes and the definition of one validation run.

    Attributes
    ----------
    scores, indices : DataFrame
        ``score_history`` and ``index_history`` rows of one definition
        version within the as-of range.
    churn, accounts : DataFrame
        The source's ``churn`` (empty when absent) and ``accounts`` tables.
    data_end : Timestamp
        Exclusive end of the data (naive UTC): the day after the last
        session start unless given.
    definition_version : str
    weights : dict
        The definition's weights.
    categories : list of (label, lower, upper)
        Best first.
    """

    scores: pd.DataFrame
    indices: pd.DataFrame
    churn: pd.DataFrame
    accounts: pd.DataFrame
    data_end: pd.Timestamp
    definition_version: str
    weights: dict
    categories: list

    def describe(self) -> str:
        """One paragraph saying what is being validated."""
        dates = self.scores["as_of"]
        n = self.scores["account_id"].nunique()
        return (
            f"Definition {self.definition_version!r}: {n:,} accounts scored at "
            f"{dates.nunique()} as-of dates from "
            f"{dates.min().date()} to {dates.max().date()}; "
            f"{len(self.churn):,} churned accounts; data end {self.data_end.date()}."
        )


def load_validation_inputs(
    store_path,
    source_path,
    *,
    definition_version: str | None = None,
    as_of_start=None,
    as_of_end=None,
    data_end=None,
    engine: str = "duckdb",
) -> ValidationInputs:
    """Read histories from the store and churn and accounts from the source.

    Parameters
    ----------
    store_path : path
        The ``healthlab.duckdb`` store (or its folder).
    source_path : path
        The data source (folder of tables).
    definition_version : str, optional
        Default: the most recently stored definition with scores.
    as_of_start, as_of_end : date-like, optional
        Inclusive as-of range; default everything stored.
    data_end : date-like, optional
        Exclusive end of the data; default the day after the last session.
    engine : {'duckdb', 'spark'}
    """
    from healthlab.definition import parse_definition
    from healthlab.engine import open_source
    from healthlab.store import Store

    store = Store(store_path)
    scores = store.read_scores(definition_version)
    if scores.empty:
        raise StoreError(
            f"Store {str(store.path)!r} holds no scores; run `healthlab score` first."
        )
    definitions = store.read_table("definitions")
    if definition_version is None:
        stored = definitions[definitions["version"].isin(scores["definition_version"])]
        definition_version = str(
            stored.sort_values("stored_at")["version"].iloc[-1]
            if len(stored)
            else scores["definition_version"].max()
        )
    scores = scores.loc[scores["definition_version"] == definition_version]
    indices = store.read_indices(definition_version)
    body = definitions.loc[definitions["version"] == definition_version, "body"]
    definition = parse_definition(json.loads(body.iloc[0])) if len(body) else None

    # as-of range, inclusive
    for name, frame in (("scores", scores), ("indices", indices)):
        keep = pd.Series(True, index=frame.index)
        if as_of_start is not None:
            keep &= frame["as_of"] >= pd.Timestamp(as_of_start)
        if as_of_end is not None:
            keep &= frame["as_of"] <= pd.Timestamp(as_of_end)
        if name == "scores":
            scores = frame.loc[keep].reset_index(drop=True)
        else:
            indices = frame.loc[keep].reset_index(drop=True)

    source = open_source(source_path, engine=engine)
    accounts = source.tables["accounts"].to_pandas()
    accounts["account_id"] = accounts["account_id"].astype(str)
    churn = (
        source.tables["churn"].to_pandas()
        if "churn" in source.tables
        else pd.DataFrame({"account_id": [], "churned_at": []})
    )
    churn = churn.loc[churn["churned_at"].notna()]
    if data_end is None:
        sessions = source.tables["sessions"]
        last = pd.Timestamp(sessions.started_at.max().to_pandas())
        if last.tzinfo is not None:
            last = last.tz_convert("UTC").tz_localize(None)
        data_end = last.normalize() + pd.Timedelta(days=1)
    data_end = pd.Timestamp(data_end)
    weights = dict(definition.weights) if definition else {}
    categories = (
        sorted(
            ((c.label, c.lower, c.upper) for c in definition.categories),
            key=lambda c: -c[1],
        )
        if definition
        else [("Strong", 70.0, 100.0), ("Moderate", 40.0, 70.0), ("Weak", 0.0, 40.0)]
    )
    return ValidationInputs(
        scores,
        indices,
        churn,
        accounts,
        data_end,
        definition_version,
        weights,
        categories,
    )
