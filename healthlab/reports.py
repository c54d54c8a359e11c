"""HTML building blocks of the reports, and the index page linking them.

The report notebooks only call these functions and display what they
return: every number a report shows is computed here or in
:mod:`healthlab.portfolio`, where tests can check it. Every string that
comes from data (account, CSM, page, index and peer group names, alert
messages) is escaped with :func:`html.escape`; nothing here ever renders a
data value as markup, so a name like ``<script>alert(1)</script>`` shows
as text.

Reports live in ``reports/<as-of>/<name>.html``; :func:`write_index` writes
``reports/index.html`` linking them by as-of date.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import json
import os
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd

from healthlab.figures import (
    CATEGORY_COLORS,
    UNSCORED_COLOR,
    UNSCORED_LABEL,
    category_colors,
)
from healthlab.notebooks import REPORT_CSS, NotebookRun, execute_notebook

__all__ = [
    "CATEGORY_COLORS",
    "PortfolioData",
    "load_portfolio",
    "at_risk_accounts",
    "render_header",
    "render_headline",
    "render_table",
    "render_alerts",
    "render_drilldown",
    "render_validation",
    "figure_image",
    "write_index",
    "write_portfolio_report",
]

_DATE_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TEXT_ON = {"#DDAA33": "#1f2933", UNSCORED_COLOR: "#1f2933"}


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
    from healthlab.errors import StoreError
    from healthlab.store import Store

    store = Store(store_path)
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
        raise StoreError(
            f"Store {str(store.path)!r} has no scores of definition "
            f"{definition_version!r} at as-of date {as_of.date()}; scored dates: "
            f"{sorted(d.date().isoformat() for d in scores['as_of'].unique())[-5:]}."
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
    sessions = source.tables["sessions"]
    period = sessions.aggregate(
        first=sessions.started_at.min(), last=sessions.started_at.max()
    ).to_pandas()
    data_period = tuple(str(pd.Timestamp(v).date()) for v in period.iloc[0])

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
    )


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


# ----------------------------------------------------------------- rendering


def render_header(
    title: str,
    *,
    as_of,
    definition_version: str,
    data_period: Sequence[str] | None,
    dropped_rows: Mapping[str, int] | None,
    generated_at: dt.datetime | None = None,
    source_description: str | None = None,
) -> str:
    """Title block shown at the top of every report.

    It states when the report was generated (UTC), the as-of date, the data
    period, the score definition version, the source and how many input
    rows were dropped per table (``none`` when no row was dropped).
    """
    generated_at = generated_at or dt.datetime.now(dt.UTC)
    period = " to ".join(data_period) if data_period else "unknown"
    dropped = {k: int(v) for k, v in (dropped_rows or {}).items() if int(v) > 0}
    dropped_text = (
        ", ".join(f"{_e(table)}: {count:,}" for table, count in sorted(dropped.items()))
        if dropped
        else "none"
    )
    facts = [
        ("As-of date", _e(str(pd.Timestamp(as_of).date()))),
        ("Data period", _e(period)),
        ("Score definition", _e(definition_version)),
        ("Dropped input rows", dropped_text),
        ("Generated", _e(generated_at.strftime("%Y-%m-%d %H:%M UTC"))),
    ]
    if source_description:
        facts.insert(3, ("Source", _e(source_description)))
    items = "".join(
        f'<div class="hl-fact"><span>{k}</span><strong>{v}</strong></div>'
        for k, v in facts
    )
    return (
        f"{_style()}<header class='hl-header'><h1>{_e(title)}</h1>"
        f"<div class='hl-facts'>{items}</div></header>"
    )


def render_headline(
    headline: Mapping[str, object], categories: Sequence[tuple[str, float, float]]
) -> str:
    """Cards with the portfolio's headline figures.

    `headline` is :func:`healthlab.portfolio.portfolio_headline`'s dict:
    ``accounts``, ``scored``, ``mean_score``, ``change`` (vs the previous
    as-of date, NaN for the first) and ``category_shares`` (category ->
    share of scored accounts).
    """
    change = headline.get("change")
    change_text = (
        "first snapshot" if _missing(change) else f"{change:+.1f} vs last month"
    )
    scored = headline.get("scored")
    scored_text = "" if scored is None else f"{int(scored):,} with a score"
    colors = category_colors([c[0] for c in categories])
    cards = [
        ("Accounts", f"{int(headline['accounts']):,}", scored_text, None),
        (
            "Mean health score",
            _fmt(headline.get("mean_score"), "{:.1f}"),
            change_text,
            None,
        ),
    ]
    shares = headline.get("category_shares") or {}
    for label, _, _ in categories:
        share = shares.get(label, 0.0)
        cards.append(
            (label, _fmt(share, "{:.0%}"), "of scored accounts", colors[label])
        )

    html_cards = []
    for name, value, note, color in cards:
        stripe = f" style='border-top-color:{color}'" if color else ""
        html_cards.append(
            f"<div class='hl-card'{stripe}><span>{_e(name)}</span>"
            f"<strong>{_e(value)}</strong><em>{_e(note)}</em></div>"
        )
    return f"{_style()}<div class='hl-cards'>{''.join(html_cards)}</div>"


def render_table(
    frame: pd.DataFrame,
    *,
    formats: Mapping[str, str | Callable[[object], str]] | None = None,
    labels: Mapping[str, str] | None = None,
    badge_columns: Sequence[str] = ("category", "previous_category"),
    categories: Sequence[str] | None = None,
    empty: str = "Nothing to show.",
) -> str:
    """An escaped HTML table, categories shown as coloured badges.

    Parameters
    ----------
    frame : DataFrame
        Rows to show, in order; the index is not shown.
    formats : mapping, optional
        Column -> format string (``"{:.1f}"``) or callable returning text.
    labels : mapping, optional
        Column -> header text.
    badge_columns : sequence of str
        Columns holding category labels, drawn as badges.
    categories : sequence of str, optional
        Category labels best first (colours); default the default labels.
    empty : str
        Text shown instead of an empty table.
    """
    if frame.empty:
        return f"{_style()}<p class='hl-empty'>{_e(empty)}</p>"
    formats, labels = dict(formats or {}), dict(labels or {})
    colors = category_colors(list(categories or CATEGORY_COLORS))

    head = "".join(f"<th>{_e(labels.get(c, _title(c)))}</th>" for c in frame.columns)
    rows = []
    for record in frame.itertuples(index=False):
        cells = []
        for col, value in zip(frame.columns, record, strict=True):
            if col in badge_columns:
                cells.append(f"<td>{_badge(value, colors)}</td>")
                continue
            numeric = isinstance(value, int | float | np.number) and not isinstance(
                value, bool
            )
            text = _cell_text(value, formats.get(col))
            cls = " class='num'" if numeric else ""
            cells.append(f"<td{cls}>{_e(text)}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f"{_style()}<table class='hl-table'><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def render_alerts(
    alerts: pd.DataFrame,
    accounts: pd.DataFrame,
    as_of,
    categories: Sequence[str] | None = None,
) -> str:
    """The alerts fired at `as_of`, one row per account, largest falls first.

    An account with both a category change and a score drop gets one row
    naming both. The reason is in the columns: category before and after,
    score before and after, and the index whose weighted contribution
    moved most (with its change in points).
    """
    now = alerts[alerts["as_of"] == pd.Timestamp(as_of)]
    if now.empty:
        return render_table(now, empty="No alert fired at this as-of date.")

    # one row per account: the kinds that fired, the rest is shared
    kinds = (
        now.assign(kind=now["kind"].astype(str).str.replace("_", " "))
        .groupby("account_id")["kind"]
        .agg(lambda k: " + ".join(sorted(set(k))))
    )
    rows = now.drop_duplicates("account_id").drop(columns="kind")
    rows = rows.merge(kinds.rename("kind"), on="account_id")
    rows = rows.merge(
        accounts[["account_id", "name", "csm"]], on="account_id", how="left"
    )
    rows = rows.sort_values(["change", "account_id"], na_position="last")
    rows["mover"] = [
        "" if _missing(i) else (f"{i} ({c:+.1f})" if not _missing(c) else str(i))
        for i, c in zip(rows["top_index"], rows["top_index_change"], strict=True)
    ]
    columns = {
        "name": "Account",
        "csm": "CSM",
        "kind": "Alert",
        "previous_category": "Was",
        "category": "Now",
        "previous_score": "Score before",
        "score": "Score now",
        "change": "Change",
        "mover": "Index that moved most (points)",
    }
    return render_table(
        rows[list(columns)],
        formats={"previous_score": "{:.1f}", "score": "{:.1f}", "change": "{:+.1f}"},
        labels=columns,
        categories=categories,
    )


def render_drilldown(
    at_risk: pd.DataFrame,
    indices: pd.DataFrame,
    metrics: pd.DataFrame,
    as_of,
    categories: Sequence[str] | None = None,
) -> str:
    """Per at-risk account: each index, its contribution and peer position.

    For every account of `at_risk` (see :func:`at_risk_accounts`), one
    table with a row per index of the score: the 0-100 index value, its
    weight, its contribution to the score (points), the peer percentile of
    each benchmarked metric, the peer group that served and any reason the
    index is unavailable or partial.
    """
    if at_risk.empty:
        return f"{_style()}<p class='hl-empty'>No account is at risk.</p>"
    day = pd.Timestamp(as_of)
    idx = indices[indices["as_of"] == day]
    met = metrics[(metrics["as_of"] == day) & metrics["percentile"].notna()]
    position = (
        met.sort_values(["index", "metric"])
        .assign(text=lambda m: m["metric"].str.replace("_", " ") + " " + _pct(m))
        .groupby(["account_id", "index"])["text"]
        .agg(" · ".join)
    )

    parts = [_style()]
    for acc in at_risk.itertuples(index=False):
        rows = idx[idx["account_id"] == acc.account_id].sort_values(
            ["contribution", "index"], ascending=[True, True], na_position="last"
        )
        table = pd.DataFrame(
            {
                "Index": rows["index"],
                "Index value": rows["value"],
                "Weight": rows["weight"],
                "Contribution": rows["contribution"],
                "Peer percentiles": [
                    position.get((acc.account_id, i), "") for i in rows["index"]
                ],
                "Peer group": [
                    _peer_text(level, group)
                    for level, group in zip(
                        rows["peer_level"], rows["peer_group"], strict=True
                    )
                ],
                "Note": [
                    _note(a, r, p)
                    for a, r, p in zip(
                        rows["available"], rows["reason"], rows["partial"], strict=True
                    )
                ],
            }
        )
        colors = category_colors(list(categories or CATEGORY_COLORS))
        parts.append(
            f"<h3 class='hl-account'>{_e(acc.name)} "
            f"{_badge(acc.category, colors)}</h3>"
            f"<p class='hl-sub'>CSM {_e(acc.csm)} · score {acc.score:.1f} · "
            f"coverage {acc.coverage:.0%} · account id {_e(acc.account_id)}</p>"
        )
        parts.append(
            render_table(
                table,
                formats={
                    "Index value": "{:.1f}",
                    "Weight": "{:g}",
                    "Contribution": "{:.1f}",
                },
            )
        )
    return "".join(parts)


def render_validation(link: str | None, summary: Mapping[str, object] | None) -> str:
    """Link to the validation report and its headline figures.

    `summary` maps figure names (``"Concordance (Cox)"``) to values; numbers
    are shown with three significant digits.
    """
    parts = [_style()]
    if summary:
        items = "".join(
            f"<div class='hl-card'><span>{_e(k)}</span><strong>"
            f"{_e(_fmt(v, '{:.3g}') if not isinstance(v, str) else v)}</strong></div>"
            for k, v in summary.items()
        )
        parts.append(f"<div class='hl-cards'>{items}</div>")
    if link:
        parts.append(
            f"<p>Full validation (Kaplan-Meier curves by category, Cox model, "
            f"lift): <a href='{_e(quote(link, safe='/:#?=&.'))}'>{_e(link)}</a></p>"
        )
    if len(parts) == 1:
        parts.append("<p class='hl-empty'>No validation report for this run.</p>")
    return "".join(parts)


def figure_image(fig, *, dpi: int = 200):
    """A figure as an embedded PNG image for a notebook to display.

    The PNG is drawn at `dpi` (sharp on high-density screens) and shown at
    the figure's size at 100 dpi, whatever matplotlib backend the kernel
    runs; the figure is not kept by pyplot.

    Returns
    -------
    IPython.display.Image
    """
    from IPython.display import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, facecolor="white")
    width = int(round(fig.get_figwidth() * 100))
    return Image(data=buffer.getvalue(), format="png", width=width)


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
            f"<a href='{_e(quote(f'{folder.name}/{p.name}'))}'>{_e(_title(p.stem))}</a>"
            for p in pages
        )
        rows.append(f"<tr><td>{_e(folder.name)}</td><td>{links}</td></tr>")
    body = (
        "<table class='hl-table'><thead><tr><th>As-of date</th><th>Reports</th>"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        if rows
        else "<p class='hl-empty'>No report yet: run <code>healthlab run</code>.</p>"
    )
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_e(title)}</title><style>{REPORT_CSS}{_CSS}</style></head>"
        "<body class='jp-Notebook'><main class='jp-RenderedHTMLCommon'>"
        f"<h1>{_e(title)}</h1><p class='hl-sub'>Updated {stamp}. One row per "
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

    Then refresh ``reports/index.html``. `validation_report` is a link
    relative to the report's folder (e.g. ``"validation.html"``).
    `dropped_rows` defaults to what the store recorded for the scoring run
    of that as-of date. Raises
    :class:`~healthlab.errors.NotebookExecutionError` if a cell fails; the
    previous report of that date is then left as it was.
    """
    if as_of is None:
        from healthlab.store import Store

        scores = Store(store_path).read_scores(definition_version)
        as_of = scores["as_of"].max() if len(scores) else None
    label = str(pd.Timestamp(as_of).date()) if as_of is not None else "latest"
    parameters = {
        "store_path": str(Path(store_path).resolve()),
        "source_path": str(Path(source_path).resolve()),
        "as_of": None if as_of is None else label,
        "definition_version": definition_version,
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
    write_index(reports_dir)
    return run


# ------------------------------------------------------------------- helpers


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float | np.floating) and np.isnan(value))


