# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% tags=["parameters"]
store_path = "healthlab.duckdb"
source_path = "datasets/default"
as_of = None
definition_version = None
source_description = None
validation_report = None
validation_summary = {}
dropped_rows = None
engine = "duckdb"

# %% tags=["remove-cell"]
from IPython.display import HTML, display

from healthlab import figures, portfolio, report_html, reports

data = reports.load_portfolio(
    store_path,
    source_path,
    as_of=as_of,
    definition_version=definition_version,
    engine=engine,
)
labels = [label for label, _, _ in data.categories]

# %%
display(
    HTML(
        report_html.render_header(
            "Portfolio health",
            as_of=data.as_of,
            definition_version=data.definition_version,
            data_period=data.data_period,
            dropped_rows=data.dropped_rows if dropped_rows is None else dropped_rows,
            source_description=source_description,
        )
    )
)
headline = portfolio.portfolio_headline(data.scores, data.as_of)
display(HTML(report_html.render_headline(headline, data.categories)))

# %% [markdown]
# ## Accounts by category, per CSM
#
# Each ring is one CSM's book of accounts at the as-of date; the number in
# the middle is the count of accounts.

# %%
counts = portfolio.category_counts_by_csm(data.scores, data.accounts, data.as_of)
fig = figures.plot_category_donuts(counts, labels)
display(reports.figure_image(fig, alt="Accounts by category for each CSM"))

# %% [markdown]
# ## Highest and lowest accounts
#
# The largest mover is the index whose weighted contribution changed most
# since the previous as-of date.

# %%
highest, lowest = portfolio.stack_rank(
    data.scores, data.indices, data.accounts, data.as_of, n=10
)
rank_columns = {
    "name": "Account",
    "csm": "CSM",
    "score": "Score",
    "category": "Category",
    "largest_mover": "Largest mover",
    "mover_change": "Its change (points)",
}
rank_formats = {"score": "{:.1f}", "mover_change": "{:+.1f}"}
display(HTML("<h3>Highest scores</h3>"))
display(
    HTML(
        report_html.render_table(
            highest[list(rank_columns)],
            labels=rank_columns,
            formats=rank_formats,
            categories=labels,
        )
    )
)
display(HTML("<h3>Lowest scores</h3>"))
display(
    HTML(
        report_html.render_table(
            lowest[list(rank_columns)],
            labels=rank_columns,
            formats=rank_formats,
            categories=labels,
        )
    )
)

# %% [markdown]
# ## Score trend per CSM
#
# Mean health score of each CSM's book at each month end; shaded bands are
# the categories. Dotted vertical lines mark the dates where the score
# definition in use changed.

# %%
trend = portfolio.csm_score_trend(data.scores, data.accounts)
fig = figures.plot_csm_trend(
    trend, categories=data.categories, changes=data.definition_changes
)
display(reports.figure_image(fig, alt="Mean health score per CSM, month by month"))
display(HTML(report_html.render_definition_changes(data.definition_changes)))

# %% [markdown]
# ## CSM leaderboard
#
# Books ordered by mean score; change is against the previous as-of date.

# %%
board = portfolio.csm_leaderboard(
    data.scores, data.accounts, data.as_of, alerts=data.alerts
)
display(
    HTML(
        report_html.render_table(
            board,
            labels={
                "csm": "CSM",
                "accounts": "Accounts",
                "mean_score": "Mean score",
                "change": "Change",
                "share_strong": f"Share {labels[0]}",
                "share_weak": f"Share {labels[-1]}",
                "alerts": "Alerts",
            },
            formats={
                "mean_score": "{:.1f}",
                "change": "{:+.1f}",
                "share_strong": "{:.0%}",
                "share_weak": "{:.0%}",
                "accounts": "{:,}",
                "alerts": "{:,}",
            },
        )
    )
)

# %% [markdown]
# ## Alerts of the period
#
# An alert fires when an account changes category or its score falls by more
# than the definition's threshold since the previous as-of date.

# %%
display(HTML(report_html.render_alerts(data.alerts, data.accounts, data.as_of, labels)))

# %% [markdown]
# ## At-risk accounts
#
# The lowest-scoring accounts of the weakest category. For each index: its
# 0-100 value, its weight, the points it contributes to the score, where the
# account's metrics stand among its peers (percentile, 100 = best) and the
# peer group the benchmark used.

# %%
at_risk = reports.at_risk_accounts(
    data.scores, data.accounts, data.as_of, data.categories
)
display(
    HTML(
        report_html.render_drilldown(
            at_risk, data.indices, data.metrics, data.as_of, labels
        )
    )
)

# %% [markdown]
# ## Does the score track churn?
#
# From the validation report of this run: how well the score ranks accounts
# by churn risk, and how many accounts of each category were still customers
# after a snapshot, month after month.

# %%
display(HTML(report_html.render_validation(validation_report, validation_summary)))
if validation_summary:
    km = reports.load_validation_km(
        store_path,
        source_path,
        definition_version=data.definition_version,
        landmark=validation_summary.get("landmark"),
        engine=engine,
    )
    fig = figures.plot_survival_by_category(
        km.curves,
        labels,
        counts=km.accounts["category"].value_counts().to_dict(),
        title=f"Accounts retained after the {km.landmark.date()} snapshot",
    )
    display(reports.figure_image(fig))
