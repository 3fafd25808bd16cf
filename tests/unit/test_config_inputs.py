"""Settings for the inputs: label-only mode, date formats, ids and the cutoff."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from leadloop.config import Settings, load_settings
from leadloop.errors import ConfigError


def _load(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "leadloop.yaml"
    path.write_text(text)
    return load_settings(path)


def test_label_only_mode(tmp_path: Path) -> None:
    """It accepts `outcomes: none` with a label column, and ids and timestamps set to null."""
    settings = load_settings(
        base_dir=tmp_path,
        environ={
            "LEADLOOP_OUTCOMES__SOURCE": "none",
            "LEADLOOP_LEADS__LABEL_COLUMN": "Converted",
            "LEADLOOP_LEADS__ID_COLUMN": "",
            "LEADLOOP_LEADS__CREATED_AT_COLUMN": "",
        },
    )
    assert settings.outcomes.source == "none"
    assert settings.leads.id_column is None and settings.leads.created_at_column is None
    shorthand = _load(tmp_path, "leads:\n  label_column: Converted\noutcomes: none\n")
    assert shorthand.outcomes.source == "none"


def test_label_only_mode_needs_a_label_column(tmp_path: Path) -> None:
    """It refuses `outcomes: none` without leads.label_column, saying what to set."""
    with pytest.raises(ConfigError, match=r"set leads\.label_column"):
        _load(tmp_path, "outcomes:\n  source: none\n")


def test_date_formats_are_checked(tmp_path: Path) -> None:
    """It accepts dayfirst, monthfirst and strptime formats, and names anything else."""
    settings = _load(
        tmp_path,
        "leads:\n  date_formats: {created_at: dayfirst, seen: '%d.%m.%Y %H:%M'}\n"
        "outcomes:\n  date_formats: {occurred_at: monthfirst}\n",
    )
    assert settings.leads.date_formats["seen"] == "%d.%m.%Y %H:%M"
    with pytest.raises(ConfigError, match=r"leads\.date_formats.*'european' is not dayfirst"):
        _load(tmp_path, "leads:\n  date_formats: {created_at: european}\n")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-03-01T10:00:00+02:00", datetime(2026, 3, 1, 8, 0)),
        ("2026-03-01", datetime(2026, 3, 1)),
        ("25/11/2026", datetime(2026, 11, 25)),
        ("1767225600", datetime(2026, 1, 1)),
    ],
)
def test_cutoff_is_read_as_utc(tmp_path: Path, value: str, expected: datetime) -> None:
    """It reads labels.cutoff like a timestamp column: zones to UTC, epoch by magnitude."""
    settings = _load(tmp_path, f"labels:\n  cutoff: {value}\n")
    assert settings.labels.cutoff == expected


def test_ambiguous_cutoff_is_refused(tmp_path: Path) -> None:
    """It refuses a cutoff that reads both day-first and month-first."""
    with pytest.raises(ConfigError, match=r"labels\.cutoff.*write it year first"):
        _load(tmp_path, "labels:\n  cutoff: 01/02/2026\n")
