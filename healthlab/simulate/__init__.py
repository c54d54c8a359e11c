"""A synthetic world of SaaS accounts whose true churn mechanism is known.

:func:`simulate_world` writes every contract table (DESIGN section 2) as
partitioned Parquet, with ``truth.json`` recording the generator's parameters,
its seed and the true effect of each latent signal on the churn hazard, and
``latent/`` holding the latent signals per account and month.
"""

from healthlab.simulate.params import SIGNALS, TRUE_COEFFICIENTS, WorldParams
from healthlab.simulate.world import TRUTH_FILE, WorldSummary, simulate_world

__all__ = [
    "simulate_world",
    "WorldSummary",
    "WorldParams",
    "SIGNALS",
    "TRUE_COEFFICIENTS",
    "TRUTH_FILE",
]
