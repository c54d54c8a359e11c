"""Bad-input cases about the values in a source's rows.

Nulls, NaN and infinities, values out of range or outside their categories,
duplicated keys and events of unknown accounts. Most of these rows can be
dropped under ``drop_invalid_rows``; ``dropped`` holds the counts then.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bad_inputs.cases import (
    Case,
    no_change,
    replace_columns,
    replace_csv_text,
    row_message,
    set_values,
)
from healthlab.errors import (
    DuplicateKeyError,
    EmptyTableError,
    NullValueError,
    OutOfRangeError,
    UnknownAccountError,
)

VALUE_CASES: list[Case] = [
    # -- all-null columns --------------------------------------------------------
    Case(
        "all-null-duration",
        replace_columns("sessions", duration_s=[np.nan] * 8),
        NullValueError,
        row_message(
            "sessions.duration_s",
            8,
            "null or NaN values",
            "['a1', 'a2', 'a3', 'a4']",
            "accounts",
        ),
        drop_error=(
            EmptyTableError,
            "sessions: 0 rows are left after dropping 8 invalid rows; fix the "
            "export, the contract requires at least one row.",
        ),
    ),
    Case(
        "all-nan-custom-value",
        replace_columns("custom_metrics", value=[np.nan] * 4),
        NullValueError,
        row_message(
            "custom_metrics.value",
            4,
            "null or NaN values",
            "['a1', 'a2', 'a3', 'a4']",
            "accounts",
        ),
        {"custom_metrics.value": 4},
    ),
    Case(
        "all-null-industry",
        replace_columns("accounts", industry=[None] * 4),
        NullValueError,
        row_message(
            "accounts.industry",
            4,
            "null values",
            "['a1', 'a2', 'a3', 'a4']",
            "accounts",
        ),
        drop_error=(
            EmptyTableError,
            "accounts: 0 rows are left after dropping 4 invalid rows; fix the "
            "export, the contract requires at least one row.",
        ),
    ),
    Case(
        "all-null-account-id",
        replace_columns("accounts", account_id=[None] * 4),
        NullValueError,
        row_message("accounts.account_id", 4, "null values"),
        drop_error=(
            EmptyTableError,
            "accounts: 0 rows are left after dropping 4 invalid rows; fix the "
            "export, the contract requires at least one row.",
        ),
    ),
    Case("all-null-optional-arr", replace_columns("accounts", arr=[None] * 4)),
    # -- NaN and inf ---------------------------------------------------------------
    Case(
        "nan-load-ms",
        set_values("page_loads", "load_ms", [1], np.nan),
        NullValueError,
        row_message(
            "page_loads.load_ms", 1, "null or NaN values", "['a1']", "accounts"
        ),
        {"page_loads.load_ms": 1},
    ),
    Case(
        "inf-duration",
        set_values("sessions", "duration_s", [2, 3], np.inf),
        OutOfRangeError,
        row_message("sessions.duration_s", 2, "infinite values", "[inf]"),
        {"sessions.duration_s": 2},
    ),
    Case(
        "minus-inf-custom-value",
        set_values("custom_metrics", "value", [0], -np.inf),
        OutOfRangeError,
        row_message("custom_metrics.value", 1, "infinite values", "[-inf]"),
        {"custom_metrics.value": 1},
    ),
    Case(
        "nan-rapport-rating",
        set_values("rapport", "rating", [1], np.nan),
        NullValueError,
        row_message("rapport.rating", 1, "null or NaN values", "['a2']", "accounts"),
        {"rapport.rating": 1},
    ),
    Case(
        "nan-text-in-csv",
        no_change,
        NullValueError,
        row_message(
            "sessions.duration_s", 1, "null or NaN values", "['a1']", "accounts"
        ),
        {"sessions.duration_s": 1},
        csv=("sessions",),
        raw=replace_csv_text("sessions", ",60.0", ",NaN"),
    ),
    # -- durations and other bounds ----------------------------------------------
    Case(
        "negative-duration",
        set_values("sessions", "duration_s", [0, 5], [-5.0, -0.5]),
        OutOfRangeError,
        row_message(
            "sessions.duration_s", 2, "values outside [0, 86400]", "[-5.0, -0.5]"
        ),
        {"sessions.duration_s": 2},
    ),
    Case(
        "duration-over-24h",
        set_values("sessions", "duration_s", [7], 86400.5),
        OutOfRangeError,
        row_message("sessions.duration_s", 1, "values outside [0, 86400]", "[86400.5]"),
        {"sessions.duration_s": 1},
    ),
    Case("duration-exactly-24h", set_values("sessions", "duration_s", [7], 86400.0)),
    Case(
        "negative-load-ms",
        set_values("page_loads", "load_ms", [2], -1.0),
        OutOfRangeError,
        row_message("page_loads.load_ms", 1, "values below 0", "[-1.0]"),
        {"page_loads.load_ms": 1},
    ),
    Case(
        "negative-arr",
        set_values("accounts", "arr", [0], -10.0),
        OutOfRangeError,
        row_message("accounts.arr", 1, "values below 0", "[-10.0]"),
        # dropping account a1 makes its events unknown: they go too
        {
            "accounts.arr": 1,
            "sessions.account_id": 2,
            "page_loads.account_id": 2,
            "nps_responses.account_id": 1,
            "nps_invitations.account_id": 1,
            "touchpoints.account_id": 1,
            "rapport.account_id": 1,
            "custom_metrics.account_id": 1,
        },
    ),
    # -- ratings, NPS and page loads ---------------------------------------------
    Case(
        "stars-0",
        set_values("ratings", "stars", [0], 0),
        OutOfRangeError,
        row_message("ratings.stars", 1, "values outside [1, 5]", "[0.0]"),
        {"ratings.stars": 1},
    ),
    Case(
        "stars-6",
        set_values("ratings", "stars", [1, 2], 6),
        OutOfRangeError,
        row_message("ratings.stars", 2, "values outside [1, 5]", "[6.0]"),
        {"ratings.stars": 2},
    ),
    Case(
        "stars-0-integer-column",
        replace_columns("ratings", stars=np.array([0, 5, 6], dtype="int64")),
        OutOfRangeError,
        row_message("ratings.stars", 2, "values outside [1, 5]", "[0, 6]"),
        {"ratings.stars": 2},
    ),
    Case(
        "nps-11",
        set_values("nps_responses", "score", [0], 11),
        OutOfRangeError,
        row_message("nps_responses.score", 1, "values outside [0, 10]", "[11.0]"),
        {"nps_responses.score": 1},
    ),
    Case(
        "nps-minus-1",
        set_values("nps_responses", "score", [1], -1),
        OutOfRangeError,
        row_message("nps_responses.score", 1, "values outside [0, 10]", "[-1.0]"),
        {"nps_responses.score": 1},
    ),
    Case(
        "rapport-rating-0",
        set_values("rapport", "rating", [0], 0.0),
        OutOfRangeError,
        row_message("rapport.rating", 1, "values outside [1, 5]", "[0.0]"),
        {"rapport.rating": 1},
    ),
    Case(
        "items-loaded-above-requested",
        set_values("page_loads", "items_loaded", [1, 2], [11.0, 9.0]),
        OutOfRangeError,
        row_message(
            "page_loads.items_loaded",
            2,
            "items_loaded above items_requested",
            "[(9.0, 8.0), (11.0, 10.0)]",
        ),
        {"page_loads.items_loaded": 2},
    ),
    # -- categories -----------------------------------------------------------------
    Case(
        "app-type-desktop",
        set_values("accounts", "app_type", [1], "desktop"),
        OutOfRangeError,
        row_message(
            "accounts.app_type", 1, "values not in ['web', 'mobile']", "['desktop']"
        ),
        {
            "accounts.app_type": 1,
            "sessions.account_id": 2,
            "page_loads.account_id": 1,
            "nps_responses.account_id": 1,
            "nps_invitations.account_id": 1,
            "rapport.account_id": 1,
            "custom_metrics.account_id": 1,
        },
    ),
    Case(
        "touchpoint-kind-and-status",
        replace_columns("touchpoints", kind=["lunch", "call"], status=["held", "done"]),
        OutOfRangeError,
        row_message(
            "touchpoints.kind",
            1,
            "values not in ['visit', 'qbr', 'meeting', 'call', 'email']",
            "['lunch']",
        ),
        {"touchpoints.kind": 1, "touchpoints.status": 1},
    ),
    Case(
        "rapport-persona-unknown",
        set_values("rapport", "persona", [0], "ceo"),
        OutOfRangeError,
        row_message(
            "rapport.persona",
            1,
            "values not in ['decision_maker', 'champion', 'business_user', "
            "'economic_buyer']",
            "['ceo']",
        ),
        {"rapport.persona": 1},
    ),
]

KEY_CASES: list[Case] = [
    # -- keys and accounts -----------------------------------------------------------
    Case(
        "duplicate-account-ids",
        set_values("accounts", "account_id", [3], "a1"),
        DuplicateKeyError,
        "accounts.account_id: 2 rows have duplicated values (examples: ['a1']); "
        "each account must appear once.",
    ),
    Case(
        "duplicate-churn-rows",
        lambda f: f.__setitem__("churn", pd.concat([f["churn"]] * 3)),
        DuplicateKeyError,
        "churn.account_id: 3 rows have duplicated values (examples: ['a4']); "
        "each account must appear once.",
    ),
    Case(
        "events-for-unknown-accounts",
        set_values("sessions", "account_id", [0, 1, 2], ["zz", "zz", "yy"]),
        UnknownAccountError,
        row_message(
            "sessions.account_id", 3, "account_ids absent from accounts", "['yy', 'zz']"
        ),
        {"sessions.account_id": 3},
    ),
    Case(
        "nps-for-unknown-account",
        set_values("nps_responses", "account_id", [2], "a9"),
        UnknownAccountError,
        row_message(
            "nps_responses.account_id", 1, "account_ids absent from accounts", "['a9']"
        ),
        {"nps_responses.account_id": 1},
    ),
    Case(
        "churn-for-unknown-account",
        replace_columns("churn", account_id=["gone"]),
        UnknownAccountError,
        row_message(
            "churn.account_id", 1, "account_ids absent from accounts", "['gone']"
        ),
        {"churn.account_id": 1},
    ),
    Case(
        "account-with-no-users",
        lambda f: f.__setitem__(
            "sessions", f["sessions"][f["sessions"]["account_id"] != "a4"]
        ),
    ),
    Case(
        "null-user-id",
        set_values("sessions", "user_id", [3], None),
        NullValueError,
        row_message("sessions.user_id", 1, "null values", "['a2']", "accounts"),
        {"sessions.user_id": 1},
    ),
]
