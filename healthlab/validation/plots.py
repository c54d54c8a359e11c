"""Figures of the validation and calibration notebooks (matplotlib/seaborn).

Each function returns a :class:`matplotlib.figure.Figure` built without
pyplot's global state, so notebooks show it once and scripts can save it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter

from healthlab.figures import category_colors

__all__ = [
    "plot_calibration",
    "plot_hazard_ratios",
    "plot_km",
    "plot_lift",
    "plot_weights",
]


def _figure(width=7.0, height=4.2):
    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.add_subplot()


def plot_km(km, title: str | None = None) -> Figure:
    """Kaplan-Meier curves by category with 95% bands, from a LandmarkKM.

    Categories (best first) take :func:`healthlab.figures.category_colors`,
    the colours of the portfolio report.
    """
    fig, ax = _figure()
    # the portfolio report's colour-blind-safe category colours
    colors = category_colors(km.order)
    for category in km.order:
        color = colors[category]
        curve = km.curves.loc[km.curves["category"] == category]
        n = int((km.accounts["category"] == category).sum())
        ax.step(
            curve["days"],
            curve["survival"],
            where="post",
            color=color,
            label=f"{category} (n={n})",
        )
        ax.fill_between(
            curve["days"],
            curve["lower"],
            curve["upper"],
            step="post",
            color=color,
            alpha=0.2,
        )
    p = km.logrank["p"]
    ax.set(
        xlabel="days after the landmark",
        ylabel="share of accounts retained",
        title=title
        or f"Survival by category at {km.landmark.date()} (log-rank p={p:.2g})",
    )
    ax.legend(loc="lower left")
    return fig


def plot_hazard_ratios(
    table: pd.DataFrame,
    ratio: str = "hazard_ratio",
    title: str = "Hazard ratio per 10 points (95% CI)",
) -> Figure:
    """Forest plot of ratios with intervals (``covariate``, ratio, lower, upper)."""
    rows = table.loc[table["covariate"] != "const"].reset_index(drop=True)
    fig, ax = _figure(height=0.5 * len(rows) + 1.5)
    y = np.arange(len(rows))
    ax.errorbar(
        rows[ratio],
        y,
        fmt="o",
        color="black",
        xerr=[rows[ratio] - rows["lower"], rows["upper"] - rows[ratio]],
    )
    ax.axvline(1.0, color="grey", linestyle="--")
    ax.set_yticks(y, rows["covariate"])
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FormatStrFormatter("%.2f"))
    ax.xaxis.set_minor_formatter(FormatStrFormatter("%.2f"))
    ax.set(xlabel=ratio.replace("_", " ") + " (log scale)", title=title)
    return fig


def plot_calibration(reliability: pd.DataFrame) -> Figure:
    """Observed versus predicted churn per bin, with Wilson intervals."""
    fig, ax = _figure(5.0, 5.0)
    top = float(
        max(reliability["observed_upper"].max(), reliability["predicted"].max())
    )
    ax.plot([0, top], [0, top], color="grey", linestyle="--", label="perfect")
    ax.errorbar(
        reliability["predicted"],
        reliability["observed"],
        fmt="o-",
        yerr=[
            reliability["observed"] - reliability["observed_lower"],
            reliability["observed_upper"] - reliability["observed"],
        ],
        label="model",
    )
    ax.set(
        xlabel="predicted churn probability",
        ylabel="observed churn share",
        title="Calibration (reliability)",
    )
    ax.legend()
    return fig


def plot_lift(lift_table: pd.DataFrame) -> Figure:
    """Churn lift per score decile (decile 1 = lowest scores)."""
    fig, ax = _figure()
    sns.barplot(data=lift_table, x="decile", y="lift", color="tab:red", ax=ax)
    ax.axhline(1.0, color="grey", linestyle="--")
    ax.set(
        xlabel="score decile (1 = lowest scores)",
        ylabel="churn rate / overall rate",
        title="Lift by score decile",
    )
    return fig


def plot_weights(intervals: pd.DataFrame) -> Figure:
    """Current versus fitted weights, the fitted ones with bootstrap intervals."""
    fig, ax = _figure()
    x = np.arange(len(intervals))
    ax.bar(x - 0.2, intervals["current"], width=0.4, label="current", color="tab:grey")
    ax.bar(
        x + 0.2,
        intervals["fitted"],
        width=0.4,
        label="fitted",
        color="tab:blue",
        yerr=[
            intervals["fitted"] - intervals["lower"],
            intervals["upper"] - intervals["fitted"],
        ],
        capsize=4,
    )
    ax.set_xticks(x, intervals["index"])
    ax.set(ylabel="weight (points of 100)", title="Current and fitted weights")
    ax.legend()
    return fig
