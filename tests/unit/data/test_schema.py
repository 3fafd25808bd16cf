"""Validation of leads and outcomes: standard shape out, one clear error for bad input."""

import pandas as pd
import pytest

from leadloop.config import LeadsConfig, OutcomesConfig
from leadloop.data.schema import parse_timestamps, prepare_leads, prepare_outcomes
from leadloop.errors import InputError


def _leads(**extra: list[object]) -> pd.DataFrame:
    data: dict[str, list[object]] = {
        "lead_id": ["a", "b", "c"],
        "created_at": ["2025-01-01", "2025-01-02 10:00", "2025-01-03T08:30:00Z"],
        "size": [1, 2, 3],
    }
    data.update(extra)
    return pd.DataFrame(data)


def test_leads_normalised() -> None:
    """It returns lead_id and created_at first, as strings and naive timestamps."""
    prepared = prepare_leads(_leads(), LeadsConfig(), source="leads.csv")
    frame = prepared.frame
    assert list(frame.columns[:2]) == ["lead_id", "created_at"]
    assert frame["created_at"].dtype == "datetime64[ns]"
    assert frame["created_at"].iloc[2] == pd.Timestamp("2025-01-03 08:30")
    assert prepared.has_created_at and prepared.history_label is None


def test_duplicate_ids_named() -> None:
    """It refuses duplicate lead ids naming the first ones and the rows."""
    raw = _leads()
    raw.loc[2, "lead_id"] = "a"
    with pytest.raises(
        InputError, match=r"leads\.csv, column 'lead_id', rows 1, 3: duplicate lead ids \['a'\]"
    ):
        prepare_leads(raw, LeadsConfig(), source="leads.csv")


def test_missing_id_column_derives_hash_ids_with_warning() -> None:
    """It derives stable ids from a row hash when there is no id column, and warns."""
    raw = _leads().drop(columns=["lead_id"])
    first = prepare_leads(raw, LeadsConfig(), source="x.csv")
    second = prepare_leads(raw.copy(), LeadsConfig(), source="x.csv")
    assert first.frame["lead_id"].tolist() == second.frame["lead_id"].tolist()
    assert first.frame["lead_id"].is_unique
    assert "derived from a hash" in first.warnings[0]


def test_configured_id_column_must_exist() -> None:
    """It refuses a configured id column that the file lacks."""
    with pytest.raises(InputError, match="column 'customer'"):
        prepare_leads(_leads(), LeadsConfig(id_column="customer"), source="x.csv")


def test_no_created_at_warns() -> None:
    """It warns that out-of-time evaluation is impossible without a creation timestamp."""
    prepared = prepare_leads(_leads().drop(columns=["created_at"]), LeadsConfig(), source="x")
    assert not prepared.has_created_at
    assert "out-of-time" in prepared.warnings[0]


def test_unparseable_date_named() -> None:
    """It names the column and row of an unparseable timestamp."""
    raw = _leads(created_at=["2025-01-01", "yesterday-ish", "2025-01-03"])
    with pytest.raises(InputError, match=r"column 'created_at', rows 2: cannot parse timestamp"):
        prepare_leads(raw, LeadsConfig(), source="x.csv")


def test_history_label_parsed_and_single_class_refused() -> None:
    """It maps yes/no labels to 1/0 and refuses a label with a single class."""
    ok = prepare_leads(
        _leads(converted=["yes", "no", None]), LeadsConfig(label_column="converted"), source="x"
    )
    assert ok.history_label is not None
    assert ok.history_label.tolist()[:2] == [1.0, 0.0]
    assert "converted" not in ok.frame.columns
    with pytest.raises(InputError, match="single class"):
        prepare_leads(
            _leads(converted=["yes", "yes", "yes"]),
            LeadsConfig(label_column="converted"),
            source="x",
        )


def test_empty_leads_refused() -> None:
    """It refuses a leads table with no rows."""
    with pytest.raises(InputError, match="no rows"):
        prepare_leads(_leads().iloc[0:0], LeadsConfig(), source="x.csv")


def _events(**extra: list[object]) -> pd.DataFrame:
    data: dict[str, list[object]] = {
        "lead_id": ["a", "b"],
        "outcome": ["Closed Won", " closed lost "],
        "occurred_at": ["2025-02-01", "2025-02-02"],
    }
    data.update(extra)
    return pd.DataFrame(data)


def test_outcomes_mapped() -> None:
    """It maps CRM values to won/lost case-insensitively and fills optional columns."""
    leads = prepare_leads(_leads(), LeadsConfig(), source="x").frame
    out = prepare_outcomes(_events(), OutcomesConfig(), source="o.csv", leads=leads)
    assert out["outcome"].tolist() == ["won", "lost"]
    assert list(out.columns) == ["lead_id", "outcome", "occurred_at", "event_id", "amount"]


def test_unmapped_outcome_named() -> None:
    """It names outcome values outside the mapping and their rows."""
    leads = prepare_leads(_leads(), LeadsConfig(), source="x").frame
    raw = _events(outcome=["Closed Won", "Negotiation"])
    with pytest.raises(
        InputError, match=r"column 'outcome', rows 2: outcome values \['Negotiation'\]"
    ):
        prepare_outcomes(raw, OutcomesConfig(), source="o.csv", leads=leads)


def test_no_id_refused_unless_row_order() -> None:
    """It never joins by row order unless configured, and then needs equal lengths."""
    leads = prepare_leads(_leads(), LeadsConfig(), source="x").frame
    raw = _events().drop(columns=["lead_id"])
    with pytest.raises(InputError, match="never joined to leads by row order"):
        prepare_outcomes(raw, OutcomesConfig(), source="o.csv", leads=leads)
    with pytest.raises(InputError, match="as many outcome rows as leads"):
        prepare_outcomes(raw, OutcomesConfig(join="row_order"), source="o.csv", leads=leads)
    three = pd.concat([raw, raw.head(1)], ignore_index=True)
    out = prepare_outcomes(three, OutcomesConfig(join="row_order"), source="o.csv", leads=leads)
    assert out["lead_id"].tolist() == ["a", "b", "c"]


def test_timezones_become_naive_utc() -> None:
    """It converts zoned timestamps to naive UTC."""
    parsed = parse_timestamps(pd.Series(["2025-01-01T12:00:00+02:00"]), column="t", source="s")
    assert parsed.iloc[0] == pd.Timestamp("2025-01-01 10:00")