def _fmt(value: object, pattern: str) -> str:
    return "–" if _missing(value) else pattern.format(value)


def _cell_text(value: object, fmt) -> str:
    if _missing(value) or value is pd.NaT:
        return "–"
    if callable(fmt):
        return str(fmt(value))
    if fmt:
        return fmt.format(value)
    if isinstance(value, pd.Timestamp):
        return str(value.date()) if value == value.normalize() else str(value)
    if isinstance(value, float | np.floating):
        return f"{value:.1f}"
    return str(value)


def _badge(label: object, colors: Mapping[str, str]) -> str:
    if _missing(label):
        label = UNSCORED_LABEL
    color = colors.get(str(label), UNSCORED_COLOR)
    ink = _TEXT_ON.get(color, "#ffffff")
    return (
        f"<span class='hl-badge' style='background:{color};color:{ink}'>"
        f"{_e(label)}</span>"
    )


def _title(name: str) -> str:
    return str(name).replace("_", " ").strip().capitalize()


def _pct(metrics: pd.DataFrame) -> pd.Series:
    return metrics["percentile"].map(lambda p: f"{p:.0f}")


def _peer_text(level: object, group: object) -> str:
    if _missing(level) or level in ("", None):
        return ""
    return f"{group} ({level})" if not _missing(group) and group else str(level)


