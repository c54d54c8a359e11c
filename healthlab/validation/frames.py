"""Point-in-time frames that validation and calibration fit on.

Two shapes serve every model:

* **Intervals** (counting-process form): one row per account and snapshot,
  ``(start, stop]`` from the snapshot instant to the next snapshot, the
  churn or the end of the data, with the score (or indices) *as of the
  start*. Cox models with time-varying covariates and time-dependent
  concordance read this shape.
* **Horizon rows**: one row per account and snapshot with a binary outcome,
  churned within ``horizon_days`` after the snapshot instant. Snapshots
  whose horizon reaches past the end of the data are left out, never
  counted as survival.

The snapshot labelled ``d`` is taken at instant ``d + 1 day`` (see
:mod:`healthlab.asof`); everything here uses naive UTC timestamps.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from healthlab.errors import EmptyTableError, MissingColumnError, ParameterError

__all__ = [
    "build_horizon_frame",
    "build_intervals",
    "pivot_indices",
    "prepare_churn",
    "snapshot_instants",
]

_DAY = pd.Timedelta(days=1)


def _require(frame: pd.DataFrame, name: str, columns) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise MissingColumnError(
            f"Frame `{name}` lacks column(s) {missing}; it has {list(frame.columns)}."
        )


def _naive_utc(values) -> pd.Series:
    stamps = pd.to_datetime(pd.Series(values), utc=True)
    return stamps.dt.tz_localize(None)


def _naive_stamp(value) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp


def snapshot_instants(as_of: pd.Series) -> pd.Series:
    """Return the instant (naive UTC) of each as-of label: ``label + 1 day``."""
    labels = pd.to_datetime(pd.Series(as_of))
    if labels.dt.tz is not None:
        labels = labels.dt.tz_convert("UTC").dt.tz_localize(None)
    return labels.dt.normalize() + _DAY


def prepare_churn(churn: pd.DataFrame | None) -> pd.Series:
    """Churn instants by account (naive UTC), NaT for active accounts.

    Parameters
    ----------
    churn : DataFrame or None
        The contract's ``churn`` table (``account_id``, ``churned_at``).
        Accounts absent from it are active.

    Returns
    -------
    Series
        ``churned_at`` indexed by ``account_id`` (string), one row per account.
    """
    if churn is None or len(churn) == 0:
        return pd.Series(dtype="datetime64[ns]", name="churned_at")
    _require(churn, "churn", ["account_id", "churned_at"])
    out = pd.Series(
        _naive_utc(churn["churned_at"]).to_numpy(),
        index=churn["account_id"].astype(str).to_numpy(),
        name="churned_at",
    )
    # an account churns once; keep the earliest instant if an export repeats it
    return out.groupby(level=0).min()


def pivot_indices(indices: pd.DataFrame, value: str = "value") -> pd.DataFrame:
    """Turn long index history into one row per (account_id, as_of).

    Parameters
    ----------
    indices : DataFrame
        ``index_history`` rows: ``account_id``, ``as_of``, ``index``, `value`
        (0-100, NaN when the index is unavailable).

    Returns
    -------
    DataFrame
        Columns ``account_id``, ``as_of`` and one column per index.
    """
    _require(indices, "indices", ["account_id", "as_of", "index", value])
    frame = indices.assign(
        account_id=indices["account_id"].astype(str),
        as_of=pd.to_datetime(indices["as_of"]).dt.normalize(),
    )
    wide = (
        frame.groupby(["account_id", "as_of", "index"], sort=True)[value]
        .first()
        .unstack("index")
    )
    wide.columns = [str(c) for c in wide.columns]
    return wide.reset_index()


def _snapshots(scores: pd.DataFrame, churned_at: pd.Series) -> pd.DataFrame:
    # one row per account and snapshot, with its instant and churn instant
    _require(scores, "scores", ["account_id", "as_of"])
    if len(scores) == 0:
        raise EmptyTableError("Frame `scores` has no rows; nothing to validate.")
    frame = scores.assign(
        account_id=scores["account_id"].astype(str),
        as_of=pd.to_datetime(scores["as_of"]).dt.normalize(),
    )
    frame["instant"] = snapshot_instants(frame["as_of"]).to_numpy()
    frame["churned_at"] = frame["account_id"].map(churned_at)
    # an account already gone at the snapshot cannot churn again after it
    gone = frame["churned_at"].notna() & (frame["churned_at"] <= frame["instant"])
    return frame.loc[~gone].sort_values(["account_id", "as_of"], ignore_index=True)


def build_horizon_frame(
    scores: pd.DataFrame,
    churn: pd.DataFrame | None,
    data_end,
    horizon_days: int = 90,
) -> pd.DataFrame:
    """One row per account and snapshot with churn within a horizon after it.

    Parameters
    ----------
    scores : DataFrame
        Snapshot rows: ``account_id``, ``as_of`` and any covariates (score,
        category, wide index columns, ``account_age_days``).
    churn : DataFrame or None
        The ``churn`` table.
    data_end : timestamp-like
        Exclusive end of the data: churn on or after it is unknown.
    horizon_days : int, default 90
        Length of the outcome window after each snapshot instant.

    Returns
    -------
    DataFrame
        The input columns plus ``instant``, ``churned_at`` and ``churned``
        (1 when ``instant < churned_at <= instant + horizon``). The number of
        snapshots left out because their horizon passes `data_end` is in
        ``.attrs['incomplete_horizon']``.

    Notes
    -----
    A snapshot at instant :math:`t` is kept only when
    :math:`t + h \\le T_{end}`; otherwise the account's fate over the whole
    horizon is unknown and counting it as a survivor would bias churn rates
    down.
    """
    if horizon_days <= 0:
        raise ParameterError(f"`horizon_days` must be positive, got {horizon_days!r}.")
    end = _naive_stamp(data_end)
    frame = _snapshots(scores, prepare_churn(churn))
    horizon_end = frame["instant"] + pd.Timedelta(days=horizon_days)
    complete = horizon_end <= end
    frame = frame.loc[complete].reset_index(drop=True)
    frame["churned"] = (
        frame["churned_at"].notna()
        & (frame["churned_at"] <= horizon_end[complete].to_numpy())
    ).astype(int)
    frame.attrs["incomplete_horizon"] = int((~complete).sum())
    frame.attrs["horizon_days"] = int(horizon_days)
    return frame


def build_intervals(
    scores: pd.DataFrame,
    churn: pd.DataFrame | None,
    data_end,
    max_age_days: float | None = None,
) -> pd.DataFrame:
    """Counting-process intervals: covariates at each snapshot, outcome after.

    Parameters
    ----------
    scores : DataFrame
        Snapshot rows (``account_id``, ``as_of`` and covariates). Drop rows
        whose covariates are unavailable before calling.
    churn : DataFrame or None
        The ``churn`` table.
    data_end : timestamp-like
        Exclusive end of the data (censoring instant).
    max_age_days : float, optional
        Longest time a snapshot's covariates are carried forward. Default:
        the largest gap between consecutive as-of dates in `scores`, so a
        missing snapshot never lets a stale score stand in for months.

    Returns
    -------
    DataFrame
        Input columns plus ``start`` and ``stop`` (days since the first
        snapshot instant) and ``event`` (1 when the account churned at
        ``stop``). Zero-length intervals are dropped.

    Notes
    -----
    For snapshot instants :math:`t_1 < t_2 < \\dots` of one account the
    interval of :math:`t_k` is :math:`(t_k, \\min(t_{k+1}, t_k + a, C,
    T_{end})]` with churn instant :math:`C`; the event is :math:`C` falling
    at its stop. The covariate at :math:`t_k` only explains what happens
    after :math:`t_k` (point-in-time rule).
    """
    end = _naive_stamp(data_end)
    frame = _snapshots(scores, prepare_churn(churn))
    frame = frame.loc[frame["instant"] < end].reset_index(drop=True)
    if max_age_days is None:
        labels = np.sort(frame["as_of"].unique())
        gaps = np.diff(labels) / _DAY if len(labels) > 1 else np.array([31.0])
        max_age_days = float(np.max(gaps))
    max_age = pd.Timedelta(days=max_age_days)

    # the next snapshot of the same account closes the interval
    next_instant = frame.groupby("account_id")["instant"].shift(-1)
    stop = frame["instant"] + max_age
    stop = stop.where(next_instant.isna() | (next_instant > stop), next_instant)
    churned = frame["churned_at"]
    ends_in_churn = churned.notna() & (churned <= stop) & (churned <= end)
    stop = stop.where(~ends_in_churn, churned)
    stop = stop.where(stop <= end, end)

    origin = frame["instant"].min()
    frame["start"] = (frame["instant"] - origin) / _DAY
    frame["stop"] = (stop - origin) / _DAY
    frame["event"] = ends_in_churn.astype(int)
    frame = frame.loc[frame["stop"] > frame["start"]].reset_index(drop=True)
    frame.attrs["origin"] = origin
    return frame
