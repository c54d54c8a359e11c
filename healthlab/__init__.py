"""healthlab: Customer Health Scores for subscription accounts.

Define a score from product events, benchmark each index against peer
accounts, validate it against churn with survival analysis and regression,
calibrate its weights and publish self-contained HTML reports.
"""

from healthlab.errors import HealthlabError, HealthlabWarning

__version__ = "0.1.0"

__all__ = ["HealthlabError", "HealthlabWarning", "__version__"]
