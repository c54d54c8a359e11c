"""The portfolio report's data, figures for notebooks, and the index page.

The report notebooks only call functions and display what they return:
every number a report shows is computed here, in
:mod:`healthlab.portfolio` or in :mod:`healthlab.report_html` (the escaped
HTML blocks), where tests can check it.

Reports live in ``reports/<as-of>/<name>.html``; :func:`write_index` writes
``reports/index.html`` linking them by as-of date, and
:func:`write_portfolio_report` executes the portfolio notebook for one
as-of date.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from healthlab.figures import CATEGORY_COLORS
from healthlab.notebooks import REPORT_CSS, NotebookRun, execute_notebook
from healthlab.report_html import BLOCK_CSS, escape

__all__ = [
    "CATEGORY_COLORS",
    "HEADLINE_FILE",
    "PortfolioData",
    "at_risk_accounts",
    "definition_changes",
    "figure_image",
    "load_portfolio",
    "load_validation_km",
    "report_facts",
    "write_index",
    "write_portfolio_report",
]

#: Headline figures written beside each portfolio report for the index page.
HEADLINE_FILE = "portfolio_headline.json"

_CHANGE_COLUMNS = ["as_of", "previous_version", "definition_version"]
_DATE_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")


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


# ---------------------------------------------------------------- index page


def write_index(
    reports_dir: str | os.PathLike, *, title: str = "Health reports"
) -> Path:
    """Write ``<reports_dir>/index.html`` linking every report by as-of date.

    Reports are the ``.html`` files of the subfolders named like an as-of
    date (``2026-10-31/portfolio.html``); newest date first. The page is
    self-contained (inline CSS, no script) and written atomically.
    """
    reports_dir = Path(reports_dir)
    reports_dir.mkdir(parents=True, exist_ok=True)
    dated = sorted(
        (p for p in reports_dir.iterdir() if p.is_dir() and _DATE_DIR.match(p.name)),
        key=lambda p: p.name,
        reverse=True,
    )
    rows = []
    for folder in dated:
        pages = sorted(
            folder.glob("*.html"), key=lambda p: (_page_rank(p.stem), p.stem)
        )
        if not pages:
            continue
        links = " · ".join(
            f"<a href='{escape(quote(f'{folder.name}/{p.name}'))}'>"
            f"{escape(_title(p.stem))}</a>"
            for p in pages
        )
        cells = "".join(
            f"<td{cls}>{text}</td>" for cls, text in _headline_cells(folder)
        )
        rows.append(f"<tr><td>{escape(folder.name)}</td>{cells}<td>{links}</td></tr>")
    header = "".join(
        f"<th>{name}</th>"
        for name in ("As-of date", "Accounts", "Mean score", "Change", "Categories")
    )
    body = (
        f"<table class='hl-table'><thead><tr>{header}<th>Reports</th>"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        if rows
        else "<p class='hl-empty'>No report yet: run <code>healthlab run</code>.</p>"
    )
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{escape(title)}</title><style>{REPORT_CSS}{BLOCK_CSS}</style></head>"
        "<body class='jp-Notebook'><main class='jp-RenderedHTMLCommon'>"
        f"<h1>{escape(title)}</h1><p class='hl-sub'>Updated {stamp}. One row per "
        f"as-of date, newest first.</p>{body}</main></body></html>\n"
    )
    target = reports_dir / "index.html"
    _write_atomic(target, page)
    return target


def write_portfolio_report(
    store_path: str | os.PathLike,
    source_path: str | os.PathLike,
    reports_dir: str | os.PathLike = "reports",
    *,
    as_of=None,
    definition_version: str | None = None,
    source_description: str | None = None,
    validation_report: str | None = None,
    validation_summary: Mapping[str, object] | None = None,
    dropped_rows: Mapping[str, int] | None = None,
    engine: str = "duckdb",
) -> NotebookRun:
    """Execute the portfolio notebook into ``reports/<as-of>/portfolio.html``.

    Then write the headline figures beside it (:data:`HEADLINE_FILE`) and
    refresh ``reports/index.html``. `validation_report` is a link relative
    to the report's folder (e.g. ``"validation.html"``). `dropped_rows`
    defaults to what the store recorded for the scoring run of that as-of
    date.

    Raises
    ------
    StoreError
        If the store holds no score of the definition at `as_of` (checked
        before any kernel starts).
    NotebookExecutionError
        If a cell fails; the previous report of that date is left as it was.
    """
    from healthlab.portfolio import portfolio_headline
    from healthlab.store import Store

    # fail before starting a kernel when there is nothing to report
    scores, _, version, as_of = _scores_of(Store(store_path), definition_version, as_of)
    label = as_of.date().isoformat()
    parameters = {
        "store_path": str(Path(store_path).resolve()),
        "source_path": str(Path(source_path).resolve()),
        "as_of": label,
        "definition_version": version,
        "source_description": source_description or str(source_path),
        "validation_report": validation_report,
        "validation_summary": dict(validation_summary or {}),
        "dropped_rows": (
            None
            if dropped_rows is None
            else {k: int(v) for k, v in dropped_rows.items()}
        ),
        "engine": engine,
    }
    out_dir = Path(reports_dir) / label
    run = execute_notebook(
        "portfolio", parameters, out_dir, title=f"Portfolio health {label}"
    )

    # the headline beside the report, for the index page
    headline = portfolio_headline(scores, as_of)
    sidecar = {
        "definition_version": version,
        "accounts": headline["accounts"],
        "mean_score": _finite(headline["mean_score"]),
        "change": _finite(headline["change"]),
        "category_shares": headline["category_shares"],
    }
    _write_atomic(out_dir / HEADLINE_FILE, json.dumps(sidecar, indent=2))
    write_index(reports_dir)
    return run


# ------------------------------------------------------------------- helpers


def _finite(value) -> float | None:
    value = float(value)
    return None if math.isnan(value) else round(value, 2)


def _title(name: str) -> str:
    return str(name).replace("_", " ").strip().capitalize()


def _headline_cells(folder: Path) -> list[tuple[str, str]]:
    # accounts, mean score, change and category shares of a dated folder
    path = folder / HEADLINE_FILE
    if not path.is_file():
        return [("", "")] * 4
    head = json.loads(path.read_text(encoding="utf-8"))
    mean, change = head.get("mean_score"), head.get("change")
    shares = " · ".join(
        f"{escape(label)} {share:.0%}"
        for label, share in (head.get("category_shares") or {}).items()
    )
    num = " class='num'"
    return [
        (num, f"{int(head.get('accounts', 0)):,}"),
        (num, "–" if mean is None else f"{mean:.1f}"),
        (num, "–" if change is None else f"{change:+.1f}"),
        ("", shares),
    ]


def _page_rank(stem: str) -> int:
    order = ["portfolio", "validation", "calibration"]
    return order.index(stem) if stem in order else len(order)


def _write_atomic(target: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes files private; reports are shared
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
