# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %%
import json
from pathlib import Path

from IPython.display import HTML, display

from healthlab import report_html, reports
from healthlab import validation as hv
from healthlab.reports import figure_image

# %% tags=["parameters"]
store_path = "healthlab.duckdb"
source_path = "datasets/default_world"
definition_version = None
as_of_start = None
as_of_end = None
landmark = None
horizon_days = 90
data_end = None
output_dir = "."
engine = "duckdb"

# %%
facts = reports.report_facts(
    store_path,
    source_path,
    as_of=as_of_end,
    definition_version=definition_version,
    engine=engine,
)
display(HTML(report_html.render_header("Does the health score track churn?", **facts)))

# %% [markdown]
# This notebook validates a stored score history against the churn that
# followed it. Every test honours the point-in-time rule: the score of a
# snapshot taken at instant *t* only explains what happens after *t*, and a
# churn horizon that reaches past the end of the data is left out rather than
# counted as survival.

# %%
inputs = hv.load_validation_inputs(
    store_path,
    source_path,
    definition_version=definition_version,
    as_of_start=as_of_start,
    as_of_end=as_of_end,
    data_end=data_end,
    engine=engine,
)
scores, churn, end = inputs.scores, inputs.churn, inputs.data_end
print(inputs.describe())

# %% [markdown]
# ## Survival by category from a landmark snapshot
#
# Accounts are grouped by their category at the landmark and followed until
# they churn or the data end. Curves should be ordered Strong above Moderate
# above Weak; shaded bands are 95% pointwise intervals. The log-rank test
# asks whether the curves differ at all, pairwise tests which pairs do.

# %%
km = hv.fit_landmark_km(scores, churn, end, landmark)
display(figure_image(hv.plot_km(km)))
display(km.summary.round(3))
print(
    f"log-rank across categories: chi2={km.logrank['statistic']:.1f}, "
    f"df={km.logrank['df']}, p={km.logrank['p']:.2g}; ordered: {km.ordered}"
)
display(km.pairwise.round(4))

# %% [markdown]
# The same comparison repeated from several landmarks (every third as-of
# date with enough follow-up), over a common horizon: does the separation
# hold across the history?

# %%
dates = sorted(scores["as_of"].unique())
landmarks = hv.summarise_landmarks(scores, churn, end, dates[::3], horizon_days=180)
display(
    landmarks.pivot(index="landmark", columns="category", values="survival")[
        km.order
    ].round(3)
)

# %% [markdown]
# ## Cox model with the score as a time-varying covariate
#
# Each account contributes one interval per snapshot, from that snapshot to
# the next, carrying the score of the snapshot. The hazard ratio is per 10
# score points: below 1 means healthier accounts churn less. Concordance is
# the share of comparable pairs (a churner and an account still at risk at
# that moment) ordered correctly by their current score.

# %%
cox = hv.fit_score_cox(scores, churn, end)
display(cox.hazard_ratios.round(4))
print(
    f"concordance {cox.concordance:.3f} over {cox.n_accounts:,} accounts, "
    f"{cox.n_intervals:,} intervals, {cox.n_events:,} churns"
)

# %% [markdown]
# Proportional hazards: a static Cox model of the landmark score, with the
# Grambsch-Therneau test of its scaled Schoenfeld residuals. A small p-value
# says the score's effect changes with time since the landmark (a stale
# score predicts less), which is expected and why the time-varying model
# above is the headline.

# %%
ph = hv.check_proportional_hazards(scores, churn, end, km.landmark)
display(ph.round(4))
print(
    f"static hazard ratio per 10 points {ph.attrs['hazard_ratio']:.3f}, "
    f"concordance {ph.attrs['concordance']:.3f}"
)

# %% [markdown]
# ## Cox model with the indices as covariates
#
# Hazard ratios per 10 index points, all indices together. Correlated
# indices share their effect, so one can look weaker here than alone.
# Unavailable indices are set to 50 (the peer median).

# %%
index_cox = hv.fit_index_cox(inputs.indices, churn, end, penalizer=0.01)
display(figure_image(hv.plot_hazard_ratios(index_cox.hazard_ratios)))
display(index_cox.hazard_ratios.round(4))
for note in index_cox.notes:
    print(note)

# %% [markdown]
# ## Churn within the horizon after each snapshot
#
# Logistic regression of churn within `horizon_days` after each snapshot
# on the score, with standard errors clustered by account (one account's
# overlapping snapshots are not independent). AUC and top-decile lift
# measure how well the score ranks accounts; the calibration plot and Brier
# score how well the fitted probabilities match observed churn.

# %%
logit = hv.fit_horizon_logit(scores, churn, end, horizon_days=horizon_days)
display(logit.odds_ratios.round(4))
print(
    f"{logit.n_rows:,} snapshots of {logit.n_accounts:,} accounts, "
    f"{logit.n_events:,} churned within {horizon_days} days; "
    f"{logit.incomplete_horizon:,} snapshots left out (horizon past the data end)"
)
print(f"AUC {logit.auc:.3f}, top-decile lift {logit.lift:.2f}, Brier {logit.brier:.4f}")
display(figure_image(hv.plot_calibration(logit.reliability)))
display(figure_image(hv.plot_lift(logit.lift_table)))

# %% [markdown]
# ## Accounts that surprise
#
# High scores that churned anyway and low scores that stayed for the whole
# horizon. Read them: they show what the score misses.

# %%
strong, weak = inputs.categories[0], inputs.categories[-1]
churned_high, survived_low = hv.find_surprising_accounts(
    scores,
    churn,
    end,
    horizon_days=horizon_days,
    high=strong[1],
    low=weak[2],
    accounts=inputs.accounts,
)
display(churned_high)
display(survived_low)

# %%
summary = {
    "definition_version": inputs.definition_version,
    "landmark": str(km.landmark.date()),
    "logrank_p": km.logrank["p"],
    "km_ordered": km.ordered,
    "hazard_ratio_per_10": float(cox.hazard_ratios["hazard_ratio"].iloc[0]),
    "concordance": cox.concordance,
    "auc": logit.auc,
    "lift_top_decile": logit.lift,
    "brier": logit.brier,
    "horizon_days": horizon_days,
}
Path(output_dir).mkdir(parents=True, exist_ok=True)
Path(output_dir, "validation_summary.json").write_text(json.dumps(summary, indent=2))
print(json.dumps(summary, indent=2))
