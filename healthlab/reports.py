"""What the report notebooks read: portfolio data, run facts, figures as images.

The report notebooks only call functions and display what they return:
every number a report shows is computed here, in
:mod:`healthlab.portfolio` or in :mod:`healthlab.report_html` (the escaped
HTML blocks), where tests can check it. Writing the reports to disk and the
index page are :mod:`healthlab.report_publishing`'s concern.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from healthlab.figures import CATEGORY_COLORS

__all__ = [
    "CATEGORY_COLORS",
    "PortfolioData",
    "at_risk_accounts",
    "definition_changes",
    "figure_image",
    "load_portfolio",
    "load_validation_km",
    "report_facts",
]

_CHANGE_COLUMNS = ["as_of", "previous_version", "definition_version"]


@dataclass
class PortfolioData:
    """What the portfolio report reads, for one as-of date and definition.

    Attributes
    ----------
    as_of : pandas.Timestamp
        The as-of date reported.
    definition_version : str
    categories : list of (label, lower, upper)
        Categories of the definition, best first.
    scores, indices, metrics, alerts : DataFrame
        Store histories of the definition version (metrics of `as_of` only).
    accounts : DataFrame
        The accounts table of the source (name, csm, ...).
    data_period : tuple of (str, str)
        First and last day with sessions in the source.
    dropped_rows : dict of str to int
        Input rows dropped per table by the scoring run of `as_of` (from the
        store's run records; empty when none was dropped or recorded).
    definition_changes : DataFrame
        Dates where the definition in use changed (see
        :func:`definition_changes`), up to `as_of`.
    """

    as_of: pd.Timestamp
    definition_version: str
    categories: list[tuple[str, float, float]]
    scores: pd.DataFrame
    indices: pd.DataFrame
    metrics: pd.DataFrame
    alerts: pd.DataFrame
    accounts: pd.DataFrame
    data_period: tuple[str, str]
    dropped_rows: dict[str, int]
    definition_changes: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=_CHANGE_COLUMNS)
    )


def load_portfolio(
    store_path: str | os.PathLike,
    source_path: str | os.PathLike,
    *,
    as_of=None,
    definition_version: str | None = None,
    engine: str = "duckdb",
) -> PortfolioData:
    """Read the store and the source for one portfolio report.

    Parameters
    ----------
    store_path : str or path-like
        The ``healthlab.duckdb`` file (or its folder).
    source_path : str or path-like
        The data source, for the accounts table and the data period.
    as_of : date-like, optional
        Default: the latest as-of date scored.
    definition_version : str, optional
        Default: the most recently stored definition that has scores.
    engine : {"duckdb", "spark"}, default "duckdb"

    Raises
    ------
    StoreError
        If the store holds no score for that definition or as-of date.
    """
    from healthlab.definition import parse_definition
    from healthlab.engine import open_source
    from healthlab.store import Store

    store = Store(store_path)
    scores, definitions, definition_version, as_of = _scores_of(
        store, definition_version, as_of
    )

    # categories of the definition, best first
    body = definitions.loc[definitions["version"] == definition_version, "body"]
    if len(body):
        parsed = parse_definition(json.loads(body.iloc[0]))
        cats = [(c.label, c.lower, c.upper) for c in parsed.categories]
    else:
        cats = [("Strong", 70.0, 100.0), ("Moderate", 40.0, 70.0), ("Weak", 0.0, 40.0)]
    cats = sorted(cats, key=lambda c: -c[1])

    source = open_source(source_path, engine=engine)
    accounts = source.tables["accounts"].to_pandas()
    accounts["account_id"] = accounts["account_id"].astype(str)
    data_period = _data_period(source)

    return PortfolioData(
        as_of=as_of,
        definition_version=definition_version,
        categories=cats,
        scores=scores.reset_index(drop=True),
        indices=store.read_indices(definition_version),
        metrics=store.read_metrics(definition_version, as_of),
        alerts=store.read_alerts(definition_version),
        accounts=accounts,
        data_period=data_period,
        dropped_rows=_dropped_rows(store, definition_version, as_of),
        definition_changes=definition_changes(store, until=as_of),
    )


def definition_changes(store, *, until=None) -> pd.DataFrame:
    """The as-of dates where the definition in use changed.

    Parameters
    ----------
    store : Store, str or path-like
        The store, or its path.
    until : date-like, optional
        Ignore as-of dates after this one.

    Returns
    -------
    pandas.DataFrame
        Columns ``as_of`` (first date of the new version),
        ``previous_version`` and ``definition_version``, oldest first.

    Notes
    -----
    The definition in use at each as-of date comes from the regular
    scoring runs (:meth:`healthlab.store.Store.definitions_in_use`);
    backfills do not count, so a rescored history still shows when the
    reported definition changed.
    """
    from healthlab.store import Store

    if not isinstance(store, Store):
        store = Store(store)
    in_use = store.definitions_in_use()
    if until is not None:
        in_use = in_use[in_use["as_of"] <= pd.Timestamp(until)]
    previous = in_use["definition_version"].shift()
    changed = previous.notna() & (in_use["definition_version"] != previous)
    out = in_use.assign(previous_version=previous)[changed]
    return out[_CHANGE_COLUMNS].reset_index(drop=True)


def report_facts(
    store_path: str | os.PathLike,
    source_path: str | os.PathLike,
    *,
    as_of=None,
    definition_version: str | None = None,
    engine: str = "duckdb",
) -> dict:
    """What every report states under its title, read from store and source.

    Returns the keyword arguments of
    :func:`healthlab.report_html.render_header` other than the title:
    ``as_of`` (default the latest scored), ``definition_version`` (default
    the latest stored with scores), ``data_period`` (first and last day with
    sessions) and ``dropped_rows`` (per table, from the scoring run's
    record).

    Examples
    --------
    In a report notebook::

        facts = reports.report_facts(store_path, source_path)
        display(HTML(report_html.render_header("Score validation", **facts)))
    """
    from healthlab.engine import open_source
    from healthlab.store import Store

    store = Store(store_path)
    _, _, version, as_of = _scores_of(store, definition_version, as_of)
    return {
        "as_of": as_of,
        "definition_version": version,
        "data_period": _data_period(open_source(source_path, engine=engine)),
        "dropped_rows": _dropped_rows(store, version, as_of),
    }


def _data_period(source) -> tuple[str, str]:
    # first and last day with a session start
    sessions = source.tables["sessions"]
    period = sessions.aggregate(
        first=sessions.started_at.min(), last=sessions.started_at.max()
    ).to_pandas()
    return tuple(str(pd.Timestamp(v).date()) for v in period.iloc[0])


def _scores_of(store, definition_version, as_of):
    # scores of one definition (default: the latest stored that has scores)
    # and the as-of date reported (default: the latest scored)
    from healthlab.errors import StoreError

    scores = store.read_scores(definition_version)
    if scores.empty:
        raise StoreError(
            f"Store {str(store.path)!r} holds no scores"
            + (f" of definition {definition_version!r}" if definition_version else "")
            + "; run `healthlab score` first."
        )
    definitions = store.read_table("definitions")
    definitions = definitions[definitions["version"].isin(scores["definition_version"])]
    if definition_version is None:
        latest = definitions.sort_values("stored_at")["version"]
        definition_version = (
            str(latest.iloc[-1])
            if len(latest)
            else str(scores["definition_version"].max())
        )
    scores = scores[scores["definition_version"] == definition_version]

    as_of = pd.Timestamp(as_of) if as_of is not None else scores["as_of"].max()
    if not (scores["as_of"] == as_of).any():
        dates = sorted(d.date().isoformat() for d in scores["as_of"].unique())
        raise StoreError(
            f"Store {str(store.path)!r} has no scores of definition "
            f"{definition_version!r} at as-of date {as_of.date()}; latest scored "
            f"dates: {dates[-5:]}."
        )
    return scores.reset_index(drop=True), definitions, definition_version, as_of


def _dropped_rows(store, definition_version: str, as_of) -> dict[str, int]:
    # the latest scoring run of this definition that covered the as-of date
    runs = store.read_table("runs")
    day = pd.Timestamp(as_of).date().isoformat()
    for details in reversed(list(runs.loc[runs["kind"] == "score", "details"])):
        record = json.loads(details)
        if record.get("definition_version") != definition_version:
            continue
        if day in record.get("as_of_dates", [day]):
            return {k: int(v) for k, v in record.get("dropped_rows", {}).items()}
    return {}


def at_risk_accounts(
    scores: pd.DataFrame,
    accounts: pd.DataFrame,
    as_of,
    categories: Sequence[tuple[str, float, float]],
    n: int = 8,
) -> pd.DataFrame:
    """The accounts of the worst category at `as_of`, lowest score first.

    Returns at most `n` rows with ``account_id``, ``name``, ``csm``,
    ``score``, ``category``, ``coverage``. When no account is in the worst
    category, the `n` lowest scores are returned instead.
    """
    worst = categories[-1][0]
    now = scores[(scores["as_of"] == pd.Timestamp(as_of)) & scores["score"].notna()]
    pick = now[now["category"] == worst]
    if pick.empty:
        pick = now
    pick = pick.sort_values(["score", "account_id"]).head(n)
    named = pick.merge(accounts[["account_id", "name", "csm"]], on="account_id")
    return named[["account_id", "name", "csm", "score", "category", "coverage"]]


def load_validation_km(
    store_path: str | os.PathLike,
    source_path: str | os.PathLike,
    *,
    definition_version: str | None = None,
    landmark=None,
    engine: str = "duckdb",
):
    """Kaplan-Meier curves by category at the validation's landmark.

    Reads the score history and churn like the validation notebook and
    fits :func:`healthlab.validation.fit_landmark_km` at `landmark` (default
    its own choice), so the portfolio report can show the curve the
    validation report headlines.
    """
    from healthlab import validation

    inputs = validation.load_validation_inputs(
        store_path, source_path, definition_version=definition_version, engine=engine
    )
    return validation.fit_landmark_km(
        inputs.scores, inputs.churn, inputs.data_end, landmark
    )


def figure_image(fig, *, alt: str | None = None, dpi: int = 200):
    """A figure as an embedded PNG image for a notebook to display.

    The PNG is drawn at `dpi` (sharp on high-density screens) and shown at
    the figure's size at 100 dpi, whatever matplotlib backend the kernel
    runs; the figure is not kept by pyplot.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    alt : str, optional
        Alternative text for screen readers; default the figure's titles.
    dpi : int, default 200

    Returns
    -------
    IPython.display.Image
    """
    from IPython.display import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, facecolor="white")
    width = int(round(fig.get_figwidth() * 100))
    if alt is None:
        titles = [fig.get_suptitle()] + [
            ax.get_title(loc=loc) for ax in fig.axes for loc in ("left", "center")
        ]
        alt = "; ".join(t for t in titles if t) or "figure"
    return Image(data=buffer.getvalue(), format="png", width=width, alt=alt)
