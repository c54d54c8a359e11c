"""Adapters that turn public churn datasets into healthlab frames.

Each loader reads a file of the shared datasets folder (never copied into the
project) and returns an account-level or snapshot-level frame with index
columns on the 0-100 scale (higher is healthier), an outcome and, where the
data allow, a survival time. :func:`evaluate_real_score` then measures how a
score built from those indices tracks churn, with the default weights and
with weights fitted on a random half of the accounts.

Sources
-------
* Iranian telecom churn: UCI Machine Learning Repository, dataset 563
  ("Iranian Churn Dataset"), CC BY 4.0. 3,150 customers, 9-month usage
  aggregates and a churn flag at month 12.
* CDNOW purchase log: Fader, P. S. and Hardie, B. G. S., the CDNOW master
  file (23,570 customers first buying in 1997 Q1, purchases to 1998-06-30),
  as shipped in the ``lifetimes`` package (MIT).
* OULAD: Kuzilek, J., Hlosta, M. and Zdrahal, Z. (2017), "Open University
  Learning Analytics dataset", Scientific Data 4, 170171, CC BY 4.0.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.api as sm
from lifelines import CoxPHFitter
from lifelines.utils import concordance_index
from scipy.stats import rankdata

from healthlab.calibration import WeightCalibrator, compute_weighted_score
from healthlab.errors import SourceError
from healthlab.validation.regression import compute_auc, compute_lift

__all__ = [
    "CDNOW_WEIGHTS",
    "IRANIAN_WEIGHTS",
    "OULAD_WEIGHTS",
    "evaluate_real_score",
    "find_datasets",
    "load_cdnow",
    "load_iranian_churn",
    "load_oulad",
    "rank_percentile",
]

IRANIAN_WEIGHTS = {
    "usage": 25.0,
    "engagement": 20.0,
    "reach": 15.0,
    "status": 15.0,
    "satisfaction": 15.0,
    "performance": 10.0,
}
CDNOW_WEIGHTS = {"recency": 40.0, "frequency": 30.0, "monetary": 15.0, "tenure": 15.0}
OULAD_WEIGHTS = {
    "early_registration": 30.0,
    "first_attempt": 20.0,
    "light_load": 20.0,
    "education": 15.0,
    "affluence": 15.0,
}


def find_datasets(path=None) -> Path:
    """The shared datasets folder.

    Order: `path`, the ``HEALTHLAB_DATASETS`` environment variable, then
    ``../shared/datasets`` beside the repository.
    """
    if path is None:
        path = os.environ.get("HEALTHLAB_DATASETS")
    if path is None:
        path = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets"
    path = Path(path)
    if not path.is_dir():
        raise SourceError(
            f"Datasets folder {str(path)!r} does not exist; pass its path or set "
            "HEALTHLAB_DATASETS."
        )
    return path


def rank_percentile(values, higher_is_better: bool = True) -> np.ndarray:
    """Mid-rank empirical percentile (0-100) of each value; NaN stays NaN.

    Notes
    -----
    :math:`p = 100\\,(r - 1/2)/n` with mid-ranks :math:`r` over the
    :math:`n` non-missing values, reversed for lower-is-better metrics.

    Examples
    --------
    >>> rank_percentile([3.0, 1.0, 2.0, 2.0]).tolist()
    [87.5, 12.5, 50.0, 50.0]
    """
    x = np.asarray(values, dtype=float)
    out = np.full(x.shape, np.nan)
    ok = ~np.isnan(x)
    ranks = rankdata(x[ok] if higher_is_better else -x[ok])
    out[ok] = 100.0 * (ranks - 0.5) / ok.sum()
    return out


def load_iranian_churn(root=None) -> pd.DataFrame:
    """Iranian telecom customers as accounts with indices and churn.

    Returns
    -------
    DataFrame
        ``account_id``, ``tenure_months`` (subscription length), ``churned``
        and one 0-100 column per index of :data:`IRANIAN_WEIGHTS`:
        ``usage`` (seconds of use), ``engagement`` (number of calls),
        ``reach`` (distinct numbers called), ``status`` (active in the
        period), ``satisfaction`` (no complaint) and ``performance`` (fewer
        call failures). Exact duplicate rows (300 in the file) are dropped.

    Notes
    -----
    The usage figures aggregate months 1-9 and churn is observed at month 12,
    so the outcome follows the features in time. Call failures grow with
    use, so ``performance`` may contradict its declared direction.
    """
    raw = pd.read_csv(find_datasets(root) / "iranian_churn" / "Customer_Churn.csv")
    raw.columns = [" ".join(c.split()) for c in raw.columns]
    raw = raw.drop_duplicates().reset_index(drop=True)
    return pd.DataFrame(
        {
            "account_id": [f"ir{i:04d}" for i in range(len(raw))],
            "tenure_months": raw["Subscription Length"].astype(float),
            "churned": raw["Churn"].astype(int),
            "usage": rank_percentile(raw["Seconds of Use"]),
            "engagement": rank_percentile(raw["Frequency of use"]),
            "reach": rank_percentile(raw["Distinct Called Numbers"]),
            "status": rank_percentile(raw["Status"], higher_is_better=False),
            "satisfaction": rank_percentile(raw["Complains"], higher_is_better=False),
            "performance": rank_percentile(raw["Call Failure"], higher_is_better=False),
        }
    )


def load_cdnow(root=None, as_of_dates=None, horizon_days: int = 180) -> pd.DataFrame:
    """CDNOW customers at quarterly snapshots, churn = no purchase in a horizon.

    Parameters
    ----------
    root : path, optional
        The datasets folder.
    as_of_dates : list of date-like, optional
        Snapshot labels; default 1997-06-30, 1997-09-30, 1997-12-31.
    horizon_days : int, default 180
        **Churn definition**: a customer has churned at snapshot ``t`` when
        they make no purchase in ``(t, t + horizon_days]``. CDNOW has no
        contract end, so lapse stands in for churn. Snapshots whose horizon
        passes the end of the log (1998-06-30) are refused.

    Returns
    -------
    DataFrame
        ``account_id``, ``as_of``, ``churned``, ``days_to_next`` and
        ``repurchased`` (time to the next purchase, censored at the end of
        the log) and 0-100 indices within each snapshot: ``recency`` (days
        since the last purchase, lower better), ``frequency`` (purchase days
        in the last 180 days), ``monetary`` (dollars in the last 180 days)
        and ``tenure`` (days since the first purchase).
    """
    path = find_datasets(root) / "cdnow" / "CDNOW_master.txt"
    log = pd.read_csv(
        path,
        sep=r"\s+",
        header=None,
        names=["customer", "date", "cds", "dollars"],
        dtype={"customer": str, "date": str, "cds": str, "dollars": str},
    )
    # some copies open with a header line: keep rows whose date is a yyyymmdd
    log = log.loc[log["date"].str.fullmatch(r"\d{8}")]
    log = log.assign(
        date=pd.to_datetime(log["date"], format="%Y%m%d"),
        dollars=log["dollars"].astype(float),
    )
    end = pd.Timestamp("1998-07-01")
    labels = pd.to_datetime(as_of_dates or ["1997-06-30", "1997-09-30", "1997-12-31"])
    frames = []
    for label in labels:
        t = label + pd.Timedelta(days=1)
        if t + pd.Timedelta(days=horizon_days) > end:
            raise SourceError(
                f"CDNOW snapshot {label.date()} with a {horizon_days}-day horizon "
                "passes the end of the log (1998-06-30)."
            )
        past = log.loc[log["date"] < t]
        recent = past.loc[past["date"] >= t - pd.Timedelta(days=180)]
        future = log.loc[log["date"] >= t].groupby("customer")["date"].min()
        g = past.groupby("customer")
        frame = pd.DataFrame(
            {
                "last": g["date"].max(),
                "first": g["date"].min(),
                "days": recent.groupby("customer")["date"].nunique(),
                "spend": recent.groupby("customer")["dollars"].sum(),
                "next": future,
            }
        ).loc[lambda f: f["first"].notna()]
        frame[["days", "spend"]] = frame[["days", "spend"]].fillna(0.0)
        wait = (frame["next"] - t) / pd.Timedelta(days=1)
        frames.append(
            pd.DataFrame(
                {
                    "account_id": frame.index,
                    "as_of": label,
                    "churned": (~(wait < horizon_days)).astype(int).to_numpy(),
                    "days_to_next": wait.fillna((end - t).days).to_numpy() + 0.5,
                    "repurchased": frame["next"].notna().astype(int).to_numpy(),
                    "recency": rank_percentile((t - frame["last"]).dt.days, False),
                    "frequency": rank_percentile(frame["days"]),
                    "monetary": rank_percentile(frame["spend"]),
                    "tenure": rank_percentile((t - frame["first"]).dt.days),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


_EDUCATION = {
    "No Formal quals": 0,
    "Lower Than A Level": 1,
    "A Level or Equivalent": 2,
    "HE Qualification": 3,
    "Post Graduate Qualification": 4,
}


def load_oulad(root=None) -> pd.DataFrame:
    """OULAD module registrations as accounts, with time to withdrawal.

    Returns
    -------
    DataFrame
        ``account_id`` (module, presentation, student), ``presentation``,
        ``duration`` (days from the module start to withdrawal, or to the
        end of the presentation), ``withdrawn`` (event) and ``churned`` (the
        same flag), and 0-100 indices computed within each module
        presentation (the peer group): ``early_registration`` (days
        registered before the start), ``first_attempt`` (fewer previous
        attempts), ``light_load`` (fewer studied credits), ``education``
        (highest prior education) and ``affluence`` (IMD band; higher is
        less deprived).

    Notes
    -----
    Registrations withdrawn on or before day 0 never started the module and
    are left out. The click log is not part of the shared copy, so the
    indices are enrolment facts rather than product usage.
    """
    base = find_datasets(root) / "oulad"
    info = pd.read_csv(base / "studentInfo.csv")
    reg = pd.read_csv(base / "studentRegistration.csv")
    courses = pd.read_csv(base / "courses.csv")
    keys = ["code_module", "code_presentation", "id_student"]
    data = info.merge(reg, on=keys, how="left").merge(
        courses, on=["code_module", "code_presentation"], how="left"
    )
    withdrawn = (data["final_result"] == "Withdrawn") & data[
        "date_unregistration"
    ].notna()
    duration = data["date_unregistration"].where(
        withdrawn, data["module_presentation_length"]
    )
    data = data.assign(duration=duration, withdrawn=withdrawn.astype(int))
    data = data.loc[data["duration"] > 0].reset_index(drop=True)
    imd = data["imd_band"].str.extract(r"^(\d+)")[0].astype(float)
    data["presentation"] = data["code_module"] + "-" + data["code_presentation"]
    out = pd.DataFrame(
        {
            "account_id": data["presentation"] + "-" + data["id_student"].astype(str),
            "presentation": data["presentation"],
            "duration": data["duration"].astype(float),
            "withdrawn": data["withdrawn"],
            "churned": data["withdrawn"],
        }
    )
    features = {
        "early_registration": (-data["date_registration"], True),
        "first_attempt": (data["num_of_prev_attempts"], False),
        "light_load": (data["studied_credits"], False),
        "education": (data["highest_education"].map(_EDUCATION), True),
        "affluence": (imd, True),
    }
    for name, (values, higher) in features.items():
        out[name] = np.nan
        for _, idx in data.groupby("presentation").groups.items():
            out.loc[idx, name] = rank_percentile(values.loc[idx], higher)
    return out


def evaluate_real_score(
    frame: pd.DataFrame,
    weights: dict,
    *,
    outcome: str = "churned",
    duration: str | None = None,
    event: str | None = None,
    event_is_churn: bool = True,
    seed: int = 20261203,
    shrinkage: float = 0.1,
) -> pd.DataFrame:
    """Concordance, AUC, lift and effect sizes of a score on real data.

    Parameters
    ----------
    frame : DataFrame
        Rows with ``account_id``, the index columns of `weights` and the
        binary `outcome`; optionally a survival `duration` and `event`.
    weights : dict
        The score's (default) weights.
    duration, event : str, optional
        Survival time and event columns for concordance and the Cox model;
        without them concordance is computed on the binary outcome (equal to
        the AUC).
    event_is_churn : bool, default True
        False when the survival event is a good one (CDNOW's next
        purchase): concordance then rewards a *shorter* time for a higher
        score, and the hazard ratio is that of the good event.
    seed : int
        Seed of the random half of accounts the weights are fitted on.
    shrinkage : float
        Pull toward `weights` in the fit.

    Returns
    -------
    DataFrame
        Rows ``default`` and ``fitted`` (weights fitted on the training half),
        evaluated on the held-out half: ``concordance``, ``auc``, ``lift``
        (riskiest tenth), ``odds_ratio`` per 10 points (logistic),
        ``hazard_ratio`` per 10 points (Cox, when a duration is given) and
        the weights. ``attrs`` keep the calibrator.

    Notes
    -----
    Accounts, not rows, are split, so an account's snapshots stay together.
    Concordance is Harrell's C of the score with the survival time (a higher
    score should mean longer survival).
    """
    names = list(weights)
    accounts = frame["account_id"].unique()
    rng = np.random.default_rng(seed)
    train_ids = set(rng.choice(accounts, size=len(accounts) // 2, replace=False))
    in_train = frame["account_id"].isin(train_ids)
    train, test = frame.loc[in_train], frame.loc[~in_train].copy()
    calibrator = WeightCalibrator(shrinkage=shrinkage, n_boot=0).fit(train, weights)

    rows = []
    for label, w in (("default", weights), ("fitted", calibrator.weights_)):
        test["score"] = compute_weighted_score(test[names], [w[n] for n in names])
        y = test[outcome].to_numpy()
        logit = sm.Logit(y.astype(float), sm.add_constant(test["score"] / 10)).fit(
            disp=0
        )
        row = {
            "weights": label,
            "auc": compute_auc(y, -test["score"]),
            "lift": compute_lift(y, -test["score"]),
            "odds_ratio": float(np.exp(logit.params["score"])),
        }
        if duration is not None:
            sign = 1.0 if event_is_churn else -1.0
            row["concordance"] = concordance_index(
                test[duration], sign * test["score"], test[event]
            )
            cph = CoxPHFitter().fit(
                pd.DataFrame(
                    {"t": test[duration], "e": test[event], "s": test["score"] / 10}
                ),
                duration_col="t",
                event_col="e",
            )
            row["hazard_ratio"] = float(np.exp(cph.params_["s"]))
        else:
            row["concordance"] = row["auc"]
        row.update({f"w_{n}": float(w[n]) for n in names})
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs["calibrator"] = calibrator
    out.attrs["test_rows"] = len(test)
    out.attrs["test_events"] = int(test[outcome].sum())
    return out
