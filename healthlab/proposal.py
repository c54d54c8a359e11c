"""Proposed score definition: category thresholds and the definition file.

After the weights are fitted (:mod:`healthlab.calibration`), category
thresholds are proposed on the fitted score so that churn rates fall from
the least to the most healthy category, and the fitted weights and
thresholds are written into the current definition's YAML text, with a
readable diff to review before adopting it.

Advice: once a definition is adopted, leave it unchanged for some weeks so
that scores stay comparable and alerts are not caused by the definition.
"""

from __future__ import annotations

import difflib
import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd
import yaml

from healthlab.errors import ParameterError

__all__ = [
    "ProposedDefinition",
    "propose_definition",
    "propose_thresholds",
]


def _two_proportion_z(c1, n1, c2, n2) -> float:
    pooled = (c1 + c2) / (n1 + n2)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return float((c1 / n1 - c2 / n2) / se) if se > 0 else 0.0


def propose_thresholds(
    frame: pd.DataFrame,
    labels=("Weak", "Moderate", "Strong"),
    *,
    score: str = "score",
    outcome: str = "churned",
    step: float = 5.0,
    min_share: float = 0.1,
) -> pd.DataFrame:
    """Category thresholds with monotone, well separated churn rates.

    Parameters
    ----------
    frame : DataFrame
        Snapshot rows with a `score` and the binary `outcome`.
    labels : sequence of str
        Category labels from least to most healthy.
    step : float, default 5
        Grid spacing of candidate thresholds (between `step` and
        ``100 - step``).
    min_share : float, default 0.1
        Smallest share of rows a category may hold.

    Returns
    -------
    DataFrame
        One row per category (healthiest first): ``label``, ``lower``,
        ``upper``, ``rows``, ``churn_rate``, and ``z_vs_next`` (the
        two-proportion z statistic against the next less healthy category).
        ``attrs['separation']`` holds the smallest z.

    Notes
    -----
    Among threshold sets whose churn rates strictly fall from the least to
    the most healthy category and whose categories each hold at least
    `min_share` of the rows, the set maximising the smallest adjacent
    two-proportion statistic :math:`z = (p_a - p_b) / \\sqrt{\\bar p(1-\\bar
    p)(1/n_a + 1/n_b)}` is chosen.
    """
    data = frame.loc[frame[score].notna()]
    s, y = data[score].to_numpy(dtype=float), data[outcome].to_numpy(dtype=float)
    grid = np.arange(step, 100.0, step)
    # rows and churners below each grid point, so each candidate is O(1)
    cell = np.searchsorted(grid, s, side="right")
    n_cum = np.r_[0, np.cumsum(np.bincount(cell, minlength=len(grid) + 1))]
    c_cum = np.r_[0, np.cumsum(np.bincount(cell, y, minlength=len(grid) + 1))]
    best, best_z = None, -np.inf
    if len(labels) * min_share <= 1:
        for picks in itertools.combinations(range(1, len(grid) + 1), len(labels) - 1):
            edges = np.r_[0, picks, len(grid) + 1]
            n, c = np.diff(n_cum[edges]), np.diff(c_cum[edges])
            if n.min() < min_share * len(s) or n.min() == 0:
                continue
            rates = c / n
            if not np.all(np.diff(rates) < 0):
                continue
            z = min(
                _two_proportion_z(c[i], n[i], c[i + 1], n[i + 1])
                for i in range(len(labels) - 1)
            )
            if z > best_z:
                best, best_z = (grid[np.array(picks) - 1], n, c), z
    if best is None:
        raise ParameterError(
            f"No thresholds on a {step:g}-point grid give {len(labels)} "
            f"categories of at least {min_share:.0%} of {len(s)} rows with "
            "monotone churn rates; lower `min_share` or use fewer labels."
        )
    cuts, n, c = best
    lowers, uppers = np.r_[0.0, cuts], np.r_[cuts, 100.0]
    z_next = [np.nan] + [
        _two_proportion_z(c[i], n[i], c[i + 1], n[i + 1])
        for i in range(len(labels) - 1)
    ]
    out = (
        pd.DataFrame(
            {
                "label": list(labels),
                "lower": lowers,
                "upper": uppers,
                "rows": n,
                "churn_rate": c / n,
                "z_vs_next": z_next,
            }
        )
        .iloc[::-1]
        .reset_index(drop=True)
    )
    out.attrs["separation"] = float(best_z)
    return out


@dataclass
class ProposedDefinition:
    """A proposed score definition: its YAML text and a unified diff."""

    text: str
    diff: str

    def write(self, path) -> None:
        """Write the proposed definition YAML to `path`."""
        from pathlib import Path

        Path(path).write_text(self.text, encoding="utf-8")


def _replace_block(lines, key, render):
    # rewrite the indented lines under a top-level `key:` through `render`
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{key}:"))
    end = start + 1
    while end < len(lines) and (lines[end].startswith(" ") or not lines[end].strip()):
        end += 1
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    return lines[: start + 1] + render(lines[start + 1 : end]) + lines[end:]


def _round_preserving_sum(values) -> list[int]:
    # largest-remainder rounding: whole numbers with the rounded total
    values = np.asarray(values, dtype=float)
    floors = np.floor(values)
    short = int(round(values.sum() - floors.sum()))
    order = np.argsort(-(values - floors), kind="stable")
    floors[order[:short]] += 1
    return [int(v) for v in floors]


def propose_definition(
    text: str,
    weights: dict | None = None,
    thresholds: pd.DataFrame | None = None,
    version: str | None = None,
    *,
    name: str = "definition.yaml",
) -> ProposedDefinition:
    """Write fitted weights (and thresholds) into a definition's YAML text.

    Parameters
    ----------
    text : str
        The current definition file's text; comments and layout are kept.
    weights : dict, optional
        New weights, rounded to whole points.
    thresholds : DataFrame, optional
        Output of :func:`propose_thresholds`.
    version : str, optional
        New version; default: the current one with ``-calibrated``.
    name : str
        File name shown in the diff.

    Returns
    -------
    ProposedDefinition
        The new text (validated with :func:`healthlab.definition.parse_definition`)
        and a unified diff against `text`.
    """
    from healthlab.definition import parse_definition

    current = yaml.safe_load(text)
    lines = text.splitlines()
    version = version or f"{current['version']}-calibrated"
    lines = [
        f'version: "{version}"' if ln.startswith("version:") else ln for ln in lines
    ]
    if weights is not None:
        # keep the file's order of indices and whole points summing as before
        order = [k for k in current.get("weights", {}) if k in weights]
        order += [k for k in weights if k not in order]
        points = _round_preserving_sum([float(weights[k]) for k in order])

        def render_weights(block):
            out = [ln for ln in block if ln.strip().startswith("#")]
            return out + [f"  {k}: {p}" for k, p in zip(order, points, strict=True)]

        lines = _replace_block(lines, "weights", render_weights)
    if thresholds is not None:

        def render_categories(block):
            out = [ln for ln in block if ln.strip().startswith("#")]
            return out + [
                f"  - {{label: {r.label}, lower: {r.lower:g}, upper: {r.upper:g}}}"
                for r in thresholds.itertuples()
            ]

        lines = _replace_block(lines, "categories", render_categories)
    new = "\n".join(lines) + "\n"
    parse_definition(yaml.safe_load(new), source="(proposed)")
    diff = "".join(
        difflib.unified_diff(
            text.splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=f"current/{name}",
            tofile=f"proposed/{name}",
        )
    )
    return ProposedDefinition(new, diff)
