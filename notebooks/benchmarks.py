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
source_path = "datasets/default"
store_path = "healthlab.duckdb"
as_of = None
definition_path = None
peer_keys = None
min_group_size = None
psi_threshold = 0.2
ks_threshold = 0.1
engine = "duckdb"
version = None
source_description = None

# %% tags=["remove-cell"]
import json

import pandas as pd
from IPython.display import HTML, display

from healthlab import benchmark_refresh, drift, report_html, reports
from healthlab.benchmarks import format_peer_level
from healthlab.store import Store

refresh = benchmark_refresh.refresh_benchmark_version(
    source_path,
    store_path=store_path,
    as_of=as_of,
    definition=definition_path,
    peer_keys=peer_keys,
    min_group_size=min_group_size,
    engine=engine,
    version=version,
)
store = Store(store_path)
previous = store.read_benchmarks(refresh.previous) if refresh.previous else None
levels = refresh.definition.peer_groups.levels

# %%
display(
    HTML(
        report_html.render_header(
            "Peer benchmarks",
            as_of=refresh.as_of_dates[-1],
            definition_version=refresh.definition.version,
            data_period=refresh.data_period,
            dropped_rows=None,
            source_description=source_description or refresh.location,
        )
    )
)
facts = pd.DataFrame(
    {
        "what": [
            "Benchmark version",
            "Previous version",
            "Peer levels (fallback order)",
            "Minimum group size",
            "Content hash (SHA-256)",
        ],
        "value": [
            refresh.version + (" (reused: same content)" if refresh.reused else ""),
            refresh.previous or "none (first version)",
            " → ".join(format_peer_level(level) for level in levels),
            f"{refresh.definition.min_group_size:,}",
            refresh.content_hash[:16],
        ],
    }
)
display(HTML(report_html.render_table(facts, labels={"what": "", "value": ""})))

# %% [markdown]
# ## Shifts above the thresholds
#
# Peer groups whose metric distribution moved against the previous version
# by more than the thresholds: population stability index (PSI, decile bins
# of the previous version) or Kolmogorov-Smirnov statistic (KS, the largest
# gap between the two distribution functions). *KS noise* is the KS two
# samples of these sizes from one distribution exceed with 5% chance: a
# shift below it may be sampling noise.

# %%
shifts = None
if previous is not None:
    shifts = drift.compare_benchmarks(previous, refresh.benchmarks)
    flagged = drift.flag_shifts(
        shifts, psi_threshold=psi_threshold, ks_threshold=ks_threshold
    )
shift_labels = {
    "index": "Index",
    "metric": "Metric",
    "peer_level": "Peer level",
    "peer_group": "Peer group",
    "previous_members": "Members before",
    "current_members": "Members now",
    "psi": "PSI",
    "ks": "KS",
    "ks_noise": "KS noise",
    "reason": "Above threshold",
}
shift_formats = {
    "previous_members": "{:,.0f}",
    "current_members": "{:,.0f}",
    "psi": "{:.3f}",
    "ks": "{:.3f}",
    "ks_noise": "{:.3f}",
}
display(HTML(f"<p>Thresholds: PSI {psi_threshold:g}, KS {ks_threshold:g}.</p>"))
if shifts is None:
    display(HTML("<p>No previous version to compare with.</p>"))
else:
    display(
        HTML(
            report_html.render_table(
                flagged,
                labels=shift_labels,
                formats=shift_formats,
                empty="No shift above the thresholds.",
            )
        )
    )

# %% [markdown]
# ## Peer groups and their fallback
#
# For each index and metric: how many of the most specific peer groups (and
# their accounts) were served by their own group or had to fall back to a
# coarser level because fewer members than the minimum had a value.

# %%
fallbacks = benchmark_refresh.peer_group_fallbacks(
    refresh.benchmarks, refresh.accounts, levels
)
summary = benchmark_refresh.summarise_fallbacks(fallbacks)
display(
    HTML(
        report_html.render_table(summary, labels={"index": "Index", "metric": "Metric"})
    )
)

# %% [markdown]
# Stored peer groups with their member counts (members with a value).

# %%
current = refresh.benchmarks
groups = current[current["quantile"] == 0][
    ["index", "metric", "peer_level", "peer_group", "member_count", "member_mean"]
]
display(
    HTML(
        report_html.render_table(
            groups,
            labels=shift_labels | {"member_count": "Members", "member_mean": "Mean"},
            formats={"member_count": "{:,}", "member_mean": "{:.3g}"},
        )
    )
)

# %% [markdown]
# ## Quantile curves
#
# Value of each metric at each percentile: thin lines are the stored peer
# groups, the bold line the broadest one, dashed the same group in the
# previous version.

# %%
for index in sorted(current["index"].unique()):
    fig = drift.plot_quantile_curves(current, previous, index=index)
    display(reports.figure_image(fig, dpi=100))

# %% [markdown]
# ## Shift of every peer group
#
# PSI and KS of each metric and peer group against the previous version;
# empty where the group exists in one version only.

# %%
if shifts is None:
    display(HTML("<p>No previous version to compare with.</p>"))
else:
    display(
        HTML(
            report_html.render_table(shifts, labels=shift_labels, formats=shift_formats)
        )
    )

# %% tags=["remove-cell"]
# what the run did, published beside the report for the command line
summary_json = {
    "version": refresh.version,
    "reused": refresh.reused,
    "previous": refresh.previous,
    "as_of": [str(d.date()) for d in refresh.as_of_dates],
    "content_hash": refresh.content_hash,
    "shifts_above_thresholds": 0 if shifts is None else len(flagged),
}
with open("benchmarks.json", "w", encoding="utf-8") as handle:
    json.dump(summary_json, handle, indent=2)
