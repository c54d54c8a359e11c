"""Queries behind the data contract's messages: row counts and examples.

Every check of :mod:`healthlab.contract` and :mod:`healthlab.contract_rows`
asks the backend only for counts and at most a handful of offending values;
these helpers run those queries, turn a backend failure into a
:class:`~healthlab.errors.SourceError` and phrase the counts and examples
that every contract message shows. Nothing here is public API.
"""

from __future__ import annotations

import ibis

from healthlab.errors import HealthlabError, SourceError, format_examples

__all__: list[str] = []

# Up to five examples are shown; a sixth tells format_examples to add "...".
N_EXAMPLES = 6


def rows_have(n: int) -> str:
    """Phrase a row count as the subject of a message: ``'3 rows have'``."""
    return "1 row has" if n == 1 else f"{n:,} rows have"


def fetch_rows(expr, table: str) -> list[dict]:
    """Execute `expr` and return its rows as plain Python dicts."""
    try:
        return expr.to_pyarrow().to_pylist()
    except HealthlabError:
        raise
    except Exception as exc:  # noqa: BLE001 - backend errors vary by engine
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise SourceError(
            f"{table}: the backend failed while checking the table "
            f"({type(exc).__name__}: {first}); check that the files are "
            "readable UTF-8 CSV or Parquet."
        ) from exc


def count_rows(expr: ibis.Table, table: str) -> int:
    """Number of rows of `expr`, a query on the contract table `table`."""
    return int(fetch_rows(expr.aggregate(n=expr.count()), table)[0]["n"])


def fetch_examples(table: ibis.Table, bad, values, name: str) -> str:
    """Up to five distinct offending values, sorted, rendered for a message."""
    cols = {f"v{i}": v for i, v in enumerate(values)}
    query = table.filter(bad).select(**cols).distinct().order_by(list(cols))
    rows = fetch_rows(query.limit(N_EXAMPLES), name)
    shown = [tuple(_show(r[c]) for c in cols) for r in rows]
    if len(cols) == 1:
        shown = [s[0] for s in shown]
    return format_examples(shown)


def _show(value):
    # datetimes print as ISO text; everything else keeps its repr
    if hasattr(value, "isoformat") and not isinstance(value, str):
        return str(value)
    return value
