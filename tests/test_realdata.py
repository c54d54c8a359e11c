"""Real datasets: adapters checked against plain pandas, score quality printed.

Run with ``pytest -m realdata tests/test_realdata.py -s`` to see the figures.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import percentileofscore

from healthlab.realdata import (
    CDNOW_WEIGHTS,
    IRANIAN_WEIGHTS,
    OULAD_WEIGHTS,
    evaluate_real_score,
    load_cdnow,
    load_iranian_churn,
    load_oulad,
    rank_percentile,
)

pytestmark = pytest.mark.realdata


def _show(name, table):
    cols = ["weights", "concordance", "auc", "lift", "odds_ratio", "hazard_ratio"]
    print(f"\n{name}\n{table[[c for c in cols if c in table]].round(3)}")


def test_rank_percentile_is_scipys_mean_percentile():
    values = np.array([3.0, 1.0, 2.0, 2.0, 7.0, np.nan])
    got = rank_percentile(values)
    ok = values[~np.isnan(values)]
    want = [percentileofscore(ok, v, kind="mean") for v in ok]
    np.testing.assert_allclose(got[:5], want)
    assert np.isnan(got[5])
    np.testing.assert_allclose(rank_percentile(ok, False), 100 - np.array(want))


def test_iranian_churn(datasets_dir):
    frame = load_iranian_churn(datasets_dir)
    raw = pd.read_csv(datasets_dir / "iranian_churn" / "Customer_Churn.csv")
    raw = raw.drop_duplicates()
    assert len(frame) == len(raw) == 2850
    assert frame["churned"].mean() == pytest.approx(raw["Churn"].mean())
    assert frame["satisfaction"].corr(-raw["Complains"].reset_index(drop=True)) > 0.99

    table = evaluate_real_score(
        frame, IRANIAN_WEIGHTS, duration="tenure_months", event="churned"
    ).set_index("weights")
    _show("Iranian telecom churn (held-out half)", table.reset_index())
    assert table.loc["default", "auc"] > 0.8
    assert table.loc["default", "lift"] > 3
    assert table.loc["default", "hazard_ratio"] < 1
    assert table.loc["fitted", "auc"] >= table.loc["default", "auc"] - 0.01


def test_cdnow_lapse(datasets_dir):
    frame = load_cdnow(datasets_dir)
    # independent route: customers seen before 1998-01-01 without a purchase
    # in the 180 days from then
    log = pd.read_csv(
        datasets_dir / "cdnow" / "CDNOW_master.txt",
        sep=r"\s+",
        header=None,
        names=["c", "d", "n", "v"],
        dtype=str,
    )
    log = log.loc[log["d"].str.fullmatch(r"\d{8}")]
    log["d"] = pd.to_datetime(log["d"], format="%Y%m%d")
    t = pd.Timestamp("1998-01-01")
    seen = set(log.loc[log["d"] < t, "c"])
    back = set(log.loc[(log["d"] >= t) & (log["d"] < t + pd.Timedelta(days=180)), "c"])
    last = frame.loc[frame["as_of"] == "1997-12-31"]
    assert len(last) == len(seen) == 23570
    assert last["churned"].sum() == len(seen - back)

    table = evaluate_real_score(
        frame,
        CDNOW_WEIGHTS,
        duration="days_to_next",
        event="repurchased",
        event_is_churn=False,
    ).set_index("weights")
    _show(
        "CDNOW, churn = no purchase within 180 days (held-out half)",
        table.reset_index(),
    )
    assert table.loc["default", "auc"] > 0.7
    assert table.loc["default", "concordance"] > 0.65


def test_oulad_withdrawal(datasets_dir):
    frame = load_oulad(datasets_dir)
    info = pd.read_csv(datasets_dir / "oulad" / "studentInfo.csv")
    reg = pd.read_csv(datasets_dir / "oulad" / "studentRegistration.csv")
    merged = info.merge(reg, on=["code_module", "code_presentation", "id_student"])
    started = (
        (merged["final_result"] != "Withdrawn")
        | (merged["date_unregistration"] > 0)
        | merged["date_unregistration"].isna()
    )
    assert len(frame) == started.sum()
    assert (
        frame["withdrawn"].sum()
        == (
            (merged["final_result"] == "Withdrawn")
            & (merged["date_unregistration"] > 0)
        ).sum()
    )
    assert frame[list(OULAD_WEIGHTS)].max().max() <= 100

    table = evaluate_real_score(
        frame, OULAD_WEIGHTS, duration="duration", event="withdrawn"
    ).set_index("weights")
    _show("OULAD, time to withdrawal (held-out half)", table.reset_index())
    assert table.loc["default", "concordance"] > 0.52
    assert table.loc["fitted", "auc"] > table.loc["default", "auc"]
