"""HTML building blocks, figures and the report data, on hand-built frames."""

from __future__ import annotations

import io
import json
import re
from html.parser import HTMLParser

import pandas as pd
import pytest
from matplotlib.colors import to_hex
from report_frames import CATS, HOSTILE, LABELS, OCT, SEP, hand_built_world

from healthlab import figures, report_html, reports


def _no_hostile_markup(text: str) -> None:
    assert "<script>" not in text
    assert "<b>" not in text


def test_render_table_escapes_names_and_draws_badges(scores, accounts):
    frame = scores[scores["as_of"] == OCT].merge(accounts, on="account_id")
    out = report_html.render_table(frame[["name", "csm", "score", "category"]])
    _no_hostile_markup(out)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert "Beta &amp; Sons" in out
    # one badge per row, coloured by the shared palette; the missing one grey
    badges = re.findall(r"class='hl-badge' style='background:(#\w+);", out)
    assert badges == ["#004488", "#BB5566", "#BB5566", "#BB5566", "#BBBBBB"]
    assert ">Unavailable</span>" in out
    assert ">80.0</td>" in out and ">–</td>" in out


def test_render_table_empty_says_so():
    out = report_html.render_table(pd.DataFrame({"a": []}), empty="Nothing <here>.")
    assert "Nothing &lt;here&gt;." in out and "<table" not in out


def test_at_risk_accounts_lowest_of_worst_category(scores, accounts):
    got = reports.at_risk_accounts(scores, accounts, OCT, CATS, n=2)
    # by hand: Weak at OCT are a2 (30), a3 (25), a4 (38); lowest two a3, a2
    assert list(got["account_id"]) == ["a3", "a2"]
    assert list(got["score"]) == [25.0, 30.0]
    assert list(got["name"]) == ["Beta & Sons", HOSTILE]


def test_drilldown_shows_contributions_percentiles_and_peer_group(
    scores, accounts, indices, metrics
):
    at_risk = reports.at_risk_accounts(scores, accounts, OCT, CATS, n=2)
    out = report_html.render_drilldown(at_risk, indices, metrics, OCT, LABELS)
    _no_hostile_markup(out)
    # a2: duration 20 x 25 / 35 = 14.29 points, nps 50 x 10 / 35 = 14.29
    assert out.count(">14.3</td>") == 2
    # a3: duration 10 x 25 / 35 = 7.14, nps 55 x 10 / 35 = 15.71
    assert ">7.1</td>" in out and ">15.7</td>" in out
    assert "level 12 · trend 61" in out and "nps 49" in out
    assert "retail|&lt;script&gt;alert(1)&lt;/script&gt; (industry+app_type)" in out
    assert "unavailable: too few users" in out
    assert "partial window (young account)" in out
    # the accounts appear lowest score first
    assert out.index("Beta &amp; Sons") < out.index("&lt;script&gt;alert(1)")


def test_render_alerts_one_row_per_account_of_the_as_of_date(accounts):
    alerts = pd.DataFrame(
        {
            "account_id": ["a2", "a2", "a4", "a1"],
            "as_of": [OCT, OCT, OCT, SEP],
            "kind": ["category_change", "score_drop", "score_drop", "score_drop"],
            "previous_category": ["Moderate", "Moderate", "Weak", "Strong"],
            "category": ["Weak", "Weak", "Weak", "Strong"],
            "previous_score": [45.0, 45.0, 50.0, 90.0],
            "score": [30.0, 30.0, 38.0, 75.0],
            "change": [-15.0, -15.0, -12.0, -15.0],
            "top_index": ["duration", "duration", "nps", "nps"],
            "top_index_change": [-9.25, -9.25, -4.0, -1.0],
            "message": ["m1", "m2", "m3", "m4"],
        }
    )
    out = report_html.render_alerts(alerts, accounts, OCT, LABELS)
    _no_hostile_markup(out)
    assert out.count("<tr>") == 3  # header + one row for a2 and one for a4
    assert "category change + score drop" in out and ">-15.0</td>" in out
    assert "duration (-9.2)" in out or "duration (-9.3)" in out
    assert "nps (-4.0)" in out
    assert out.index("&lt;script&gt;") < out.index("Gamma")  # -15 before -12
    assert "2 accounts alerted: 2 fell, 0 improved. Showing all of them." in out
    assert "No alert fired" in report_html.render_alerts(alerts, accounts, "2026-08-31")
    top = report_html.render_alerts(alerts, accounts, OCT, LABELS, limit=1)
    assert top.count("<tr>") == 2 and "Gamma" not in top
    assert "Showing the 1 largest falls." in top


def test_headline_cards():
    headline = {
        "accounts": 1234,
        "scored": 1200,
        "mean_score": 55.5,
        "change": -2.5,
        "category_shares": {"Strong": 0.25, "Moderate": 0.5, "Weak": 0.25},
    }
    out = report_html.render_headline(headline, CATS)
    assert "<strong>1,234</strong>" in out and "<strong>55.5</strong>" in out
    assert "-2.5 vs last month" in out
    assert out.count("25%") == 2 and "50%" in out
    assert "1,200 with a score" in out
    first = report_html.render_headline({**headline, "change": float("nan")}, CATS)
    assert "first snapshot" in first


