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
from pathlib import Path

import pandas as pd
from IPython.display import HTML, display

from healthlab import calibration as hc
from healthlab import proposal as hp
from healthlab import report_html, reports
from healthlab import validation as hv
from healthlab.definition import DEFAULT_DEFINITION_PATH
from healthlab.errors import ParameterError
from healthlab.reports import figure_image

# %% tags=["parameters"]
store_path = "healthlab.duckdb"
source_path = "datasets/default_world"
definition_version = None
definition_path = None
as_of_start = None
as_of_end = None
split = None
horizon_days = 90
shrinkage = 0.1
n_boot = 200
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
display(HTML(report_html.render_header("Calibrating the score's weights", **facts)))

# %% [markdown]
# Fits non-negative index weights summing to 100 that best predict churn
# within a horizon after each snapshot, pulled toward the current weights,
# with account-level bootstrap intervals. The fitted weights are then
# compared with the current and equal weights on later, out-of-time
# snapshots, and a proposed definition file is written with its diff.
#
# Adopt a new definition deliberately and then leave it unchanged for some
# weeks: every change moves scores and can fire alerts by itself.

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
wide = hv.pivot_indices(inputs.indices)
current = {k: v for k, v in inputs.weights.items() if k in wide.columns}
print(inputs.describe())
print("current weights:", current)

# %% [markdown]
# ## Fitted weights with bootstrap intervals
#
# The fit keeps each index's declared direction (higher is healthier); it
# only chooses how much each counts. Intervals resample whole accounts, so
# an account's overlapping snapshots move together.

# %%
frame = hv.build_horizon_frame(wide, inputs.churn, inputs.data_end, horizon_days)
calibrator = hc.WeightCalibrator(shrinkage=shrinkage, n_boot=n_boot).fit(frame, current)
print(
    f"{calibrator.n_rows_:,} snapshots of {calibrator.n_accounts_:,} accounts, "
    f"{calibrator.n_events_:,} churned within {horizon_days} days"
)
display(calibrator.intervals_.round(1))
display(figure_image(hv.plot_weights(calibrator.intervals_)))

# %% [markdown]
# ## Directions
#
# Indices whose association with churn contradicts their declared direction,
# alone or with the others held fixed. The fit never flips a direction;
# a contradiction is for a person to investigate.

# %%
directions = hc.check_directions(frame, list(current))
display(directions.round(4))

# %% [markdown]
# ## Out-of-time comparison
#
# Weights are fitted on snapshots whose whole horizon ends before the split,
# then current, fitted and equal weights are compared on the snapshots from
# the split onwards: time-dependent concordance, AUC and top-decile lift of
# churn within the horizon.

# %%
dates = sorted(wide["as_of"].unique())
split_at = pd.Timestamp(split) if split else pd.Timestamp(dates[len(dates) // 2])
comparison, _ = hc.compare_weights_out_of_time(
    wide,
    inputs.churn,
    inputs.data_end,
    split_at,
    current,
    horizon_days=horizon_days,
    calibrator=hc.WeightCalibrator(shrinkage=shrinkage, n_boot=0),
)
print(f"split at {split_at.date()}")
display(comparison.round(3))

# %% [markdown]
# ## Proposed category thresholds
#
# Thresholds on the fitted score whose churn rates fall monotonically from
# the least to the most healthy category and are as well separated as the
# data allow (largest smallest two-proportion z between neighbours).

# %%
frame["fitted_score"] = hc.compute_weighted_score(
    frame[list(current)], [calibrator.weights_[k] for k in current]
)
labels = [label for label, _, _ in reversed(inputs.categories)]
try:
    thresholds = hp.propose_thresholds(frame, labels, score="fitted_score")
    display(thresholds.round(3))
except ParameterError as exc:
    thresholds = None
    print(f"No thresholds proposed: {exc}")

# %% [markdown]
# ## Proposed definition
#
# The current definition file with the fitted weights (rounded) and the
# proposed thresholds; review the diff before adopting it.

# %%
path = Path(definition_path) if definition_path else DEFAULT_DEFINITION_PATH
proposal = hp.propose_definition(
    path.read_text(encoding="utf-8"),
    weights={**inputs.weights, **calibrator.weights_},
    thresholds=thresholds,
    name=path.name,
)
Path(output_dir).mkdir(parents=True, exist_ok=True)
proposal.write(Path(output_dir, "proposed_definition.yaml"))
print(proposal.diff)
