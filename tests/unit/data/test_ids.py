"""Outcome ids joined to leads: exactly, else in one normal form, with a warning counting them."""

from __future__ import annotations

import pandas as pd

from leadloop.config import OutcomesConfig
from leadloop.data.ids import match_ids, normal_form, visible
from leadloop.data.schema import prepare_outcome_events

LEADS = pd.Series(["L0001", "L0002", "L0003", "00Q5e000001AbCd", "00Q5e000001abcd"])


def test_ids_differing_by_case_or_invisible_characters_find_their_lead() -> None:
    """It joins 'l0002', 'L0003' with a zero-width space and 'L0001' with a non-breaking space
    to their leads, and counts them."""
    given = pd.Series(["L0001", "l0002", "L0003\u200b", "\u00a0L0001", "zz", None])
    matched = match_ids(given, LEADS)
    assert matched.ids.tolist()[:5] == ["L0001", "L0002", "L0003", "L0001", "zz"]
    assert pd.isna(matched.ids.iloc[5])
    assert matched.normalised == 3
    warning = matched.warning("outcomes.csv")
    assert warning is not None and "3 outcome events" in warning and "'l0002'" in warning


def test_case_distinct_lead_ids_stay_distinct() -> None:
    """It does not guess between two leads whose ids differ only by case (Salesforce ids)."""
    matched = match_ids(pd.Series(["00Q5E000001ABCD", "00Q5e000001AbCd"]), LEADS)
    assert matched.ids.tolist() == ["00Q5E000001ABCD", "00Q5e000001AbCd"]
    assert matched.normalised == 0 and matched.warning("o.csv") is None


def test_normal_form_and_visible() -> None:
    """It folds case, compatibility forms and spaces, drops format characters, and shows
    invisible ones as escapes."""
    assert normal_form("\ufeffＬ0001\u00a0 \u200d") == "l0001"
    assert visible("L1\u200b\u00a0") == "L1\\u200b\\u00a0"


def test_prepared_outcomes_carry_the_warning() -> None:
    """It names the file and the count in the outcomes' warnings, so a run reports them."""
    raw = pd.DataFrame(
        {
            "lead_id": ["l0001", "L0002"],
            "outcome": ["won", "lost"],
            "occurred_at": ["2026-01-02", "2026-01-03"],
        }
    )
    prepared = prepare_outcome_events(
        raw, OutcomesConfig(), source="o.csv", leads=pd.DataFrame({"lead_id": LEADS})
    )
    assert prepared.frame["lead_id"].tolist() == ["L0001", "L0002"]
    assert len(prepared.warnings) == 1 and prepared.warnings[0].startswith("o.csv: 1 outcome")
