"""Timestamp columns: one format per column, decided from all of its values."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import pytest

from leadloop.data.timestamps import parse_timestamps, parse_value
from leadloop.errors import InputError


def _parse(values: Sequence[object], **kwargs: str) -> list[pd.Timestamp]:
    parsed = parse_timestamps(pd.Series(values), column="created_at", source="leads.csv", **kwargs)
    assert parsed.dtype == "datetime64[ns]"
    return list(parsed)


def _day(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


def test_one_day_first_value_decides_the_whole_column() -> None:
    """It reads every value day-first when one value can only be day-first."""
    got = _parse(["01/02/2026", "03/04/2026", "25/11/2026"])
    assert got == [_day("2026-02-01"), _day("2026-04-03"), _day("2026-11-25")]


def test_one_month_first_value_decides_the_whole_column() -> None:
    """It reads every value month-first when one value can only be month-first."""
    got = _parse(["01/02/2026 09:30", "11/25/2026 17:00", "03/04/2026 08:00"])
    assert got == [
        _day("2026-01-02 09:30"),
        _day("2026-11-25 17:00"),
        _day("2026-03-04 08:00"),
    ]


def test_ambiguous_column_is_an_error_naming_two_examples() -> None:
    """It refuses a column every value of which reads both ways, naming file, column and two
    examples and saying how to set the format."""
    with pytest.raises(InputError) as caught:
        _parse(["01/02/2026", "03/04/2026", "01/02/2026", None])
    message = str(caught.value)
    assert message.startswith("leads.csv, column 'created_at': ")
    assert "'01/02/2026' and '03/04/2026'" in message
    assert "leads.date_formats: {created_at: dayfirst}" in message


def test_equal_day_and_month_is_not_ambiguous() -> None:
    """It accepts values whose day equals their month: both readings give the same dates."""
    assert _parse(["01/01/2026", "02/02/2026"]) == [_day("2026-01-01"), _day("2026-02-02")]


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("dayfirst", ["2026-02-01", "2026-04-03"]),
        ("monthfirst", ["2026-01-02", "2026-03-04"]),
        ("%d/%m/%Y", ["2026-02-01", "2026-04-03"]),
        ("%m/%d/%Y", ["2026-01-02", "2026-03-04"]),
    ],
)
def test_configured_format_settles_an_ambiguous_column(setting: str, expected: list[str]) -> None:
    """It reads an ambiguous column the way the configuration says."""
    got = _parse(["01/02/2026", "03/04/2026"], date_format=setting)
    assert got == [_day(e) for e in expected]


def test_value_against_the_decided_order_names_its_row() -> None:
    """It refuses a month-first value in a column decided day-first, naming the row and why."""
    with pytest.raises(InputError, match=r"rows 3: '11/25/2026' does not fit the column's"):
        _parse(["25/11/2026", "01/02/2026", "11/25/2026", "26/11/2026"])


def test_value_against_the_configured_order_names_its_row() -> None:
    """It refuses a value that cannot be read in the configured day-first order."""
    with pytest.raises(InputError, match=r"rows 2: '11/25/2026' does not fit .*dayfirst as set"):
        _parse(["01/02/2026", "11/25/2026"], date_format="dayfirst")


def test_value_against_a_configured_strptime_format_names_its_row() -> None:
    """It refuses values that do not match the configured strptime format."""
    with pytest.raises(InputError, match=r"rows 2: '2026-01-02' does not match the format"):
        _parse(["01/02/2026", "2026-01-02"], date_format="%d/%m/%Y")


def test_mixed_layouts_in_one_column_are_refused() -> None:
    """It refuses a column mixing a year-first and a day/month layout, naming the odd rows."""
    with pytest.raises(InputError, match=r"rows 3: '01/02/2026' is not written like the rest"):
        _parse(["2026-01-15", "2026-01-16 10:00", "01/02/2026"])


def test_impossible_date_names_its_row() -> None:
    """It names the row of a date that does not exist once the order is decided."""
    with pytest.raises(InputError, match=r"rows 1: cannot parse timestamp '31/02/2026'"):
        _parse(["31/02/2026", "25/11/2026"])


def test_mixed_offsets_become_utc() -> None:
    """It converts every offset, Z and naive values (taken as UTC) to naive UTC."""
    got = _parse(
        [
            "2026-03-01T10:00:00+02:00",
            "2026-03-01T10:00:00-05:00",
            "2026-03-01T10:00:00Z",
            "2026-03-01 10:00",
            "2026-03-01T10:00:00+0530",
        ]
    )
    assert got == [
        _day("2026-03-01 08:00"),
        _day("2026-03-01 15:00"),
        _day("2026-03-01 10:00"),
        _day("2026-03-01 10:00"),
        _day("2026-03-01 04:30"),
    ]


def test_day_first_with_offsets_and_twelve_hour_clock() -> None:
    """It reads day-first dates with a zone offset or an AM/PM time, converting to UTC."""
    got = _parse(["25/11/2026 14:00 +01:00", "01/12/2026 2:30 PM"])
    assert got == [_day("2026-11-25 13:00"), _day("2026-12-01 14:30")]


def test_zoned_datetime_column_becomes_utc() -> None:
    """It converts an already zoned column (as Parquet brings it) to naive UTC."""
    values = pd.Series(pd.to_datetime(["2026-01-01 00:30"]).tz_localize("Europe/Paris"))
    parsed = parse_timestamps(values, column="t", source="s")
    assert list(parsed) == [_day("2025-12-31 23:30")]


@pytest.mark.parametrize(
    "values",
    [
        [1767225600, 1767229200],
        [1767225600000, 1767229200000],
        ["1767225600", "1767229200"],
        ["1767225600000", "1767229200000"],
        [1767225600.0, None],
    ],
    ids=["seconds", "milliseconds", "seconds-text", "milliseconds-text", "seconds-with-gap"],
)
def test_epoch_seconds_and_milliseconds_by_magnitude(values: list[object]) -> None:
    """It reads epoch seconds and milliseconds by magnitude (2026-01-01 00:00 UTC here)."""
    got = _parse(values)
    assert got[0] == _day("2026-01-01 00:00")
    if values[1] is not None:
        assert got[1] == _day("2026-01-01 01:00")


def test_epoch_units_are_not_mixed_in_a_column() -> None:
    """It refuses a millisecond value in a column of epoch seconds, naming its row."""
    with pytest.raises(InputError, match=r"rows 3: '1767225600000' is not epoch seconds"):
        _parse([1767225600, 1767229200, 1767225600000])


@pytest.mark.parametrize(
    "values", [[1767225600000000, 1767225600000000], [46023, 46024]], ids=["huge", "excel-serial"]
)
def test_numbers_outside_epoch_ranges(values: list[int]) -> None:
    """It refuses numbers beyond epoch milliseconds and before March 1973 in seconds (Excel
    serial dates, day counts) rather than read them as 1970."""
    with pytest.raises(InputError, match=r"rows 1, 2: .* is no epoch time"):
        _parse(values)


def test_zone_names_are_refused_with_a_hint() -> None:
    """It refuses zone abbreviations, which are ambiguous, and says to write an offset."""
    with pytest.raises(InputError, match=r"zone name such as CET is ambiguous"):
        _parse(["2026-01-15 10:00 CET", "2026-01-16 10:00 CET"])


def test_yyyymmdd_numbers_are_dates() -> None:
    """It reads eight-digit numbers that are all calendar dates as YYYYMMDD."""
    assert _parse([20260115, 20261231]) == [_day("2026-01-15"), _day("2026-12-31")]


def test_month_names_and_year_first_slashes() -> None:
    """It reads month names and year-first dates with slashes."""
    assert _parse(["15 Jan 2026", "Feb 3, 2026"]) == [_day("2026-01-15"), _day("2026-02-03")]
    assert _parse(["2026/01/15", "2026/2/3 10:00"]) == [
        _day("2026-01-15"),
        _day("2026-02-03 10:00"),
    ]


def test_two_digit_years_follow_strptime() -> None:
    """It reads two-digit years as strptime does: 00-68 are 20xx, 69-99 are 19xx."""
    assert _parse(["25.11.26", "01.02.99"]) == [_day("2026-11-25"), _day("1999-02-01")]


def test_outcomes_hint_names_their_setting() -> None:
    """It points an ambiguous outcomes column at outcomes.date_formats."""
    with pytest.raises(InputError, match=r"outcomes\.date_formats: \{occurred_at: dayfirst\}"):
        parse_timestamps(
            pd.Series(["01/02/2026", "03/04/2026"]),
            column="occurred_at",
            source="outcomes.csv",
            setting="outcomes.date_formats",
        )


def test_single_configured_value() -> None:
    """It reads one configured timestamp by the same rules: zones to UTC, epoch, no guessing."""
    assert parse_value("2026-03-01T10:00:00+02:00", name="c") == _day("2026-03-01 08:00")
    assert parse_value("25/11/2026", name="c") == _day("2026-11-25")
    assert parse_value(1767225600000, name="c") == _day("2026-01-01")
    with pytest.raises(ValueError, match="write it year first"):
        parse_value("01/02/2026", name="c")


def test_repeated_values_still_name_the_right_rows() -> None:
    """It names the original rows of a misfit in a column of repeated dates."""
    values = ["25/11/2026", "01/02/2026"] * 4 + ["11/25/2026", "01/02/2026"]
    with pytest.raises(InputError, match=r"rows 9: '11/25/2026' does not fit"):
        _parse(values)
    got = _parse(["25/11/2026", "01/02/2026", None] * 4)
    assert got[:3] == [_day("2026-11-25"), _day("2026-02-01"), pd.NaT]
