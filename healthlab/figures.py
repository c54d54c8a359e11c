"""Figures of the portfolio report, in one colour-blind-safe palette.

Category colours come from Paul Tol's high-contrast scheme (blue, ochre,
rose), which stays distinct under the common colour-vision deficiencies and
in greyscale because the three also differ in lightness. The same colours
serve every figure and every badge of the HTML tables
(:data:`CATEGORY_COLORS`). Lines of different CSMs use the Okabe-Ito palette
with alternating line styles.

Every function returns a :class:`matplotlib.figure.Figure` sized for a
laptop screen and leaves pyplot's state alone; names drawn as text are
protected from matplotlib's mathtext (a ``$`` in a CSM name stays a ``$``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.dates as mdates
import pandas as pd
from matplotlib.figure import Figure

__all__ = [
    "CATEGORY_COLORS",
    "UNSCORED_COLOR",
    "UNSCORED_LABEL",
    "LINE_COLORS",
    "category_colors",
    "plot_category_donuts",
    "plot_csm_trend",
    "plot_survival_by_category",
]

#: Colour of each default category, best first.
CATEGORY_COLORS = {"Strong": "#004488", "Moderate": "#DDAA33", "Weak": "#BB5566"}

#: Colour and label of accounts without a score (coverage too low).
UNSCORED_COLOR = "#BBBBBB"
UNSCORED_LABEL = "Unavailable"

#: Okabe-Ito colours for one line per CSM (black last).
LINE_COLORS = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#000000",
)

_LINE_STYLES = ("-", "--", ":", "-.")
_TOL_EXTRA = ("#6699CC", "#997700", "#EE99AA", "#004488", "#EECC66")


def category_colors(labels: Sequence[str]) -> dict[str, str]:
    """Map category labels, best first, to colours.

    The default labels keep their colours of :data:`CATEGORY_COLORS`; other
    labels take the high-contrast colours in order, and the worst label of
    a custom set of three or more is always rose.

    Examples
    --------
    >>> category_colors(["Strong", "Moderate", "Weak"])["Weak"]
    '#BB5566'
    >>> category_colors(["Green", "Red"])
    {'Green': '#004488', 'Red': '#BB5566'}
    """
    labels = list(labels)
    if all(label in CATEGORY_COLORS for label in labels):
        return {label: CATEGORY_COLORS[label] for label in labels}

    base = list(CATEGORY_COLORS.values())
    if len(labels) == 2:
        picks = [base[0], base[2]]
    elif len(labels) <= 3:
        picks = base[: len(labels)]
    else:
        middle = (base[1:2] + list(_TOL_EXTRA)) * len(labels)
        picks = [base[0], *middle[: len(labels) - 2], base[2]]
    return dict(zip(labels, picks, strict=True))


def plot_category_donuts(
    counts: pd.DataFrame,
    categories: Sequence[str],
    *,
    ncols: int = 6,
    title: str | None = None,
) -> Figure:
    """Small multiples: one donut of accounts by category for each CSM.

    Parameters
    ----------
    counts : DataFrame
        Columns ``csm``, ``category``, ``accounts`` (as from
        :func:`healthlab.portfolio.category_counts_by_csm`). Categories not
        in `categories` (e.g. accounts without a score) are drawn grey.
    categories : sequence of str
        Category labels, best first; fixes the order and colours of slices.
    ncols : int, default 6
        Donuts per row.
    title : str, optional
        Figure title.

    Returns
    -------
    Figure
    """
    colors = category_colors(categories)
    counts = counts.assign(
        category=counts["category"].astype(object).fillna(UNSCORED_LABEL).astype(str)
    )
    csms = sorted(counts["csm"].astype(str).unique())
    ncols = max(1, min(ncols, len(csms)))
    nrows = max(1, math.ceil(len(csms) / ncols))

    fig = Figure(figsize=(1.85 * ncols, 1.95 * nrows + 0.4), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    order = list(categories)
    for ax, csm in zip(axes, csms, strict=False):
        # one slice per category, in the definition's order, then the rest
        book = counts[counts["csm"].astype(str) == csm]
        sizes = book.groupby("category")["accounts"].sum()
        labels = order + sorted(c for c in sizes.index if c not in order)
        values = [float(sizes.get(label, 0)) for label in labels]
        shown = [(lab, v) for lab, v in zip(labels, values, strict=True) if v > 0]
        ax.pie(
            [v for _, v in shown],
            colors=[colors.get(lab, UNSCORED_COLOR) for lab, _ in shown],
            startangle=90,
            counterclock=False,
            wedgeprops={"width": 0.38, "edgecolor": "white", "linewidth": 1.5},
        )
        total = int(sum(values))
        ax.text(0, 0, f"{total}", ha="center", va="center", fontsize=12)
        ax.set_title(_plain_text(csm), fontsize=9.5)
        ax.set_aspect("equal")
    for ax in axes[len(csms) :]:
        ax.set_axis_off()

    handles = [
        _patch(colors.get(label, UNSCORED_COLOR), label)
        for label in order + _extra_labels(counts, order)
    ]
    fig.legend(
        handles=handles,
        loc="outside lower center",
        ncols=len(handles),
        frameon=False,
        fontsize=9,
    )
    if title:
        fig.suptitle(_plain_text(title), fontsize=13)
    return fig


def plot_csm_trend(
    trend: pd.DataFrame,
    *,
    categories: Sequence[tuple[str, float, float]] | None = None,
    ncols: int = 4,
    title: str | None = None,
    changes: pd.DataFrame | None = None,
) -> Figure:
    """Month-on-month mean score of each CSM's book, one small panel per CSM.

    Each panel draws the CSM's line over the portfolio's mean (grey,
    dashed), so a book that drifts away from the rest stands out. The score
    axis spans the scores drawn, rounded out to 10 points with 10 points of
    margin, so month-on-month moves are visible.

    Parameters
    ----------
    trend : DataFrame
        Columns ``csm``, ``as_of``, ``mean_score`` (as from
        :func:`healthlab.portfolio.csm_score_trend`).
    categories : sequence of (label, lower, upper), optional
        When given, the category bands are shaded lightly behind the lines.
    ncols : int, default 4
        Panels per row.
    title : str, optional
        Figure title.
    changes : DataFrame, optional
        Dates where the definition in use changed: columns ``as_of``,
        ``previous_version``, ``definition_version`` (as from
        :func:`healthlab.reports.definition_changes`). Each is drawn as a
        dotted vertical line, labelled with the new version in the first
        panel.

    Returns
    -------
    Figure

    Notes
    -----
    The portfolio line is the mean of the CSMs' means at each as-of date
    (every book weighs the same), not the mean over all accounts.
    """
    frame = trend.assign(
        as_of=pd.to_datetime(trend["as_of"]), csm=trend["csm"].astype(str)
    )
    overall = frame.groupby("as_of")["mean_score"].mean()
    csms = sorted(frame["csm"].unique())
    ncols = max(1, min(ncols, len(csms)))
    nrows = max(1, math.ceil(len(csms) / ncols))

    fig = Figure(figsize=(2.6 * ncols, 1.9 * nrows + 0.5), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True)
    colors = category_colors([c[0] for c in categories]) if categories else {}
    locator = mdates.AutoDateLocator(minticks=2, maxticks=4)

    # zoom on the scores drawn (to the nearest 10 points, 10 points of margin)
    # so month-on-month moves show; the category bands keep the scale honest
    values = pd.concat([frame["mean_score"], overall]).dropna()
    low = max(0.0, 10 * math.floor((values.min() - 10) / 10)) if len(values) else 0
    high = min(100.0, 10 * math.ceil((values.max() + 10) / 10)) if len(values) else 100
    change_rows = list(changes.itertuples()) if changes is not None else []
    middle = frame["as_of"].min() + (frame["as_of"].max() - frame["as_of"].min()) / 2
    for i, (ax, csm) in enumerate(zip(axes.ravel(), csms, strict=False)):
        # category bands, the portfolio for reference, then this book
        for label, lower, upper in categories or ():
            ax.axhspan(max(lower, 0), min(upper, 100), color=colors[label], alpha=0.1)
        ax.plot(
            overall.index,
            overall.values,
            color="#7b8794",
            linestyle="--",
            linewidth=1.0,
            label="All CSMs",
        )
        book = frame[frame["csm"] == csm].sort_values("as_of")
        ax.plot(
            book["as_of"],
            book["mean_score"],
            color=LINE_COLORS[0],
            marker="o",
            markersize=2.5,
            linewidth=1.8,
            label=_plain_text(csm),
        )
        for j, change in enumerate(change_rows):
            when = pd.Timestamp(change.as_of)
            ax.axvline(when, color="#1f2933", linestyle=":", linewidth=1.2)
            if i == 0:
                late = when > middle  # label left of a line in the later half
                ax.annotate(
                    _plain_text(change.definition_version),
                    (when, 1.0),
                    xycoords=("data", "axes fraction"),
                    xytext=(-2 if late else 2, -2 - 9 * j),
                    textcoords="offset points",
                    fontsize=7,
                    va="top",
                    ha="right" if late else "left",
                )
        ax.set_title(_plain_text(csm), fontsize=10, loc="left")
        ax.set_ylim(low, high)
        ax.tick_params(labelsize=8)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        ax.spines[["top", "right"]].set_visible(False)
        if i % ncols == 0:
            ax.set_ylabel("Mean score", fontsize=9)
    for ax in axes.ravel()[len(csms) :]:
        ax.set_axis_off()

    handles = [
        _line(LINE_COLORS[0], "-", "This CSM's book"),
        _line("#7b8794", "--", "All CSMs (mean of books)"),
    ]
    if changes is not None and len(changes):
        handles.append(_line("#1f2933", ":", "Definition changed"))
    fig.legend(
        handles=handles,
        loc="outside lower center",
        ncols=len(handles),
        frameon=False,
        fontsize=9,
    )
    if title:
        fig.suptitle(_plain_text(title), fontsize=12)
    return fig


def plot_survival_by_category(
    curves: pd.DataFrame,
    categories: Sequence[str],
    *,
    counts: dict[str, int] | None = None,
    title: str | None = None,
) -> Figure:
    """Kaplan-Meier curves of account retention, one per category.

    Parameters
    ----------
    curves : DataFrame
        ``category``, ``days``, ``survival`` and optionally ``lower``,
        ``upper`` (95% band), as in
        :attr:`healthlab.validation.LandmarkKM.curves`.
    categories : sequence of str
        Category labels, best first (colours and legend order).
    counts : dict, optional
        Accounts per category, shown in the legend.
    title : str, optional
        Axes title.

    Returns
    -------
    Figure
    """
    colors = category_colors(list(categories))
    fig = Figure(figsize=(7.5, 3.6), layout="constrained")
    ax = fig.subplots()
    for label in categories:
        curve = curves[curves["category"] == label].sort_values("days")
        if curve.empty:
            continue
        n = f" ({counts[label]:,} accounts)" if counts and label in counts else ""
        ax.step(
            curve["days"],
            curve["survival"],
            where="post",
            color=colors[label],
            linewidth=2,
            label=_plain_text(f"{label}{n}"),
        )
        if {"lower", "upper"} <= set(curve.columns):
            ax.fill_between(
                curve["days"],
                curve["lower"],
                curve["upper"],
                step="post",
                color=colors[label],
                alpha=0.15,
                linewidth=0,
            )
    ax.set_xlabel("Days after the snapshot")
    ax.set_ylabel("Share of accounts retained")
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.grid(axis="y", color="#e4e7eb", linewidth=0.8)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(loc="lower left", frameon=False)
    if title:
        ax.set_title(_plain_text(title), fontsize=11, loc="left")
    return fig


def _plain_text(text: object) -> str:
    # matplotlib reads $...$ as mathtext; a name must be drawn as written
    return str(text).replace("$", r"\$")


def _line(color: str, style: str, label: str):
    from matplotlib.lines import Line2D

    return Line2D([], [], color=color, linestyle=style, label=label)


def _patch(color: str, label: str):
    from matplotlib.patches import Patch

    return Patch(facecolor=color, edgecolor="white", label=_plain_text(label))


def _extra_labels(counts: pd.DataFrame, order: Sequence[str]) -> list[str]:
    present = counts.loc[counts["accounts"] > 0, "category"].dropna().astype(str)
    return sorted(set(present) - set(order))
