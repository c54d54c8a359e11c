"""The bad-input catalogue (tests/bad_inputs) run against the contract.

Every data case is written to a folder, opened and validated; the exact
error class and whole message are checked. Row-level cases are run a second
time with dropping allowed: they must warn (the same facts, reworded) and
report the dropped counts in ``Source.dropped_rows``, and one scoring run
carries those counts through to the score summary and the run record.
"""

from __future__ import annotations

import json
import logging
import re
import warnings

import pandas as pd
import pytest
import yaml
from bad_inputs.cases import FIX_ROWS, Case
from bad_inputs.definition_cases import DEFINITION_CASES, DEFINITION_FILES
from bad_inputs.row_cases import KEY_CASES, VALUE_CASES
from bad_inputs.structure_cases import CSV_CASES, SCHEMA_CASES, TIMESTAMP_CASES
from bad_inputs.world import base_world, write_world

from healthlab.contract import validate_source
from healthlab.definition import DEFAULT_DEFINITION_PATH, load_definition
from healthlab.engine import open_source
from healthlab.errors import DefinitionError, DroppedRowsWarning

# the bad sources, in catalogue order
DATA_CASES = [*SCHEMA_CASES, *VALUE_CASES, *TIMESTAMP_CASES, *KEY_CASES, *CSV_CASES]


def build(case: Case, tmp_path):
    frames = base_world()
    case.mutate(frames)
    root = write_world(tmp_path / "world", frames, csv=case.csv)
    if case.raw is not None:
        case.raw(root)
    return root, frames


def expected_message(case: Case, root) -> str:
    csv = root / f"{case.csv[0]}.csv" if case.csv else root
    return case.message.replace("{root}", repr(str(root))).replace(
        "{csv}", repr(str(csv))
    )


def as_warning(message: str) -> str:
    """The drop warning carrying the same facts as a row-level error."""
    match = re.fullmatch(
        r"(\S+): (?:1 row has|([\d,]+) rows have) (.*); " + re.escape(FIX_ROWS),
        message,
    )
    assert match, message
    where, n, rest = match.groups()
    rows = "1 row" if n is None else f"{n} rows"
    return f"{where}: dropped {rows} with {rest}, as the score definition allows."


def test_catalogue_is_large_and_ids_are_unique():
    ids = [c.id for c in DATA_CASES] + [c.id for c in DEFINITION_CASES]
    ids += [name for name, _, _ in DEFINITION_FILES]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 40


@pytest.mark.parametrize("case", DATA_CASES, ids=lambda c: c.id)
def test_data_case(case: Case, tmp_path):
    root, frames = build(case, tmp_path)

    if case.error is None:
        with warnings.catch_warnings():
            warnings.simplefilter("error", DroppedRowsWarning)
            checked = validate_source(open_source(root))
        assert checked.dropped_rows == {}
        for name, frame in frames.items():
            assert checked.tables[name].count().to_pyarrow().as_py() == len(frame)
        return

    opened = []  # the source, opened once for both passes when it opens
    with pytest.raises(case.error) as info:
        opened.append(open_source(root))
        validate_source(opened[0])
    assert type(info.value) is case.error
    assert str(info.value) == expected_message(case, root)

    if case.dropped:
        with pytest.warns(DroppedRowsWarning) as record:
            checked = validate_source(opened[0], drop_invalid=True)
        messages = [str(w.message) for w in record if w.category is DroppedRowsWarning]
        assert messages[0] == as_warning(expected_message(case, root))
        assert len(messages) == len(case.dropped)
        assert checked.dropped_rows == case.dropped
        gone: dict[str, int] = {}
        for key, n in case.dropped.items():
            table = key.split(".")[0]
            gone[table] = gone.get(table, 0) + n
        for table, n in gone.items():
            left = checked.tables[table].count().to_pyarrow().as_py()
            assert left == len(frames[table]) - n
    else:
        # structural problems raise whatever the definition allows
        error, message = case.drop_error or (case.error, expected_message(case, root))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DroppedRowsWarning)
            with pytest.raises(error) as info:
                source = opened[0] if opened else open_source(root)
                validate_source(source, drop_invalid=True)
        assert str(info.value) == message


