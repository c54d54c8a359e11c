"""Wide index history with churn from known latent effects, for calibration tests.

Shared by ``test_calibration.py`` (weight fitting) and ``test_proposal.py``
(thresholds on the fitted score).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

DAY = pd.Timedelta(days=1)
BETAS = {"i0": -0.8, "i1": -0.5, "i2": -0.2, "i3": 0.0}


def simulate_wide(n=1000, months=15, betas=BETAS, base=0.03, seed=17):
    """Wide index history (0-100) with churn from known latent effects."""
    rng = np.random.default_rng(seed)
    names = list(betas)
    beta = np.array(list(betas.values()))
    labels = pd.date_range("2025-01-31", periods=months, freq="ME")
    end = labels[-1] + DAY
    z = rng.normal(size=(n, len(names)))
    churned_at = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    parts = []
    for label in labels:
        z = 0.8 * z + 0.6 * rng.normal(size=z.shape)
        alive = np.isnat(churned_at)
        part = pd.DataFrame(100 * norm.cdf(z[alive]), columns=names)
        part.insert(0, "as_of", label)
        part.insert(0, "account_id", [f"a{a:04d}" for a in np.flatnonzero(alive)])
        part["true_risk"] = z[alive] @ beta
        parts.append(part)
        wait = rng.exponential(30.4 / (base * np.exp(z @ beta)))
        new = alive & (wait < 30.4)
        when = label + DAY + pd.to_timedelta(wait[new], unit="D")
        churned_at[new] = when.to_numpy()
    wide = pd.concat(parts, ignore_index=True)
    churn = pd.DataFrame(
        {"account_id": [f"a{a:04d}" for a in range(n)], "churned_at": churned_at}
    ).dropna()
    return wide, churn.loc[churn["churned_at"] < end], end
