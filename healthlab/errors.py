"""Exceptions and warnings raised by healthlab.

Every error the toolkit raises on purpose derives from :class:`HealthlabError`.
Errors about the user's input (tables, score definitions, parameters) also
derive from :class:`ValueError`, so generic handlers keep working.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "HealthlabError",
    "InputError",
    "MissingTableError",
    "MissingColumnError",
    "ColumnTypeError",
    "OutOfRangeError",
    "NullValueError",
    "UnknownAccountError",
    "DuplicateKeyError",
    "TimestampError",
    "EmptyTableError",
    "SourceError",
    "DefinitionError",
    "ParameterError",
    "StoreError",
    "LockTimeoutError",
    "NotebookExecutionError",
    "HealthlabWarning",
    "DroppedRowsWarning",
    "SmallSampleWarning",
    "format_examples",
]


class HealthlabError(Exception):
    """Base class of every error raised by healthlab."""


class InputError(HealthlabError, ValueError):
    """The input data, definition or parameters break the contract."""


class SourceError(InputError):
    """A data source cannot be opened or read (missing folder, bad file)."""


class MissingTableError(InputError):
    """A required table is absent from the source."""


class MissingColumnError(InputError):
    """A required column is absent from a table."""


class ColumnTypeError(InputError):
    """A column has a type the contract does not accept."""


class EmptyTableError(InputError):
    """A required table has no rows."""


class NullValueError(InputError):
    """A required column holds nulls (or NaN)."""


class OutOfRangeError(InputError):
    """Values lie outside the range the contract allows."""


class UnknownAccountError(InputError):
    """Rows refer to an ``account_id`` absent from the accounts table."""


class DuplicateKeyError(InputError):
    """A key that must be unique appears more than once."""


class TimestampError(InputError):
    """Timestamps are unparseable, naive (no time zone) or in the future."""


class DefinitionError(InputError):
    """A score definition file is invalid."""


class ParameterError(InputError):
    """A function or command received an invalid parameter."""


class StoreError(HealthlabError):
    """The healthlab store (``healthlab.duckdb``) is missing or inconsistent."""


class LockTimeoutError(HealthlabError):
    """Another healthlab run holds the store lock for longer than the timeout."""


class NotebookExecutionError(HealthlabError):
    """A notebook cell failed while papermill executed a notebook."""


class HealthlabWarning(UserWarning):
    """Base class of every warning issued by healthlab."""


class DroppedRowsWarning(HealthlabWarning):
    """Rows that break the contract were dropped, as the definition allows."""


class SmallSampleWarning(HealthlabWarning):
    """Too few observations or events for a reliable estimate."""


def format_examples(values: Iterable[object], limit: int = 5) -> str:
    """Render up to `limit` example values for an error message.

    Examples
    --------
    >>> format_examples([-3.0, -1.5])
    '[-3.0, -1.5]'
    >>> format_examples(range(10), limit=3)
    '[0, 1, 2, ...]'
    """
    values = list(values)
    shown = ", ".join(repr(_plain(v)) for v in values[:limit])
    more = ", ..." if len(values) > limit else ""
    return f"[{shown}{more}]"


def _plain(value: object) -> object:
    # numpy scalars and pandas timestamps print more readably as Python values
    item = getattr(value, "item", None)
    if callable(item):
        try:
            return item()
        except (TypeError, ValueError):
            return value
    return value
