"""Publishing the reports: the index page and the portfolio report's file."""

from __future__ import annotations

import json
import re

import pytest
from report_frames import HOSTILE, hand_built_world

from healthlab import report_publishing


def test_write_index_links_reports_newest_first(tmp_path):
    for day, pages in {
        "2026-09-30": ["portfolio"],
        "2026-10-31": ["validation", "portfolio", "x<y>"],
    }.items():
        (tmp_path / day).mkdir()
        for page in pages:
            (tmp_path / day / f"{page}.html").write_text("<html></html>")
    (tmp_path / "2026-10-31" / report_publishing.HEADLINE_FILE).write_text(
        json.dumps(
            {
                "accounts": 1234,
                "mean_score": 51.25,
                "change": -1.5,
                "category_shares": {"Strong": 0.2, HOSTILE: 0.8},
            }
        )
    )
    (tmp_path / "2026-10-31" / "failed").mkdir()
    (tmp_path / "2026-10-31" / "failed" / "portfolio.html").write_text("x")
    (tmp_path / "notes").mkdir()

    index = report_publishing.write_index(tmp_path)
    page = index.read_text(encoding="utf-8")
    hrefs = re.findall(r"href='([^']+)'", page)
    assert hrefs == [
        "2026-10-31/portfolio.html",
        "2026-10-31/validation.html",
        "2026-10-31/x%3Cy%3E.html",
        "2026-09-30/portfolio.html",
    ]
    assert "X&lt;y&gt;" in page and "<y>" not in page
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", page)
    assert cells[:5] == [
        "2026-10-31",
        "1,234",
        "51.2",
        "-1.5",
        "Strong 20% · &lt;script&gt;alert(1)&lt;/script&gt; 80%",
    ]
    assert cells[5:10] == ["2026-09-30", "", "", "", ""]
    assert "<script" not in page
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["index.html"]


def test_write_index_of_an_empty_folder(tmp_path):
    page = report_publishing.write_index(tmp_path / "new").read_text(encoding="utf-8")
    assert "No report yet" in page


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_portfolio_notebook_escapes_hostile_names(
    tmp_path, accounts, scores, indices, metrics
):
    source, store_path, version = hand_built_world(
        tmp_path, accounts, scores, indices, metrics
    )
    run = report_publishing.write_portfolio_report(
        store_path,
        source,
        tmp_path / "reports",
        validation_report="validation.html",
        validation_summary={"Concordance": 0.7},
        dropped_rows={"sessions": 12},
    )
    html = run.html_path.read_text(encoding="utf-8")
    assert run.html_path == tmp_path / "reports" / "2026-10-31" / "portfolio.html"

    # the hostile names show as text and never as markup
    assert "<script>alert(1)</script>" not in html
    assert "<script" not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 4
    assert "$Bo &lt;b&gt;" in html
    assert "<b>" not in html.replace("<b>Co</b>", "")

    # run facts, sections and a few numbers computed by hand
    for text in [
        "2026-01-05 to 2026-10-30",
        "sessions: 12",
        f"{version}",
        "Accounts by category, per CSM",
        "Highest and lowest accounts",
        "Score trend per CSM",
        "CSM leaderboard",
        "Alerts of the period",
        "At-risk accounts",
        'href="validation.html"',
    ]:
        assert text in html, text
    # October mean over a1..a4 = (80 + 30 + 25 + 38) / 4 = 43.25; September
    # mean of all five = 47.0; change -3.75
    assert "<strong>43.2</strong>" in html or "<strong>43.3</strong>" in html
    assert "-3.8 vs last month" in html or "-3.7 vs last month" in html
    index = (tmp_path / "reports" / "index.html").read_text(encoding="utf-8")
    assert "href='2026-10-31/portfolio.html'" in index
    # the index shows the headline: 4 scored of 5 accounts, mean 43.25
    assert ">5</td>" in index and (">43.2</td>" in index or ">43.3</td>" in index)


def test_portfolio_report_refuses_an_empty_store(tmp_path):
    from healthlab.errors import StoreError
    from healthlab.store import Store

    store = Store(tmp_path / "healthlab.duckdb")
    with pytest.raises(StoreError) as info:
        report_publishing.write_portfolio_report(
            store.path, tmp_path, tmp_path / "reports"
        )
    assert str(info.value) == (
        f"Store {str(store.path)!r} holds no scores; run `healthlab score` first."
    )
