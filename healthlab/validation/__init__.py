"""Validation of the health score against churn (DESIGN section 8).

Survival analysis (landmark Kaplan-Meier, Cox models with time-varying
covariates), regression of churn within a horizon (logistic with
account-clustered errors, AUC, lift, calibration) and the accounts that
surprise. Every function takes pandas frames and the end of the data, and
honours the point-in-time rule: the score at a snapshot, the outcome after.
"""

from healthlab.validation.frames import (
    build_horizon_frame,
    build_intervals,
    pivot_indices,
    prepare_churn,
    snapshot_instants,
)
from healthlab.validation.inputs import ValidationInputs, load_validation_inputs
from healthlab.validation.landmark import (
    LandmarkKM,
    fit_landmark_km,
    order_categories,
    summarise_landmarks,
)
from healthlab.validation.plots import (
    plot_calibration,
    plot_hazard_ratios,
    plot_km,
    plot_lift,
    plot_weights,
)
from healthlab.validation.regression import (
    HorizonLogit,
    compute_auc,
    compute_brier,
    compute_lift,
    find_surprising_accounts,
    fit_horizon_logit,
    tabulate_lift,
    tabulate_reliability,
)
from healthlab.validation.survival import (
    CoxResult,
    check_proportional_hazards,
    compute_concordance,
    fit_index_cox,
    fit_score_cox,
)

__all__ = [
    "CoxResult",
    "HorizonLogit",
    "LandmarkKM",
    "ValidationInputs",
    "build_horizon_frame",
    "build_intervals",
    "check_proportional_hazards",
    "compute_auc",
    "compute_brier",
    "compute_concordance",
    "compute_lift",
    "find_surprising_accounts",
    "fit_horizon_logit",
    "fit_index_cox",
    "fit_landmark_km",
    "fit_score_cox",
    "load_validation_inputs",
    "order_categories",
    "pivot_indices",
    "plot_calibration",
    "plot_hazard_ratios",
    "plot_km",
    "plot_lift",
    "plot_weights",
    "prepare_churn",
    "snapshot_instants",
    "summarise_landmarks",
    "tabulate_lift",
    "tabulate_reliability",
]
