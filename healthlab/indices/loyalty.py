"""Loyalty index: continuity of use, the complement of user drop-out."""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt
import numpy as np
import pandas as pd

from healthlab.indices.params import LoyaltyParams
from healthlab.indices.rollup import (
    IndexContext,
    column,
    fetch,
    reasons,
    to_long,
    user_days,
)

__all__ = ["compute_loyalty"]

# snapshots per bit mask: bits 0..61 of a signed 64-bit integer
_BITS = 62


@ibis.udf.agg.builtin(name="bit_or")
def _bit_or(mask: dt.int64) -> dt.int64:
    """Bitwise OR of a group's values (DuckDB and Spark SQL ``bit_or``)."""


def _day_masks(ctx: IndexContext, lookback: int, dropout: int) -> pd.DataFrame:
    """Per day, bit masks of the snapshots whose base or recent window holds it.

    Snapshot i (ascending) is bit ``i % 62`` of mask block ``i // 62``. A
    day d is in the base window of snapshot T when T - L <= d < T - D and in
    its recent window when T - D <= d < T.
    """
    snapshots = np.asarray(ctx.as_of_days, dtype="int64")
    days = np.arange(snapshots.min() - lookback, snapshots.max(), dtype="int64")
    out = {"day": days}
    for block in range(0, len(snapshots), _BITS):
        base = np.zeros(len(days), dtype="int64")
        recent = np.zeros(len(days), dtype="int64")
        for bit, t in enumerate(snapshots[block : block + _BITS]):
            flag = np.int64(1) << np.int64(bit)
            base[(days >= t - lookback) & (days < t - dropout)] |= flag
            recent[(days >= t - dropout) & (days < t)] |= flag
        out[f"base_{block // _BITS}"] = base
        out[f"recent_{block // _BITS}"] = recent
    return pd.DataFrame(out)


def compute_loyalty(ctx: IndexContext, params: LoyaltyParams):
    """Share of earlier-active users still active, per account and as-of date.

    Returns
    -------
    pandas.DataFrame
        Long rows for ``loyalty`` and ``base_users``.

    Notes
    -----
    With T the snapshot day, L = `lookback_days` (120) and D =
    `dropout_days` (30), the base is the users active on some day of
    [T - L, T - D); a base user with no session in [T - D, T) dropped out,
    and loyalty = 1 - dropped / base = retained / base. Fewer than
    `min_users` base users: ``no_base_users`` (none) or ``too_few_users``.
    Loyalty is benchmarked within the app type (in scoring).

    Every snapshot is answered by one pass over the user-days: each day
    carries a bit per snapshot whose base (or recent) window holds it, a
    user's bits are OR-ed together, and an account's base and retained
    users are bit counts. The cost is linear in the user-days, and the
    number of snapshots only adds a bit each (a 64-bit column per 62).
    """
    lookback, dropout = params.lookback_days, params.dropout_days
    masks = ctx.small_table(
        f"loyalty_masks_{lookback}_{dropout}",
        lambda: _day_masks(ctx, lookback, dropout),
    )
    blocks = [c[len("base_") :] for c in masks.columns if c.startswith("base_")]
    days = user_days(ctx)
    joined = days.join(masks, "day")
    users = joined.group_by("acc", "user_id").aggregate(
        **{f"base_{b}": _bit_or(joined[f"base_{b}"]) for b in blocks},
        **{f"recent_{b}": _bit_or(joined[f"recent_{b}"]) for b in blocks},
    )
    sums = {}
    for i in range(len(ctx.as_of_days)):
        block, bit = divmod(i, _BITS)
        base = (users[f"base_{block}"] >> bit) & 1
        kept = ((users[f"base_{block}"] & users[f"recent_{block}"]) >> bit) & 1
        sums[f"b{i}"] = base.sum()
        sums[f"k{i}"] = kept.sum()
    wide = fetch(users.group_by("acc").aggregate(**sums))

    snapshots = len(ctx.as_of_days)
    frame = ctx.align(
        pd.DataFrame(
            {
                "as_of_day": np.repeat(np.asarray(ctx.as_of_days), len(wide)),
                "acc": np.tile(wide["acc"].to_numpy(dtype="int64"), snapshots),
                "base_users": np.concatenate(
                    [wide[f"b{i}"].to_numpy(dtype=float) for i in range(snapshots)]
                ),
                "retained": np.concatenate(
                    [wide[f"k{i}"].to_numpy(dtype=float) for i in range(snapshots)]
                ),
            }
        )
    )

    base = column(frame, "base_users", 0.0)
    retained = column(frame, "retained", 0.0)
    enough = base >= params.min_users
    loyalty = retained / base.clip(min=1.0)
    loyalty[~enough] = float("nan")
    n = len(frame)
    why = reasons([base == 0, ~enough], ["no_base_users", "too_few_users"], n)
    return to_long(
        frame,
        "loyalty",
        {"loyalty": (loyalty, why), "base_users": (base, [None] * n)},
        lookback,
    )
