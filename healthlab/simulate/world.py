"""Write a synthetic world: every contract table as partitioned Parquet.

Output layout (``out_dir``)::

    accounts/part-00000.parquet      one file for the account-level tables
    churn/part-00000.parquet
    sessions/part-NNNNN.parquet      one file per chunk of accounts
    ...                              (every other contract table likewise)
    latent/part-00000.parquet        latent signals per account and month
    truth.json                       parameters, seed and true coefficients

The files depend only on the arguments: rows are in a fixed order, random
draws come from generators seeded by ``(seed, stream, chunk)``, and nothing
records when or where the world was generated.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from healthlab.errors import ParameterError
from healthlab.simulate.accounts import (
    NO_CHURN,
    AccountFrame,
    Timeline,
    draw_accounts,
    size_band_names,
)
from healthlab.simulate.feedback import (
    PERSONAS,
    draw_integrations,
    draw_nps,
    draw_rapport,
    draw_ratings,
    draw_touchpoints,
)
from healthlab.simulate.output import TIMESTAMP, PartWriter, labels, timestamps
from healthlab.simulate.params import SIGNALS, WorldParams
from healthlab.simulate.usage import (
    draw_page_loads,
    draw_sessions,
    draw_users,
    label_array,
)

__all__ = ["WorldSummary", "simulate_world", "TRUTH_FILE"]

logger = logging.getLogger("healthlab")

TRUTH_FILE = "truth.json"
_FORMAT_VERSION = 1
# sessions per chunk the automatic chunk size aims at (bounds memory)
_SESSIONS_PER_CHUNK = 1_500_000
_STATUS = pa.array(["held", "cancelled"])
_METRICS = pa.array(["integrations"])

_SIGNAL_NOTES = {
    "duration": "log session length; sessions.duration_s",
    "retention": "dropout of users in their first months; cohort retention",
    "performance": "page_loads load_ms (lower) and items success (web); "
    "ratings stars (mobile)",
    "loyalty": "dropout of established users; loyalty",
    "nps": "nps_responses score and response rate",
    "integrations": "custom_metrics metric 'integrations' (no effect on churn)",
    "relationship": "touchpoints cancelled share and rapport rating "
    "(no effect on churn)",
}


@dataclass
class WorldSummary:
    """What :func:`simulate_world` wrote.

    Attributes
    ----------
    out_dir : Path
        Folder of the world.
    n_accounts, n_churned : int
        Accounts, and those that churned during the period.
    rows : dict of str to int
        Rows written per table.
    start, end : str
        The data period ``[start, end)`` as ISO dates.
    seed : int
        Seed of the world.
    elapsed_s : float
        Wall time of the generation (not written to any file).
    """

    out_dir: Path
    n_accounts: int
    n_churned: int
    start: str
    end: str
    seed: int
    rows: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0

    def __str__(self) -> str:
        lines = [
            f"Simulated world in {self.out_dir} (seed {self.seed}, "
            f"{self.start} to {self.end}, {self.elapsed_s:.1f} s)",
            f"  accounts: {self.n_accounts:,}, churned: {self.n_churned:,} "
            f"({self.n_churned / max(self.n_accounts, 1):.0%})",
        ]
        lines += [f"  {name:<16}{count:>13,} rows" for name, count in self.rows.items()]
        return "\n".join(lines)


def simulate_world(
    out_dir,
    *,
    n_accounts: int = 2000,
    start="2024-11-01",
    months: int = 24,
    seed: int = 20261203,
    sessions_per_user_month: float | None = None,
    chunk_accounts: int | None = None,
    params: WorldParams | None = None,
    user_ids: str = "account",
) -> WorldSummary:
    """Simulate accounts, users, events and churn with a known truth.

    Parameters
    ----------
    out_dir : str or Path
        Folder to write. Created if absent; an existing folder is replaced
        only if it is empty or holds a previous world (a ``truth.json``).
    n_accounts : int
        Number of accounts.
    start : str or Timestamp
        First day of the period (UTC); the period is ``[start, start +
        months)``.
    months : int
        Length of the period in calendar months.
    seed : int
        Seed of every random draw; same arguments give byte-identical files.
    sessions_per_user_month : float, optional
        Sessions a present user starts per 30 days (default
        ``params.sessions_per_user_month``). The knob that scales the number
        of sessions (and page loads) while keeping accounts and users alike.
    chunk_accounts : int, optional
        Accounts generated and written per part file. Default: enough for
        about 1.5 million sessions per chunk. Part of the world's identity:
        another chunk size gives another (equally valid) world.
    params : WorldParams, optional
        The mechanism (rates, effects, true coefficients).
    user_ids : {'account', 'world'}
        How users are labelled: ``'account'`` numbers them within each
        account (``u000000001`` exists in every account, as multi-tenant
        exports reuse ids; a user is the pair (account_id, user_id));
        ``'world'`` numbers them across the whole world, so every user id
        is unique on its own.

    Returns
    -------
    WorldSummary

    Notes
    -----
    Each account carries seven latent signals, monthly AR(1) series with
    standard normal margins (see :class:`WorldParams`). Its churn hazard in
    calendar month ``m`` is ``h0 * exp(sum_k beta_k * z_k[m])`` per month,
    with ``beta`` in ``truth.json`` under ``coefficients`` (``integrations``
    has no effect). Churned accounts produce no event at or after
    ``churned_at``. Latent values per account and month are written to
    ``latent/`` for tests of the score against the truth.

    User ids (``u000000001``, ...) number each account's users by join
    instant, so the same id appears in many accounts, as in multi-tenant
    exports; with ``user_ids='world'`` the numbering runs across the whole
    world, by account then join instant, and an id names one user.
    """
    started = time.perf_counter()
    params = params or WorldParams()
    rate = params.sessions_per_user_month
    rate = rate if sessions_per_user_month is None else sessions_per_user_month
    _check_arguments(n_accounts, months, rate, chunk_accounts)
    if user_ids not in ("account", "world"):
        raise ParameterError(
            f"`user_ids` must be 'account' or 'world', got {user_ids!r}."
        )
    timeline = Timeline.from_start(start, months)
    if chunk_accounts is None:
        per_account = np.mean(np.asarray(params.initial_users)) * rate * months
        chunk_accounts = int(np.clip(_SESSIONS_PER_CHUNK / per_account, 25, 5000))
    chunk_accounts = min(chunk_accounts, n_accounts)

    out_dir = Path(out_dir)
    tmp = _prepare_output(out_dir)
    out = PartWriter(tmp)
    try:
        acc = draw_accounts(
            np.random.default_rng([seed, 0]), n_accounts, timeline, params
        )
        rows = _write_account_tables(out, acc, timeline)
        n_users = 0  # users of the earlier chunks, for world-wide user ids
        for chunk, first in enumerate(range(0, n_accounts, chunk_accounts)):
            out.next_chunk()
            part = acc.take(slice(first, first + chunk_accounts))
            rng = np.random.default_rng([seed, 1, chunk])
            counts = _write_chunk(
                out, chunk, part, timeline, params, rate, rng, n_users, user_ids
            )
            n_users += counts.pop("users")
            for name, count in counts.items():
                rows[name] = rows.get(name, 0) + count
            logger.debug("simulated chunk %d (%d accounts)", chunk, len(part))
        out.close()

        world = {
            "n_accounts": n_accounts,
            "start": _iso(timeline.start_us),
            "end": _iso(timeline.end_us),
            "months": months,
            "sessions_per_user_month": rate,
            "chunk_accounts": chunk_accounts,
            "user_ids": user_ids,
        }
        n_churned = int((acc.churn_us != NO_CHURN).sum())
        _write_truth(tmp, seed, world, params, rows, n_churned)
        _replace(tmp, out_dir)
    except BaseException:
        out.close_quietly()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return WorldSummary(
        out_dir=out_dir,
        n_accounts=n_accounts,
        n_churned=n_churned,
        start=world["start"],
        end=world["end"],
        seed=seed,
        rows=rows,
        elapsed_s=time.perf_counter() - started,
    )


def _check_arguments(n_accounts, months, rate, chunk_accounts) -> None:
    if not isinstance(n_accounts, int | np.integer) or n_accounts < 1:
        raise ParameterError(
            f"`n_accounts` must be a positive integer, got {n_accounts!r}."
        )
    if not isinstance(months, int | np.integer) or months < 1:
        raise ParameterError(f"`months` must be a positive integer, got {months!r}.")
    if not rate > 0:
        raise ParameterError(
            f"`sessions_per_user_month` must be positive, got {rate!r}."
        )
    if chunk_accounts is not None and chunk_accounts < 1:
        raise ParameterError(
            f"`chunk_accounts` must be a positive integer, got {chunk_accounts!r}."
        )


def _prepare_output(out_dir: Path) -> Path:
    if out_dir.exists() and (
        not out_dir.is_dir()
        or (any(out_dir.iterdir()) and not (out_dir / TRUTH_FILE).exists())
    ):
        raise ParameterError(
            f"Output folder {str(out_dir)!r} exists and does not hold a simulated "
            f"world (no {TRUTH_FILE}); choose an empty or new folder."
        )
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    return tmp


def _replace(tmp: Path, out_dir: Path) -> None:
    # the new world appears in one rename; an old one is removed afterwards
    old = None
    if out_dir.exists():
        old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
        out_dir.rename(old)
    tmp.rename(out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _iso(us: int) -> str:
    return np.datetime64(us, "us").astype("datetime64[D]").astype(str)


def _write_account_tables(out: PartWriter, acc: AccountFrame, timeline) -> dict:
    ids = pa.array(acc.ids, type=pa.string())
    rows = {}
    rows["accounts"] = out.write(
        "accounts",
        0,
        {
            "account_id": ids,
            "name": pa.array(acc.names, type=pa.string()),
            "csm": pa.array(acc.csm, type=pa.string()),
            "industry": pa.array(acc.industry, type=pa.string()),
            "size_band": pa.array(size_band_names(acc.size), type=pa.string()),
            "app_type": pa.array(np.where(acc.web, "web", "mobile"), type=pa.string()),
            "created_at": timestamps(acc.created_us),
            "plan": pa.array(acc.plan, type=pa.string()),
            "arr": pa.array(acc.arr, type=pa.float64()),
        },
    )
    churned = acc.churn_us != NO_CHURN
    rows["churn"] = out.write(
        "churn",
        0,
        {
            "account_id": ids,
            "churned_at": pa.array(
                np.where(churned, acc.churn_us, 0), type=TIMESTAMP, mask=~churned
            ),
        },
    )

    # latent signals per account and month (not a contract table)
    n, months = len(acc), timeline.months
    latent = {
        "account_id": labels(ids, np.repeat(np.arange(n), months)),
        "month": timestamps(np.tile(timeline.bounds[:-1], n)),
    }
    for k, name in enumerate(SIGNALS):
        latent[name] = pa.array(acc.latent[:, :, k].ravel(), type=pa.float64())
    out.write("latent", 0, latent)
    return rows


def _write_chunk(
    out, chunk, acc, timeline, params, rate, rng, first_user, user_ids
) -> dict[str, int]:
    """Write the event tables of one chunk; rows per table and ``users``."""
    ids = pa.array(acc.ids, type=pa.string())
    users = draw_users(rng, acc, timeline, params)
    n_users = np.bincount(users.account, minlength=len(acc))
    # user ids are unique in the world: users numbered from `first_user` on,
    # by account then join instant
    if user_ids == "world":
        labels_ = label_array("u", first_user, users.account.size)
        code = np.arange(users.account.size)
    else:  # numbered within each account, as multi-tenant exports do
        labels_ = label_array("u", 0, int(n_users.max(initial=0)))
        code = users.local - 1
    rows = {}

    sessions = draw_sessions(rng, acc, users, timeline, params, rate)
    rows["sessions"] = out.write(
        "sessions",
        chunk,
        {
            "account_id": labels(ids, sessions["account"]),
            "user_id": labels(labels_, code[sessions["user"]]),
            "started_at": timestamps(sessions["started_us"]),
            "duration_s": pa.array(sessions["duration_s"], type=pa.float64()),
        },
    )
    loads = draw_page_loads(rng, acc, sessions, timeline, params)
    del sessions
    rows["page_loads"] = out.write(
        "page_loads",
        chunk,
        {
            "account_id": labels(ids, loads["account"]),
            "page": labels(pa.array(params.pages), loads["page"]),
            "loaded_at": timestamps(loads["loaded_us"]),
            "load_ms": pa.array(loads["load_ms"]),
            "items_requested": pa.array(loads["items_requested"]),
            "items_loaded": pa.array(loads["items_loaded"]),
        },
    )
    del loads

    ratings = draw_ratings(rng, acc, timeline, params)
    rows["ratings"] = out.write(
        "ratings",
        chunk,
        {
            "account_id": labels(ids, ratings["account"]),
            "rated_at": timestamps(ratings["rated_us"]),
            "stars": pa.array(ratings["stars"], type=pa.float64()),
        },
    )

    personas = pa.array(PERSONAS)
    invitations, responses = draw_nps(rng, acc, timeline, params, n_users)
    rows["nps_invitations"] = out.write(
        "nps_invitations",
        chunk,
        {
            "account_id": labels(ids, invitations["account"]),
            "sent_at": timestamps(invitations["sent_us"]),
        },
    )
    rows["nps_responses"] = out.write(
        "nps_responses",
        chunk,
        {
            "account_id": labels(ids, responses["account"]),
            "responded_at": timestamps(responses["responded_us"]),
            "score": pa.array(responses["score"], type=pa.float64()),
            "user_id": _responding_users(
                labels_, code, n_users, responses["account"], responses["user"]
            ),
            "persona": labels(personas, responses["persona"]),
        },
    )

    touch = draw_touchpoints(rng, acc, timeline, params)
    # a dictionary must hold distinct labels: Parquet writes one with
    # repeated labels differently from run to run
    csm_labels, csm_codes = np.unique(acc.csm, return_inverse=True)
    csm = pa.array(csm_labels, type=pa.string())
    rows["touchpoints"] = out.write(
        "touchpoints",
        chunk,
        {
            "account_id": labels(ids, touch["account"]),
            "occurred_at": timestamps(touch["occurred_us"]),
            "kind": labels(pa.array(params.touchpoint_kinds), touch["kind"]),
            "status": labels(_STATUS, touch["cancelled"]),
            "csm": labels(csm, csm_codes[touch["account"]]),
        },
    )

    rapport = draw_rapport(rng, acc, timeline, params)
    rows["rapport"] = out.write(
        "rapport",
        chunk,
        {
            "account_id": labels(ids, rapport["account"]),
            "rated_at": timestamps(rapport["rated_us"]),
            "persona": labels(personas, rapport["persona"]),
            "rating": pa.array(rapport["rating"], type=pa.float64()),
        },
    )

    custom = draw_integrations(rng, acc, timeline, params)
    rows["custom_metrics"] = out.write(
        "custom_metrics",
        chunk,
        {
            "account_id": labels(ids, custom["account"]),
            "metric": labels(_METRICS, np.zeros(custom["account"].size, np.int8)),
            "measured_at": timestamps(custom["measured_us"]),
            "value": pa.array(custom["value"], type=pa.float64()),
        },
    )
    rows["users"] = users.account.size
    return rows


def _responding_users(user_ids, code, n_users, account, local) -> pa.DictionaryArray:
    # the local number of a user within its account -> row of the chunk's
    # users -> its label; null when the account has no user at all
    first = np.cumsum(n_users) - n_users
    known = n_users[account] > 0
    rows = np.where(known, first[account] + local - 1, 0)
    codes = code[rows].astype(np.int32)
    return pa.DictionaryArray.from_arrays(pa.array(codes, mask=~known), user_ids)


def _write_truth(tmp, seed, world, params, rows, n_churned) -> None:
    truth = {
        "generator": "healthlab.simulate",
        "format_version": _FORMAT_VERSION,
        "seed": seed,
        "world": world,
        "parameters": params.to_dict(),
        "coefficients": dict(params.coefficients),
        "hazard": {
            "base_monthly_hazard": params.base_monthly_hazard,
            "form": "h0 * exp(sum_k coefficients[k] * z_k[m]) per month; z_k "
            "standard normal latent signal k in calendar month m",
        },
        "signals": dict(_SIGNAL_NOTES),
        "latent": "latent/part-00000.parquet",
        "rows": rows,
        "churned_accounts": n_churned,
    }
    text = json.dumps(truth, indent=2, sort_keys=True) + "\n"
    (tmp / TRUTH_FILE).write_text(text, encoding="utf-8")
