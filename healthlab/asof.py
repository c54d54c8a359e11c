"""As-of dates: the instants at which snapshots are taken (DESIGN section 3).

An as-of date is a calendar *label*. The snapshot labelled ``d`` is taken at
the instant ``t = d + 1 day, 00:00 UTC`` and uses only rows timestamped
strictly before ``t``: the snapshot labelled 2026-11-30 sees all of November.
Windows are half-open, ``[t - n days, t)``.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from healthlab.errors import ParameterError

__all__ = ["as_of_instant", "month_ends", "parse_as_of_dates"]


def as_of_instant(as_of) -> pd.Timestamp:
    """Return the UTC instant at which the snapshot labelled `as_of` is taken.

    Examples
    --------
    >>> as_of_instant("2026-11-30")
    Timestamp('2026-12-01 00:00:00+0000', tz='UTC')
    """
    label = pd.Timestamp(as_of)
    if label.tzinfo is not None:
        label = label.tz_convert("UTC").tz_localize(None)
    if label != label.normalize():
        raise ParameterError(f"An as-of date is a calendar day, got {as_of!r}.")
    return (label + pd.Timedelta(days=1)).tz_localize("UTC")


def month_ends(start, end) -> list[pd.Timestamp]:
    """Month-end as-of labels from the month of `start` to `end` inclusive.

    Examples
    --------
    >>> [d.date().isoformat() for d in month_ends("2026-01-15", "2026-03-31")]
    ['2026-01-31', '2026-02-28', '2026-03-31']
    """
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    if end < start:
        raise ParameterError(f"`end` {end.date()} is before `start` {start.date()}.")
    dates = pd.date_range(start.normalize(), end.normalize(), freq="ME")
    return list(dates)


def parse_as_of_dates(values: Iterable) -> list[pd.Timestamp]:
    """Normalise a list of as-of labels to sorted, unique, naive day stamps."""
    out = set()
    for value in values:
        try:
            stamp = pd.Timestamp(value)
        except (TypeError, ValueError) as exc:
            raise ParameterError(f"Cannot read as-of date {value!r}.") from exc
        as_of_instant(stamp)
        out.add(stamp.tz_localize(None) if stamp.tzinfo else stamp)
    if not out:
        raise ParameterError("At least one as-of date is needed.")
    return sorted(out)
