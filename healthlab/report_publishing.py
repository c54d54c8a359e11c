"""Publishing the reports: the portfolio report, its headline and the index page.

Reports live in ``reports/<as-of>/<name>.html``; :func:`write_portfolio_report`
executes the portfolio notebook for one as-of date and writes its headline
figures beside it (:data:`HEADLINE_FILE`), and :func:`write_index` writes
``reports/index.html`` linking every report by as-of date. Both replace their
files atomically.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

from healthlab.notebooks import REPORT_CSS, NotebookRun, execute_notebook
from healthlab.report_html import BLOCK_CSS, escape
from healthlab.reports import _scores_of

__all__ = [
    "HEADLINE_FILE",
    "write_index",
    "write_portfolio_report",
]

#: Headline figures written beside each portfolio report for the index page.
HEADLINE_FILE = "portfolio_headline.json"

_DATE_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")


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