def test_header_lists_run_facts():
    import datetime as dt

    out = report_html.render_header(
        f"Portfolio {HOSTILE}",
        as_of=OCT,
        definition_version="default-1",
        data_period=("2024-11-01", "2026-10-31"),
        dropped_rows={"sessions": 1200, "ratings": 0, "nps_responses": 3},
        generated_at=dt.datetime(2026, 12, 3, 17, 5, tzinfo=dt.UTC),
        source_description="/data/<world>",
    )
    _no_hostile_markup(out)
    for text in [
        "2026-10-31",
        "2024-11-01 to 2026-10-31",
        "default-1",
        "nps_responses: 3, sessions: 1,200",
        "2026-12-03 17:05 UTC",
        "/data/&lt;world&gt;",
    ]:
        assert text in out
    assert "ratings" not in out
    none = report_html.render_header(
        "x", as_of=OCT, definition_version="v", data_period=None, dropped_rows=None
    )
    assert "Dropped input rows</span><strong>none" in none


def test_validation_block_shows_known_figures_and_links():
    out = report_html.render_validation(
        "validation.html",
        {
            "concordance": 0.71234,
            "hazard_ratio_per_10": 0.655,
            "km_ordered": True,
            "lift_top_decile": 2.25,
            "definition_version": "<i>v</i>",
        },
    )
    assert "href='validation.html'" in out
    assert "<strong>0.71</strong>" in out and "<strong>0.66</strong>" in out
    assert "<strong>yes</strong>" in out and "<strong>2.2x</strong>" in out
    assert "&lt;i&gt;" not in out and "<i>" not in out  # unknown keys skipped
    assert "No validation report" in report_html.render_validation(None, None)


def test_survival_figure_uses_category_colours():
    curves = pd.DataFrame(
        {
            "category": ["Weak", "Weak", "Strong", "Strong"],
            "days": [0, 30, 0, 30],
            "survival": [1.0, 0.8, 1.0, 0.95],
        }
    )
    fig = figures.plot_survival_by_category(curves, LABELS, counts={"Weak": 12})
    lines = fig.axes[0].get_lines()
    assert [to_hex(line.get_color()).upper() for line in lines] == [
        "#004488",
        "#BB5566",
    ]
    assert lines[1].get_label() == "Weak (12 accounts)"


def test_category_colors_are_one_palette():
    assert reports.CATEGORY_COLORS is figures.CATEGORY_COLORS
    assert figures.category_colors(LABELS) == {
        "Strong": "#004488",
        "Moderate": "#DDAA33",
        "Weak": "#BB5566",
    }
    four = figures.category_colors(["A", "B", "C", "D"])
    assert four["A"] == "#004488" and four["D"] == "#BB5566"
    assert len(set(four.values())) == 4


def test_donuts_use_category_colours_and_draw_names_verbatim(scores, accounts):
    now = scores[scores["as_of"] == OCT].merge(accounts, on="account_id")
    counts = (
        now.assign(category=now["category"].fillna("Unavailable"))
        .groupby(["csm", "category"], as_index=False)
        .size()
        .rename(columns={"size": "accounts"})
    )
    fig = figures.plot_category_donuts(counts, LABELS)
    titled = [ax for ax in fig.axes if ax.get_title()]
    assert sorted(ax.get_title() for ax in titled) == sorted(
        ["Ann", r"\$Bo <b>", HOSTILE]
    )
    ann = next(ax for ax in titled if ax.get_title() == "Ann")
    colours = [to_hex(w.get_facecolor()).upper() for w in ann.patches]
    # Ann: a1 Strong, a2 Weak
    assert colours == ["#004488", "#BB5566"]
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    assert buffer.getvalue().startswith(b"\x89PNG")


def test_trend_draws_one_panel_per_csm_over_the_portfolio_mean():
    trend = pd.DataFrame(
        {
            "csm": ["Ann", "Ann", "$Bo", "$Bo"],
            "as_of": [SEP, OCT, SEP, OCT],
            "mean_score": [60.0, 55.0, 30.0, 41.0],
        }
    )
    fig = figures.plot_csm_trend(trend, categories=CATS)
    panels = [ax for ax in fig.axes if ax.get_title(loc="left")]
    # a dollar is escaped from mathtext, so it is drawn as written
    assert [ax.get_title(loc="left") for ax in panels] == [r"\$Bo", "Ann"]
    overall, book = panels[1].get_lines()
    # portfolio line: (60 + 30) / 2 = 45 and (55 + 41) / 2 = 48
    assert list(overall.get_ydata()) == [45.0, 48.0]
    assert list(book.get_ydata()) == [60.0, 55.0]


# ------------------------------------------------ the notebook, end to end


