"""Plain-pandas reference of every raw metric (independent of the package)."""

from __future__ import annotations

import numpy as np
import pandas as pd

DAY = pd.Timedelta(days=1)


def _utc(s):
    return pd.to_datetime(s, utc=True)


def _between(frame, col, t, start_days, end_days=0):
    at = _utc(frame[col])
    return frame[(at >= t - start_days * DAY) & (at < t - end_days * DAY)]


def reference_metrics(tables, labels, custom=()):
    """Dict (account_id, as_of, index, metric) -> value, for default params."""
    acc = tables["accounts"].copy()
    acc["created_at"] = _utc(acc["created_at"])
    churn = tables["churn"].dropna()
    churned = dict(zip(churn.account_id, _utc(churn.churned_at), strict=True))
    s = tables["sessions"].copy()
    s["started_at"] = _utc(s["started_at"])
    s["date"] = s["started_at"].dt.floor("D")
    out = {}
    for label in labels:
        label = pd.Timestamp(label)
        t = label.tz_localize("UTC") + DAY
        for row in acc.itertuples():
            a = row.account_id
            if not row.created_at < t or (a in churned and churned[a] < t):
                continue
            vals = _account(tables, s[s.account_id == a], row, t, custom)
            for (index, metric), v in vals.items():
                out[(a, label, index, metric)] = v
    return out


def _account(tables, s, row, t, custom):
    v = {}
    a = row.account_id
    # duration: median daily hours per active user-day
    daily = s.groupby(["user_id", "date"])["duration_s"].sum().reset_index()
    daily["hours"] = daily["duration_s"] / 3600
    w30 = daily[(daily.date >= t - 30 * DAY) & (daily.date < t)]
    v["duration", "level"] = w30.hours.median() if len(w30) else np.nan
    rec = w30[w30.date >= t - 15 * DAY].hours
    ear = w30[w30.date < t - 15 * DAY].hours
    ok = len(rec) and len(ear) and rec.median() > 0 and ear.median() > 0
    v["duration", "trend"] = np.log(rec.median() / ear.median()) if ok else np.nan
    v["duration", "active_user_days"] = float(len(w30))

    # retention: cohorts = first active date of each user
    dates = daily.groupby("user_id")["date"].apply(set)
    cohort = daily.groupby("user_id")["date"].min()
    num = den = 0.0
    for k, wk in zip((7, 14, 28, 56, 84), (1, 1, 2, 2, 3), strict=True):
        elig = cohort[(cohort >= t - 180 * DAY) & (cohort < t - (k + 7) * DAY)]
        back = [
            any(c + k * DAY <= d < c + (k + 7) * DAY for d in dates[u])
            for u, c in elig.items()
        ]
        v["retention", f"eligible_{k}d"] = float(len(elig))
        share = np.mean(back) if len(elig) >= 5 else np.nan
        v["retention", f"share_{k}d"] = share
        if len(elig) >= 5:
            num += wk * share
            den += wk
    v["retention", "composite"] = num / den if den else np.nan

    # loyalty: base users active in [t-120, t-30), still active in [t-30, t)
    base = set(
        s[(s.started_at >= t - 120 * DAY) & (s.started_at < t - 30 * DAY)].user_id
    )
    recent = set(s[(s.started_at >= t - 30 * DAY) & (s.started_at < t)].user_id)
    v["loyalty", "base_users"] = float(len(base))
    v["loyalty", "loyalty"] = len(base & recent) / len(base) if base else np.nan

    # performance (web)
    pl = _between(
        tables["page_loads"][tables["page_loads"].account_id == a], "loaded_at", t, 30
    )
    web = row.app_type == "web"
    v["performance", "n_page_loads"] = float(len(pl))
    v["performance", "load_ms"] = pl.load_ms.mean() if web and len(pl) else np.nan
    req = pl.items_requested.sum()
    v["performance", "success_share"] = (
        pl.items_loaded.sum() / req if web and len(pl) and req > 0 else np.nan
    )

    # rating (mobile)
    r = _between(
        tables["ratings"][tables["ratings"].account_id == a], "rated_at", t, 90
    )
    v["rating", "n_ratings"] = float(len(r))
    mobile = row.app_type == "mobile"
    v["rating", "mean_stars"] = r.stars.mean() if mobile and len(r) else np.nan

    # nps
    resp = tables["nps_responses"][tables["nps_responses"].account_id == a]
    cur = _between(resp, "responded_at", t, 90).score
    prev = _between(resp, "responded_at", t, 180, 90).score

    def nps(x):
        if len(x) < 3:
            return np.nan
        return 100 * ((x >= 9).mean() - (x <= 6).mean())

    v["nps", "nps"] = nps(cur)
    v["nps", "change"] = nps(cur) - nps(prev)
    v["nps", "n_responses"] = float(len(cur))
    inv = tables["nps_invitations"]
    sent = len(_between(inv[inv.account_id == a], "sent_at", t, 90))
    v["nps", "response_rate"] = len(cur) / sent if sent else np.nan

    # relationship
    tp = _between(
        tables["touchpoints"][tables["touchpoints"].account_id == a],
        "occurred_at",
        t,
        90,
    )
    held = (tp.status == "held").sum()
    v["touchpoints_held", "value"] = float(held)
    v["touchpoint_cancellations", "value"] = (
        (tp.status == "cancelled").mean() if len(tp) else np.nan
    )
    v["touchpoint_cancellations", "n_planned"] = float(len(tp))
    rp = _between(
        tables["rapport"][tables["rapport"].account_id == a], "rated_at", t, 365
    )
    latest = rp.sort_values(["rated_at", "rating"]).groupby("persona").tail(1).rating
    v["rapport", "value"] = latest.mean() if len(latest) else np.nan
    v["rapport", "n_personas"] = float(len(latest))

    # custom indices: (name, table, column, aggregation, window)
    for name, table, col, agg, days, metric in custom:
        src = tables[table]
        src = src[src.account_id == a]
        if metric is not None:
            src = src[src.metric == metric]
        time_col = {"custom_metrics": "measured_at", "sessions": "started_at"}[table]
        x = _between(src, time_col, t, days)
        if agg == "count":
            v[name, "value"] = float(len(x))
        elif not len(x):
            v[name, "value"] = np.nan
        elif agg == "last":
            v[name, "value"] = x.sort_values([time_col, col]).iloc[-1][col]
        else:
            v[name, "value"] = getattr(x[col], agg)()
    return v