def test_mixed_offsets_are_read_as_the_instants_they_name(tmp_path):
    case = next(c for c in DATA_CASES if c.id == "mixed-offsets-csv-allowed")
    root, frames = build(case, tmp_path)

    checked = validate_source(open_source(root))

    got = checked.tables["ratings"].order_by("rated_at").to_pandas()["rated_at"]
    want = pd.to_datetime(frames["ratings"]["rated_at"], utc=True, format="ISO8601")
    assert list(pd.to_datetime(got, utc=True)) == sorted(want)


def test_rows_after_the_as_of_date_are_counted_not_refused(tmp_path, caplog):
    case = next(c for c in DATA_CASES if c.id == "future-timestamps-allowed")
    root, _ = build(case, tmp_path)

    with caplog.at_level(logging.INFO, logger="healthlab"):
        validate_source(open_source(root), as_of="2025-03-04")

    # sessions of 03-05..03-07 and the one moved to 2099 are later than
    # 2025-03-05 00:00 UTC, the instant of as-of label 2025-03-04
    assert (
        "sessions: 4 rows at or after the as-of instant 2025-03-05 00:00:00+00:00 "
        "are ignored by point-in-time filtering"
    ) in caplog.messages


# ---------------------------------------------------------------------------
# score definitions


def default_definition() -> dict:
    return yaml.safe_load(DEFAULT_DEFINITION_PATH.read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", DEFINITION_CASES, ids=lambda c: c.id)
def test_definition_case(case, tmp_path):
    data = default_definition()
    case.edit(data)
    path = tmp_path / "definition.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))

    with pytest.raises(DefinitionError) as info:
        load_definition(path)

    assert str(info.value) == (
        f"Invalid score definition {str(path)!r}: {case.problems}"
    )


@pytest.mark.parametrize(
    ("text", "after"),
    [(t, a) for _, t, a in DEFINITION_FILES],
    ids=[n for n, _, _ in DEFINITION_FILES],
)
def test_definition_file(text, after, tmp_path):
    path = tmp_path / "definition.yaml"
    path.write_text(text)

    with pytest.raises(DefinitionError) as info:
        load_definition(path)

    message = str(info.value)
    if after.startswith(":"):
        assert message == f"Invalid score definition {str(path)!r}{after}"
    else:
        assert message.startswith(f"Score definition {str(path)!r}{after}")


# ---------------------------------------------------------------------------
# dropped rows reach the score summary and the run record


def test_dropped_counts_reach_the_score_summary(tmp_path):
    from healthlab.pipeline import score_source
    from healthlab.store import Store

    chosen = [
        "negative-duration",
        "stars-6",
        "nps-11",
        "items-loaded-above-requested",
        "events-for-unknown-accounts",
        "account-with-no-users",
    ]
    frames = base_world()
    expected: dict[str, int] = {}
    for case in (c for c in DATA_CASES if c.id in chosen):
        case.mutate(frames)
        for key, n in case.dropped.items():
            expected[key] = expected.get(key, 0) + n
    root = write_world(tmp_path / "world", frames)
    data = default_definition()
    data.update(version="drop-all", drop_invalid_rows=True)
    definition = tmp_path / "definition.yaml"
    definition.write_text(yaml.safe_dump(data))

    with pytest.warns(DroppedRowsWarning):
        summary = score_source(
            root,
            definition=definition,
            as_of_dates=["2025-03-31"],
            store_path=tmp_path / "store",
        )

    # negative-duration drops sessions rows 0 and 5; unknown accounts hit rows
    # 0-2, of which row 0 already counted under duration
    assert expected["sessions.account_id"] == 3
    expected["sessions.account_id"] = 2
    assert summary.dropped_rows == expected
    assert f"dropped rows: {sum(expected.values())}" in str(summary)
    runs = Store(tmp_path / "store").read_table("runs")
    assert json.loads(runs["details"].iloc[-1])["dropped_rows"] == expected
    # every account is scored or explained, the one without users included
    scores = Store(tmp_path / "store").read_scores()
    assert sorted(scores["account_id"]) == ["a1", "a2", "a3", "a4"]