class _Tables(HTMLParser):
    """Every <table> of a page as a list of rows of cell texts."""

    def __init__(self):
        super().__init__()
        self.tables, self._row, self._cell = [], None, None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1].append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _table_with_header(tables, first_header):
    found = [t for t in tables if t and t[0] and t[0][0] == first_header]
    assert found, f"no table starting with column {first_header!r}"
    return found


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_portfolio_report_of_a_small_world_matches_the_store(
    small_reports, small_world
):
    from healthlab import portfolio
    from healthlab.store import Store

    store = Store(small_reports.parent / "healthlab.duckdb")
    scores = store.read_scores()
    as_of = scores["as_of"].max()
    page = small_reports / str(as_of.date()) / "portfolio.html"
    html = page.read_text(encoding="utf-8")
    parser = _Tables()
    parser.feed(html)

    # headline, recomputed plainly from the score history
    now = scores[scores["as_of"] == as_of]
    before = scores[
        scores["as_of"] == scores.loc[scores["as_of"] < as_of, "as_of"].max()
    ]
    mean_now = now["score"].mean()
    change = mean_now - before["score"].mean()
    assert f"<strong>{len(now):,}</strong>" in html
    assert f"<strong>{mean_now:.1f}</strong>" in html
    assert f"{change:+.1f} vs last month" in html
    scored = now.dropna(subset=["score"])
    for label in LABELS:
        share = (scored["category"] == label).mean()
        assert f"<strong>{share:.0%}</strong>" in html, label

    # the leaderboard: one row per CSM, mean scores from plain pandas
    accounts = pd.read_parquet(small_world / "accounts")
    books = now.merge(accounts[["account_id", "csm"]], on="account_id")
    expected = books.groupby("csm")["score"].mean().sort_values(ascending=False)
    (board,) = _table_with_header(parser.tables, "CSM")
    assert [row[0] for row in board[1:]] == list(expected.index)
    assert [row[2] for row in board[1:]] == [f"{v:.1f}" for v in expected]
    assert [int(row[1]) for row in board[1:]] == [
        int((books["csm"] == csm).sum()) for csm in expected.index
    ]

    # stack rank: the ten highest and lowest scores, as the package ranks them
    highest, lowest = portfolio.stack_rank(
        scores, store.read_indices(), accounts.astype({"account_id": str}), as_of
    )
    top, bottom = _table_with_header(parser.tables, "Account")[:2]
    plain = scored.sort_values(["score", "account_id"], ascending=[False, True])
    assert [row[2] for row in top[1:]] == [f"{s:.1f}" for s in plain["score"][:10]]
    assert [row[0] for row in top[1:]] == list(highest["name"])
    assert [row[0] for row in bottom[1:]] == list(lowest["name"])
    assert [row[4] for row in bottom[1:]] == list(lowest["largest_mover"].fillna("–"))

    # alerts of the month: one row per alerted account
    alerts = store.read_alerts()
    n_alerted = alerts.loc[alerts["as_of"] == as_of, "account_id"].nunique()
    alert_table = [t for t in parser.tables if t and "Alert" in t[0]]
    assert len(alert_table[0]) - 1 == min(n_alerted, 25)
    assert f"{n_alerted:,} accounts alerted" in html

    # sections, run facts, embedded figures and no code
    for text in [
        "Accounts by category, per CSM",
        "Score trend per CSM",
        "At-risk accounts",
        "Does the score track churn?",
        "Dropped input rows",
        str(as_of.date()),
    ]:
        assert text in html, text
    # donuts, trends and the survival curves of the validation's landmark
    assert len(re.findall(r"<img[^>]*src=\"data:image/png;base64,", html)) == 3
    validation = json.loads((page.parent / "validation_summary.json").read_text())
    assert f"<strong>{validation['concordance']:.2f}</strong>" in html
    assert 'href="validation.html"' in html
    assert "load_portfolio" not in html and "<script" not in html


def test_figure_image_embeds_png_with_alternative_text():
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4, 2))
    fig.subplots().set_title("Retention <by> month")
    image = reports.figure_image(fig, dpi=50)
    assert image.data.startswith(b"\x89PNG")
    assert image.width == 400 and image.alt == "Retention <by> month"
    assert reports.figure_image(Figure(), alt="x").alt == "x"


def test_report_facts_read_store_and_source(
    tmp_path, accounts, scores, indices, metrics
):
    from healthlab.store import Store

    source, store_path, version = hand_built_world(
        tmp_path, accounts, scores, indices, metrics
    )
    facts = reports.report_facts(store_path, source)
    assert facts == {
        "as_of": OCT,
        "definition_version": version,
        "data_period": ("2026-01-05", "2026-10-30"),
        "dropped_rows": {},
    }
    # the latest scoring run covering the date says what was dropped
    store = Store(store_path)
    for run_id, dropped in [("r1", {"sessions": 3}), ("r2", {"sessions": 7})]:
        details = {
            "definition_version": version,
            "as_of_dates": ["2026-09-30", "2026-10-31"],
            "dropped_rows": dropped,
        }
        store.record_run(run_id, "score", pd.Timestamp.now(tz="UTC"), details)
    assert reports.report_facts(store_path, source)["dropped_rows"] == {"sessions": 7}
    assert reports.report_facts(store_path, source, as_of=SEP)["as_of"] == SEP
