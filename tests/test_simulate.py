"""Tests of the synthetic world generator (healthlab.simulate).

Expected values are computed here from the written Parquet files with plain
pandas/numpy, or with lifelines directly; nothing is taken from the
generator's own internals except the parameters it claims to have used.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from lifelines import CoxTimeVaryingFitter

from healthlab.errors import ParameterError
from healthlab.simulate import TRUE_COEFFICIENTS, WorldParams, simulate_world
from healthlab.tables import EVENT_TIME_COLUMN, TABLES

SIGNALS = ["duration", "retention", "performance", "loyalty", "nps", "integrations"]
TINY = {"n_accounts": 60, "months": 6, "start": "2025-03-01", "chunk_accounts": 25}


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _read(folder: Path, table: str) -> pd.DataFrame:
    return pq.read_table(folder / table).to_pandas()


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """A small world written in several chunks."""
    path = tmp_path_factory.mktemp("sim") / "world"
    simulate_world(
        path, n_accounts=150, months=10, start="2025-01-01", seed=11, chunk_accounts=40
    )
    return path


@pytest.fixture(scope="module")
def churn_world(tmp_path_factory) -> Path:
    """Default-sized account population with few sessions (churn tests)."""
    path = tmp_path_factory.mktemp("sim") / "churn_world"
    simulate_world(path, n_accounts=2000, sessions_per_user_month=0.3, seed=5)
    return path


# --- determinism and truth ----------------------------------------------------


def test_same_seed_gives_identical_files(tmp_path):
    simulate_world(tmp_path / "a", seed=3, **TINY)
    simulate_world(tmp_path / "b", seed=3, **TINY)
    first, second = _hashes(tmp_path / "a"), _hashes(tmp_path / "b")
    assert len(first) > 20
    assert first == second


def test_other_seed_gives_other_files(tmp_path):
    simulate_world(tmp_path / "a", seed=3, **TINY)
    simulate_world(tmp_path / "b", seed=4, **TINY)
    first, second = _hashes(tmp_path / "a"), _hashes(tmp_path / "b")
    assert first.keys() == second.keys()
    differ = {k for k in first if first[k] != second[k]}
    assert "sessions/part-00000.parquet" in differ
    assert "accounts/part-00000.parquet" in differ
    assert "truth.json" in differ


def test_truth_records_the_parameters_used(tmp_path):
    params = replace(
        WorldParams(),
        base_monthly_hazard=0.02,
        coefficients={**TRUE_COEFFICIENTS, "nps": -0.5},
    )
    summary = simulate_world(
        tmp_path / "w", seed=99, sessions_per_user_month=2.5, params=params, **TINY
    )
    truth = json.loads((tmp_path / "w" / "truth.json").read_text())

    assert truth["seed"] == 99
    assert truth["world"] == {
        "n_accounts": 60,
        "start": "2025-03-01",
        "end": "2025-09-01",
        "months": 6,
        "sessions_per_user_month": 2.5,
        "chunk_accounts": 25,
        "user_ids": "account",
    }
    assert truth["coefficients"] == {**TRUE_COEFFICIENTS, "nps": -0.5}
    assert truth["hazard"]["base_monthly_hazard"] == 0.02
    # every field of the parameter object, with tuples as JSON lists
    expected = json.loads(json.dumps(params.__dict__))
    assert truth["parameters"] == expected
    assert set(truth["parameters"]) == set(WorldParams.__dataclass_fields__)

    # recorded row counts and churn agree with the files
    for table, count in truth["rows"].items():
        assert pq.read_table(tmp_path / "w" / table).num_rows == count
    churn = _read(tmp_path / "w", "churn")
    assert truth["churned_accounts"] == churn["churned_at"].notna().sum()
    assert summary.n_churned == truth["churned_accounts"]
    assert summary.rows == truth["rows"]


def test_default_truth_has_distinct_effects_and_an_inert_signal():
    coef = WorldParams().coefficients
    assert set(coef) == set(SIGNALS)
    assert coef["integrations"] == 0.0
    magnitudes = [abs(coef[s]) for s in SIGNALS if s != "integrations"]
    assert len(set(magnitudes)) == len(magnitudes)
    ranking = sorted(coef, key=lambda s: coef[s])
    assert ranking[:5] == ["retention", "duration", "loyalty", "nps", "performance"]


def test_chunking_leaves_account_tables_unchanged(tmp_path):
    simulate_world(tmp_path / "a", seed=3, **{**TINY, "chunk_accounts": 7})
    simulate_world(tmp_path / "b", seed=3, **{**TINY, "chunk_accounts": 60})
    assert len(list((tmp_path / "a" / "sessions").glob("*.parquet"))) == 9
    for table in ("accounts", "churn", "latent"):
        pd.testing.assert_frame_equal(
            _read(tmp_path / "a", table), _read(tmp_path / "b", table)
        )


# --- structure: the data contract ------------------------------------------------


def _kind_ok(kind: str, dtype: pa.DataType) -> bool:
    if kind in ("id", "string"):
        return pa.types.is_string(dtype)
    if kind == "timestamp":
        return pa.types.is_timestamp(dtype) and dtype.tz == "UTC"
    if kind == "float":
        return pa.types.is_floating(dtype)
    raise AssertionError(kind)


@pytest.mark.parametrize("table", sorted(TABLES))
def test_every_contract_table_follows_the_contract(world, table):
    spec = TABLES[table]
    data = pq.read_table(world / table)
    assert data.num_rows > 0
    for col in spec.columns:
        assert col.name in data.column_names, (table, col.name)
        assert _kind_ok(col.kind, data.schema.field(col.name).type), (table, col.name)
        values = data.column(col.name).to_pandas()
        if not col.nullable:
            assert values.notna().all(), (table, col.name)
        if col.min is not None:
            assert values.dropna().min() >= col.min, (table, col.name)
        if col.max is not None:
            assert values.dropna().max() <= col.max, (table, col.name)
        if col.allowed is not None:
            assert set(values.dropna()) <= set(col.allowed), (table, col.name)
    if spec.unique_key:
        assert not data.to_pandas().duplicated(list(spec.unique_key)).any()


def test_accounts_look_like_apps(world):
    accounts = _read(world, "accounts")
    assert accounts["industry"].nunique() == 8
    assert set(accounts["size_band"]) == {"small", "medium", "large"}
    assert 0.45 < (accounts["app_type"] == "web").mean() < 0.75
    assert accounts["csm"].nunique() == 12
    assert accounts["name"].str.fullmatch(r"[A-Za-z0-9 ]+").all()
    # some accounts are created during the period (young accounts)
    start = pd.Timestamp("2025-01-01", tz="UTC")
    assert (accounts["created_at"] >= start).sum() > 5
    assert (accounts["created_at"] < start).sum() > 50


@pytest.mark.parametrize("table", sorted(set(EVENT_TIME_COLUMN) - {"churn"}))
def test_events_belong_to_living_accounts_in_the_period(world, table):
    accounts = _read(world, "accounts").merge(_read(world, "churn"), on="account_id")
    events = _read(world, table)
    when = EVENT_TIME_COLUMN[table]
    assert set(events["account_id"]) <= set(accounts["account_id"])

    # within the period, after creation and strictly before churn
    joined = events.merge(accounts, on="account_id", how="left")
    assert (joined[when] >= pd.Timestamp("2025-01-01", tz="UTC")).all()
    assert (joined[when] < pd.Timestamp("2025-11-01", tz="UTC")).all()
    assert (joined[when] >= joined["created_at"]).all()
    churned = joined["churned_at"].notna()
    assert (joined.loc[churned, when] < joined.loc[churned, "churned_at"]).all()


def test_event_values_are_plausible(world):
    sessions = _read(world, "sessions")
    assert sessions["duration_s"].between(0, 86_400).all()
    assert sessions.groupby("account_id")["user_id"].nunique().median() >= 5

    loads = _read(world, "page_loads")
    assert (loads["items_loaded"] <= loads["items_requested"]).all()
    assert "/dashboard" in set(loads["page"])
    app = _read(world, "accounts").set_index("account_id")["app_type"]
    assert set(app[loads["account_id"].unique()]) == {"web"}
    ratings = _read(world, "ratings")
    assert set(app[ratings["account_id"].unique()]) == {"mobile"}
    assert set(ratings["stars"]) <= {1.0, 2.0, 3.0, 4.0, 5.0}

    nps = _read(world, "nps_responses")
    assert set(nps["score"]) <= set(map(float, range(11)))
    invitations = _read(world, "nps_invitations")
    assert 0.2 < len(nps) / len(invitations) < 0.5
    # a responding user is a user of that account
    users = set(map(tuple, sessions[["account_id", "user_id"]].to_numpy()))
    named = list(map(tuple, nps[["account_id", "user_id"]].to_numpy()))
    assert np.mean([u in users for u in named]) > 0.5

    custom = _read(world, "custom_metrics")
    assert set(custom["metric"]) == {"integrations"}
    touch = _read(world, "touchpoints")
    assert 0.05 < (touch["status"] == "cancelled").mean() < 0.35


def test_new_users_join_during_the_period(world):
    sessions = _read(world, "sessions")
    first = sessions.groupby(["account_id", "user_id"])["started_at"].min()
    late = first >= pd.Timestamp("2025-04-01", tz="UTC")
    assert late.mean() > 0.1


def test_latent_file_covers_every_account_and_month(world):
    latent = _read(world, "latent")
    assert len(latent) == 150 * 10
    assert latent.groupby("account_id").size().eq(10).all()
    assert set(SIGNALS) <= set(latent.columns)
    values = latent[SIGNALS].to_numpy()
    assert abs(values.mean()) < 0.15
    assert 0.8 < values.std() < 1.2


# --- the latent signals drive the observed metrics and churn ----------------------


def test_observed_metrics_follow_their_latent_signal(world):
    latent = _read(world, "latent")
    latent["month"] = latent["month"].dt.tz_convert("UTC").dt.tz_localize(None)

    def monthly(table, when, value, how):
        frame = _read(world, table)
        frame["month"] = frame[when].dt.tz_localize(None).dt.to_period("M")
        frame["month"] = frame["month"].dt.to_timestamp()
        return frame.groupby(["account_id", "month"])[value].agg(how).rename(table)

    checks = [
        (monthly("sessions", "started_at", "duration_s", "median"), "duration", 0.6),
        (monthly("page_loads", "loaded_at", "load_ms", "mean"), "performance", -0.6),
        (monthly("ratings", "rated_at", "stars", "mean"), "performance", 0.4),
        (monthly("nps_responses", "responded_at", "score", "mean"), "nps", 0.4),
        (
            monthly("custom_metrics", "measured_at", "value", "mean"),
            "integrations",
            0.5,
        ),
    ]
    for observed, signal, bound in checks:
        both = latent.join(observed, on=["account_id", "month"], how="inner")
        rho = both[observed.name].corr(both[signal], method="spearman")
        assert rho > bound if bound > 0 else rho < bound, (observed.name, rho)


def _account_months(folder: Path) -> pd.DataFrame:
    # one row per account and calendar month it was at risk: [start, stop)
    accounts = _read(folder, "accounts").merge(_read(folder, "churn"), on="account_id")
    latent = _read(folder, "latent").merge(
        accounts[["account_id", "created_at", "churned_at"]], on="account_id"
    )
    origin = latent["month"].min()
    month_end = latent["month"] + pd.DateOffset(months=1)
    lo = latent[["month", "created_at"]].max(axis=1)
    hi = month_end.where(
        latent["churned_at"].isna() | (latent["churned_at"] >= month_end),
        latent["churned_at"],
    )
    days = pd.Timedelta(days=1)
    frame = latent.assign(
        start=(lo - origin) / days,
        stop=(hi - origin) / days,
        event=latent["churned_at"].notna() & (latent["churned_at"] < month_end),
    )
    return frame[frame["stop"] > frame["start"]]


def test_churn_share_is_realistic(churn_world):
    churn = _read(churn_world, "churn")
    assert 0.3 <= churn["churned_at"].notna().mean() <= 0.45


def test_time_varying_cox_recovers_the_true_coefficients(churn_world):
    frame = _account_months(churn_world)
    fitter = CoxTimeVaryingFitter()
    fitter.fit(
        frame[["account_id", "start", "stop", "event", *SIGNALS]],
        id_col="account_id",
        start_col="start",
        stop_col="stop",
        event_col="event",
    )
    truth = json.loads((churn_world / "truth.json").read_text())["coefficients"]
    estimate, se = fitter.params_, fitter.standard_errors_
    for signal in SIGNALS:
        assert abs(estimate[signal] - truth[signal]) < 4 * se[signal], signal

    # the two strongest effects are recovered as strongest, the inert one as null
    strongest = estimate.abs().sort_values(ascending=False).index[:2]
    assert set(strongest) == {"retention", "duration"}
    assert fitter.summary.loc["integrations", "p"] > 0.001


def test_churned_accounts_had_lower_latent_retention(churn_world):
    frame = _account_months(churn_world)
    per_account = frame.groupby("account_id").agg(
        retention=("retention", "mean"), churned=("event", "max")
    )
    means = per_account.groupby("churned")["retention"].mean()
    assert means[True] < means[False] - 0.3


# --- arguments and output folder --------------------------------------------------


def test_refuses_a_folder_that_is_not_a_world(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(ParameterError) as err:
        simulate_world(tmp_path, **TINY)
    assert str(err.value) == (
        f"Output folder {str(tmp_path)!r} exists and does not hold a simulated "
        "world (no truth.json); choose an empty or new folder."
    )
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_replaces_a_previous_world(tmp_path):
    simulate_world(tmp_path / "w", seed=1, **TINY)
    simulate_world(tmp_path / "w", seed=2, **TINY)
    assert json.loads((tmp_path / "w" / "truth.json").read_text())["seed"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_accounts": 0}, "`n_accounts` must be a positive integer, got 0."),
        ({"months": 1.5}, "`months` must be a positive integer, got 1.5."),
        (
            {"sessions_per_user_month": -1.0},
            "`sessions_per_user_month` must be positive, got -1.0.",
        ),
        ({"chunk_accounts": 0}, "`chunk_accounts` must be a positive integer, got 0."),
    ],
)
def test_rejects_bad_arguments(tmp_path, kwargs, message):
    with pytest.raises(ParameterError) as err:
        simulate_world(tmp_path / "w", **kwargs)
    assert str(err.value) == message
    assert not (tmp_path / "w").exists()


def test_user_dropout_follows_retention_and_loyalty(world):
    # plain pandas from the sessions: new users who leave early, and
    # established users absent for a whole month, per account and month
    sessions = _read(world, "sessions")
    sessions["day"] = sessions["started_at"].dt.tz_localize(None).dt.floor("D")
    end = pd.Timestamp("2025-11-01")
    churn = _read(world, "churn").set_index("account_id")["churned_at"]
    churned = churn.dt.tz_localize(None).fillna(end)
    latent = _read(world, "latent")
    latent["month"] = latent["month"].dt.tz_convert("UTC").dt.tz_localize(None)
    latent = latent.set_index(["account_id", "month"])

    users = sessions.groupby(["account_id", "user_id"])["day"].agg(["min", "max"])
    users = users.reset_index()
    users["month"] = users["min"].dt.to_period("M").dt.to_timestamp()
    # joined in the period (not in its first month) and watched for 90 days
    watched = (users["month"] > users["month"].min()) & (
        users["min"] + pd.Timedelta(days=90) < users["account_id"].map(churned)
    )
    early = users[watched].assign(
        gone=lambda u: u["max"] < u["min"] + pd.Timedelta(days=45)
    )
    share = early.groupby(["account_id", "month"])["gone"].mean()
    both = latent.join(share, how="inner")
    assert both["gone"].corr(both["retention"], method="spearman") < -0.4

    # users active in one month with no session in the next
    active = sessions.assign(month=sessions["day"].dt.to_period("M"))
    active = active[["account_id", "user_id", "month"]].drop_duplicates()
    nxt = active.assign(month=active["month"] - 1)[["account_id", "user_id", "month"]]
    base = active.merge(nxt, how="left", indicator=True)
    base["month"] = (base["month"] + 1).dt.to_timestamp()
    alive = base["month"] + pd.offsets.MonthBegin(1) <= base["account_id"].map(churned)
    base = base[alive & (base["month"] < end)]
    absent = (
        (base["_merge"] == "left_only")
        .groupby([base["account_id"], base["month"]])
        .mean()
    )
    both = latent.join(absent.rename("absent"), how="inner")
    assert both["absent"].corr(both["loyalty"], method="spearman") < -0.3


def test_user_ids_repeat_across_accounts_by_default(world):
    # multi-tenant exports number users within each account
    sessions = _read(world, "sessions")
    pairs = sessions[["account_id", "user_id"]].drop_duplicates()
    assert pairs["user_id"].duplicated().any()
    # every account's users start again from u000000001
    firsts = pairs.groupby("account_id")["user_id"].min()
    assert (firsts == "u000000001").mean() > 0.9
    nps = _read(world, "nps_responses").dropna(subset=["user_id"])
    assert nps["user_id"].isin(pairs["user_id"]).all()


@pytest.fixture(scope="module")
def world_wide_ids(tmp_path_factory):
    path = tmp_path_factory.mktemp("world_ids") / "world"
    simulate_world(path, n_accounts=60, months=6, chunk_accounts=25, user_ids="world")
    return path


def test_user_ids_are_unique_across_accounts_on_request(world_wide_ids):
    # a user id names one user of one account, across every chunk
    world = world_wide_ids
    sessions = _read(world, "sessions")
    accounts_per_user = sessions.groupby("user_id")["account_id"].nunique()
    assert accounts_per_user.max() == 1
    chunks = pq.ParquetDataset(world / "sessions").files
    assert len(chunks) > 1
    per_chunk = [
        set(pq.read_table(f, columns=["user_id"])["user_id"].to_pylist())
        for f in chunks
    ]
    assert sum(map(len, per_chunk)) == len(set().union(*per_chunk))
    # an NPS response names a user of its own account, or no user
    nps = _read(world, "nps_responses").dropna(subset=["user_id"])
    owner = sessions.drop_duplicates("user_id").set_index("user_id")["account_id"]
    named = nps["user_id"].map(owner)
    assert (named.dropna() == nps.loc[named.notna(), "account_id"]).all()
