"""Leads and outcomes as real CRM exports bring them: no ids, CRM label words, local dates."""

from __future__ import annotations

import pandas as pd
import pytest

from leadloop.config import LeadsConfig, OutcomesConfig
from leadloop.data.schema import prepare_leads, prepare_outcomes, prepare_to_score
from leadloop.errors import InputError


def _export() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Created": ["01/02/2026", "03/04/2026", "05/06/2026"],
            "Last Visit": ["02/01/2026", "25/03/2026", "01/06/2026"],
            "size": [10, 20, 30],
            "Converted": ["Closed Won", "Closed Lost", None],
        }
    )


def _config(**extra: object) -> LeadsConfig:
    return LeadsConfig(
        id_column=None,
        created_at_column="Created",
        label_column="Converted",
        feature_types={"Last Visit": "datetime"},
        **extra,  # type: ignore[arg-type]
    )


def test_null_id_column_hashes_ids_with_a_warning() -> None:
    """It derives stable ids from each row when leads.id_column is null, and says so."""
    config = _config(date_formats={"Created": "dayfirst"})
    first = prepare_leads(_export(), config, source="x.csv")
    again = prepare_leads(_export(), config, source="x.csv")
    assert first.frame["lead_id"].tolist() == again.frame["lead_id"].tolist()
    assert first.frame["lead_id"].str.fullmatch(r"h[0-9a-f]{16}").all()
    assert any("id_column is null" in w for w in first.warnings)


def test_label_column_uses_the_outcome_mapping() -> None:
    """It maps the label column with the CRM's won/lost words; a missing label stays missing."""
    prepared = prepare_leads(
        _export(),
        _config(date_formats={"Created": "dayfirst"}),
        source="x.csv",
        outcome_values=(["Closed Won"], ["Closed Lost"]),
    )
    assert prepared.history_label is not None
    assert prepared.history_label.tolist()[:2] == [1.0, 0.0]
    assert pd.isna(prepared.history_label.iloc[2])


def test_ambiguous_created_at_is_refused_until_configured() -> None:
    """It refuses an ambiguous creation column naming it, and reads it as configured."""
    values = (["Closed Won"], ["Closed Lost"])
    with pytest.raises(InputError, match=r"x\.csv, column 'Created': .*'01/02/2026' and"):
        prepare_leads(_export(), _config(), source="x.csv", outcome_values=values)
    prepared = prepare_leads(
        _export(),
        _config(date_formats={"Created": "%m/%d/%Y"}),
        source="x.csv",
        outcome_values=values,
    )
    assert prepared.frame["created_at"].tolist() == [
        pd.Timestamp("2026-01-02"),
        pd.Timestamp("2026-03-04"),
        pd.Timestamp("2026-05-06"),
    ]


def test_datetime_feature_is_read_one_format_per_column() -> None:
    """It parses a declared datetime feature once per column: '25/03/2026' makes the whole
    column day-first, so '02/01/2026' is 2 January, in training and in scoring alike."""
    config = _config(date_formats={"Created": "dayfirst"})
    expected = [pd.Timestamp("2026-01-02"), pd.Timestamp("2026-03-25"), pd.Timestamp("2026-06-01")]
    prepared = prepare_leads(
        _export(), config, source="x.csv", outcome_values=(["Closed Won"], ["Closed Lost"])
    )
    assert prepared.frame["Last Visit"].tolist() == expected
    scored = prepare_to_score(_export().drop(columns=["Converted"]), config, source="s.csv")
    assert scored["Last Visit"].tolist() == expected
    assert scored["created_at"].iloc[0] == pd.Timestamp("2026-02-01")


def test_outcome_dates_follow_their_setting() -> None:
    """It reads an ambiguous occurred_at by outcomes.date_formats and refuses it without."""
    leads = pd.DataFrame({"lead_id": ["a", "b"]})
    raw = pd.DataFrame(
        {"lead_id": ["a", "b"], "outcome": ["won", "lost"], "occurred_at": ["01/02/26", "03/04/26"]}
    )
    with pytest.raises(InputError, match=r"outcomes\.date_formats: \{occurred_at: dayfirst\}"):
        prepare_outcomes(raw, OutcomesConfig(), source="o.csv", leads=leads)
    config = OutcomesConfig(date_formats={"occurred_at": "dayfirst"})
    out = prepare_outcomes(raw, config, source="o.csv", leads=leads)
    assert out["occurred_at"].tolist() == [pd.Timestamp("2026-02-01"), pd.Timestamp("2026-04-03")]


def test_zoned_datetime_feature_from_parquet_becomes_naive_utc() -> None:
    """It converts a zoned datetime column, as Parquet brings it, to naive UTC."""
    raw = pd.DataFrame(
        {
            "lead_id": ["a", "b"],
            "created_at": ["2026-01-01", "2026-01-02"],
            "seen": pd.to_datetime(["2026-01-01 01:00", "2026-01-02 01:00"]).tz_localize(
                "Europe/Berlin"
            ),
        }
    )
    frame = prepare_leads(raw, LeadsConfig(), source="x.parquet").frame
    assert frame["seen"].tolist() == [pd.Timestamp("2026-01-01"), pd.Timestamp("2026-01-02")]