def _note(available: object, reason: object, partial: object) -> str:
    notes = []
    if available is False or available is np.False_:
        notes.append(f"unavailable: {reason}" if reason else "unavailable")
    elif reason:
        notes.append(str(reason))
    if partial is True or partial is np.True_:
        notes.append("partial window (young account)")
    return "; ".join(notes).replace("_", " ")


def _page_rank(stem: str) -> int:
    order = ["portfolio", "validation", "calibration"]
    return order.index(stem) if stem in order else len(order)


def _write_atomic(target: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _style() -> str:
    return f"<style>{_CSS}</style>"


_CSS = """
.hl-header h1 { margin-bottom: 6px; }
.hl-facts { display: flex; flex-wrap: wrap; gap: 6px 28px; margin: 4px 0 12px;
  color: #52606d; font-size: 13.5px; }
.hl-fact span { margin-right: 6px; }
.hl-fact strong { color: #1f2933; font-weight: 600; }
.hl-cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 8px 0 16px; }
.hl-card { flex: 1 1 150px; border: 1px solid #d9e2ec; border-top: 4px solid
  #52606d; border-radius: 6px; padding: 10px 14px; background: #fff; }
.hl-card span { display: block; color: #52606d; font-size: 13px; }
.hl-card strong { display: block; font-size: 26px; line-height: 1.25; }
.hl-card em { display: block; color: #52606d; font-size: 12.5px;
  font-style: normal; }
.jp-RenderedHTMLCommon .hl-table th,
.jp-RenderedHTMLCommon .hl-table td { text-align: left; vertical-align: top; }
.jp-RenderedHTMLCommon .hl-table td.num { text-align: right; }
.hl-badge { display: inline-block; padding: 1px 8px; border-radius: 10px;
  font-size: 12.5px; font-weight: 600; white-space: nowrap; }
.hl-account { margin-bottom: 0; }
.hl-sub { color: #52606d; margin-top: 2px; font-size: 13.5px; }
.hl-empty { color: #52606d; font-style: italic; }
"""
