"""Escaped HTML blocks of the reports: header, headline cards, tables.

Every string that comes from data (account, CSM, page, index and peer group
names, alert reasons) goes through :func:`html.escape`; nothing here renders
a data value as markup, so a name like ``<script>alert(1)</script>`` shows
as text. Categories are drawn as badges in the colours of
:data:`healthlab.figures.CATEGORY_COLORS`. Each block carries its own small
stylesheet, so it reads the same in JupyterLab and in the published HTML.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable, Mapping, Sequence
from urllib.parse import quote

import numpy as np
import pandas as pd

from healthlab.figures import (
    CATEGORY_COLORS,
    UNSCORED_COLOR,
    UNSCORED_LABEL,
    category_colors,
)

__all__ = [
    "escape",
    "render_alerts",
    "render_definition_changes",
    "render_drilldown",
    "render_header",
    "render_headline",
    "render_table",
    "render_validation",
    "BLOCK_CSS",
]

_TEXT_ON = {"#DDAA33": "#1f2933", UNSCORED_COLOR: "#1f2933"}


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
        ", ".join(
            f"{escape(table)}: {count:,}" for table, count in sorted(dropped.items())
        )
        if dropped
        else "none"
    )
    facts = [
        ("As-of date", escape(str(pd.Timestamp(as_of).date()))),
        ("Data period", escape(period)),
        ("Score definition", escape(definition_version)),
        ("Dropped input rows", dropped_text),
        ("Generated", escape(generated_at.strftime("%Y-%m-%d %H:%M UTC"))),
    ]
    if source_description:
        facts.insert(3, ("Source", escape(source_description)))
    items = "".join(
        f'<div class="hl-fact"><span>{k}</span><strong>{v}</strong></div>'
        for k, v in facts
    )
    return (
        f"{_style()}<header class='hl-header'><h1>{escape(title)}</h1>"
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
            f"<div class='hl-card'{stripe}><span>{escape(name)}</span>"
            f"<strong>{escape(value)}</strong><em>{escape(note)}</em></div>"
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
        return f"{_style()}<p class='hl-empty'>{escape(empty)}</p>"
    formats, labels = dict(formats or {}), dict(labels or {})
    colors = category_colors(list(categories or CATEGORY_COLORS))

    head = "".join(
        f"<th>{escape(labels.get(c, _title(c)))}</th>" for c in frame.columns
    )
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
            cells.append(f"<td{cls}>{escape(text)}</td>")
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
    *,
    limit: int = 25,
) -> str:
    """The alerts fired at `as_of`, one row per account, largest falls first.

    An account with both a category change and a score drop gets one row
    naming both. The reason is in the columns: category before and after,
    score before and after, and the index whose weighted contribution
    moved most (with its change in points). At most `limit` rows are shown,
    under a line counting the alerted accounts, how many fell and how many
    improved.
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
    # count before cutting: how many fell, how many improved
    fell, rose = int((rows["change"] < 0).sum()), int((rows["change"] > 0).sum())
    shown = f"the {limit} largest falls" if len(rows) > limit else "all of them"
    note = (
        f"<p class='hl-sub'>{len(rows):,} accounts alerted: {fell:,} fell, "
        f"{rose:,} improved. Showing {shown}.</p>"
    )
    return note + render_table(
        rows[list(columns)].head(limit),
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
        # mobile accounts fill the performance slot with the rating index
        source = (
            rows["source_index"].fillna(rows["index"])
            if "source_index" in rows
            else rows["index"]
        )
        table = pd.DataFrame(
            {
                "Index": [
                    i if s == i else f"{i} ({s})"
                    for i, s in zip(rows["index"], source, strict=True)
                ],
                "Index value": rows["value"],
                "Weight": rows["weight"],
                "Contribution": rows["contribution"],
                "Peer percentiles": [
                    position.get((acc.account_id, i), "") for i in source
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
            f"<h3 class='hl-account'>{escape(acc.name)} "
            f"{_badge(acc.category, colors)}</h3>"
            f"<p class='hl-sub'>CSM {escape(acc.csm)} · score {acc.score:.1f} · "
            f"coverage {acc.coverage:.0%} · account id {escape(acc.account_id)}</p>"
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


#: Headline figures of the validation summary, in the order shown.
_VALIDATION_FIGURES = {
    "concordance": ("Concordance", "{:.2f}", "0.5 = chance, 1 = perfect ranking"),
    "hazard_ratio_per_10": (
        "Churn hazard per +10 points",
        "{:.2f}",
        "below 1: healthier accounts churn less",
    ),
    "auc": ("AUC of churn within the horizon", "{:.2f}", "0.5 = chance"),
    "lift_top_decile": (
        "Lift of the riskiest tenth",
        "{:.1f}x",
        "their churn rate vs everyone's",
    ),
    "km_ordered": ("Categories ordered", "{}", "Strong retains best, Weak worst"),
    "logrank_p": ("Log-rank p-value", "{:.2g}", "curves differ if small"),
}


def render_validation(link: str | None, summary: Mapping[str, object] | None) -> str:
    """Link to the validation report and its headline figures.

    `summary` is the validation notebook's ``validation_summary.json``;
    its known figures (concordance, hazard ratio per 10 points, AUC,
    top-decile lift, category order, log-rank p) are shown as cards with a
    one-line reading aid. Other keys are ignored.
    """
    parts = [_style()]
    cards = []
    for key, (name, pattern, note) in _VALIDATION_FIGURES.items():
        value = (summary or {}).get(key)
        if value is None:
            continue
        if isinstance(value, bool):
            text = "yes" if value else "no"
        else:
            text = _fmt(value, pattern)
        cards.append(
            f"<div class='hl-card'><span>{escape(name)}</span>"
            f"<strong>{escape(text)}</strong><em>{escape(note)}</em></div>"
        )
    if cards:
        parts.append(f"<div class='hl-cards'>{''.join(cards)}</div>")
    if link:
        parts.append(
            "<p>Full validation (survival curves by category, Cox model, lift, "
            f"surprising accounts): <a href='{escape(quote(link, safe='/:#?=&.'))}'>"
            f"{escape(link)}</a></p>"
        )
    if len(parts) == 1:
        parts.append("<p class='hl-empty'>No validation report for this run.</p>")
    return "".join(parts)


def render_definition_changes(changes: pd.DataFrame) -> str:
    """One sentence per change of the definition in use, or nothing.

    `changes` has columns ``as_of``, ``previous_version`` and
    ``definition_version`` (as from
    :func:`healthlab.reports.definition_changes`); each row reads
    "Definition changed from X to Y on DATE."
    """
    if changes is None or changes.empty:
        return ""
    items = "".join(
        f"<li class='hl-definition-change'>Definition changed from "
        f"<code>{escape(row.previous_version)}</code> to "
        f"<code>{escape(row.definition_version)}</code> on "
        f"{escape(pd.Timestamp(row.as_of).date().isoformat())}.</li>"
        for row in changes.itertuples()
    )
    return (
        f"{_style()}<ul class='hl-definition-changes'>{items}</ul>"
        "<p class='hl-note'>Scores before and after a change came from different "
        "definitions when first reported; the trend above is the history of the "
        "definition reported here.</p>"
    )


# ------------------------------------------------------------------- helpers


def escape(value: object) -> str:
    """Text of `value` escaped for HTML, quotes included.

    Examples
    --------
    >>> escape("<script>alert(1)</script>")
    '&lt;script&gt;alert(1)&lt;/script&gt;'
    """
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
        f"{escape(label)}</span>"
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


def _style() -> str:
    return f"<style>{BLOCK_CSS}</style>"


BLOCK_CSS = """
.hl-header h1 { margin-bottom: 6px; }
.hl-facts { display: flex; flex-wrap: wrap; gap: 6px 28px; margin: 4px 0 12px;
  color: #52606d; font-size: 13.5px; }
.hl-fact span { margin-right: 6px; }
.hl-fact strong { color: #1f2933; font-weight: 600; }
.hl-cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 8px 0 16px; }
.hl-card { flex: 1 1 150px; max-width: 240px; border: 1px solid #d9e2ec;
  border-top: 4px solid
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
