"""The leak guard on generated CRM exports: every kind of leak found with its reason, honest
columns kept."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from leadloop import leaks
from leadloop.data.labels import young_leads
from leadloop.data.synthetic import SyntheticSpec, generate
from leadloop.features import FeatureEncoder
from tests.leaky import HONEST, Export, labelled, leaky_export


@pytest.fixture(scope="module")
def export() -> Export:
    return leaky_export()


def _fit(export: Export, **settings: object) -> FeatureEncoder:
    frame, y = labelled(export)
    young = young_leads(export.leads, export.labels)
    return FeatureEncoder(**settings).fit(frame, y, young=young)  # type: ignore[arg-type]


def _findings(encoder: FeatureEncoder) -> dict[str, leaks.Finding]:
    return {f.column: f for f in encoder.findings_}


def test_every_leak_in_an_export_is_excluded_with_its_evidence(export: Export) -> None:
    """It excludes the id, the generator's score, the status tags and the rating, keeping every
    honest column, each exclusion naming its check, figure and threshold."""
    encoder = _fit(export)
    found = _findings(encoder)
    assert encoder.feature_names_ == list(HONEST)
    assert set(found) == {"Lead Number", "lead_score", "Tags", "Lead Quality"}
    assert found["Lead Number"].check == leaks.ID_CHECK
    assert "tracks row order (Spearman +1.00)" in found["Lead Number"].evidence
    assert found["lead_score"].check == leaks.DOMINANT_CHECK
    assert found["lead_score"].figures["auc_alone"] > 0.8
    assert (
        "alone AUC 0.8" in found["lead_score"].evidence
        and "95% lower bound 0.8" in found["lead_score"].evidence
        and ">= 0.714" in found["lead_score"].evidence
    )
    for name, finding in found.items():
        assert encoder.excluded_[name] == finding.reason
        assert finding.reason.endswith("declare it in leads.feature_types to keep it")


def test_a_status_field_is_caught_by_its_pure_values_only(export: Export) -> None:
    """It names the status values that are nearly pure in the outcome, not the mixed ones."""
    tags = _findings(_fit(export))["Tags"]
    assert tags.check == leaks.PURE_CHECK
    assert "'Ringing' is 100% lost" in tags.evidence
    assert "'Closed by Horizzon' is 100% won" in tags.evidence
    assert "Interested" not in tags.evidence and "Busy" not in tags.evidence
    assert "Bonferroni" in tags.evidence


def test_a_rating_given_only_to_contacted_leads_is_caught_by_decided_vs_undecided() -> None:
    """It flags a rating that decided recent leads have and undecided ones lack, even when the
    rating barely relates to the outcome and is filled on every labelled lead."""
    export = leaky_export(unmatured="exclude")
    frame, y = labelled(export)
    assert frame["Lead Quality"].notna().all()
    encoder = _fit(export)
    rating = _findings(encoder)["Lead Quality"]
    assert rating.check == leaks.AFTER_CHECK
    assert "filled on 100% of" in rating.evidence and "0% of 1,061 undecided" in rating.evidence
    without_young = FeatureEncoder().fit(frame, y)
    assert "Lead Quality" in without_young.feature_names_


def test_a_declared_column_is_kept_and_its_finding_marked_kept(export: Export) -> None:
    """It keeps a flagged column the configuration declares, and still records the finding."""
    encoder = _fit(export, feature_types={"Tags": "categorical", "Lead Number": "numeric"})
    found = _findings(encoder)
    assert {"Tags", "Lead Number"} <= set(encoder.feature_names_)
    assert found["Tags"].kept and found["Lead Number"].kept
    assert not found["lead_score"].kept and "lead_score" in encoder.excluded_


def test_findings_survive_the_json_round_trip(export: Export) -> None:
    """It saves every finding with its figures beside the encoding and reads them back."""
    encoder = _fit(export)
    data = json.loads(json.dumps(encoder.to_dict()))
    assert {f["column"] for f in data["leak_findings"]} == set(_findings(encoder))
    again = FeatureEncoder.from_dict(data)
    assert again.findings_ == encoder.findings_


@pytest.mark.parametrize("n", [600, 4000])
def test_clean_synthetic_data_loses_no_column(n: int) -> None:
    """It flags nothing in the bundled synthetic data, young leads included."""
    export = leaky_export(n=n, seed=5)
    frame, y = labelled(export)
    honest = frame[["lead_id", "created_at", *HONEST]]
    young = young_leads(export.leads, export.labels)
    assert young is not None
    encoder = FeatureEncoder().fit(honest, y, young=young)
    assert encoder.findings_ == []
    assert encoder.feature_names_ == list(HONEST)


def test_a_clock_that_tracks_creation_time_is_caught_whatever_the_row_order() -> None:
    """It flags a near-unique number that follows the creation time though rows are shuffled."""
    data = generate(SyntheticSpec(n_leads=2000, months=6, seed=2))
    leads = data.leads.sample(frac=1.0, random_state=0).reset_index(drop=True)
    leads["form_epoch"] = leads["created_at"].astype("int64") // 10**9 + np.arange(len(leads)) % 7
    encoder = FeatureEncoder().fit(leads)
    finding = _findings(encoder)["form_epoch"]
    assert finding.check == leaks.ID_CHECK and "tracks creation time" in finding.evidence
    assert "annual_revenue" in encoder.feature_names_  # near-unique, but no clock


def test_text_ids_name_their_share_of_distinct_values() -> None:
    """It excludes a text id with the share of distinct values as evidence."""
    frame = pd.DataFrame(
        {"Prospect ID": [f"7927b2df-{i:04d}" for i in range(300)], "size": np.arange(300) % 7}
    )
    encoder = FeatureEncoder().fit(frame)
    assert encoder.excluded_["Prospect ID"].startswith("free text or id-like: 300 distinct")
    assert "> 50% distinct" in encoder.excluded_["Prospect ID"]


def test_pure_values_need_real_support() -> None:
    """It does not call a small value pure although none of its leads converted."""
    rng = np.random.default_rng(4)
    n = 3000
    y = (rng.uniform(size=n) < 0.12).astype(float)
    region = np.where(np.arange(n) < 60, "tiny", rng.choice(["north", "south"], n))
    y[:60] = 0.0  # 60 leads, none won: 0 of 60 is what a 1% rate would often give
    found = leaks.pure_values({"region": pd.Series(region)}, y)
    assert found == []
    many = np.where(np.arange(n) < 900, "gone quiet", region)
    y[:900] = 0.0
    assert [f.column for f in leaks.pure_values({"region": pd.Series(many)}, y)] == ["region"]


def test_a_strong_segment_is_kept_where_a_number_as_strong_is_not() -> None:
    """It keeps a strong honest yes/no segment that dominates a sparse table (its values are
    mixed, not pure), but flags a number recorded with the outcome that dominates as much."""
    rng = np.random.default_rng(1)
    n = 4000
    frame = pd.DataFrame(
        {"demo": rng.choice(["yes", "no"], n), "source": rng.choice(["web", "referral"], n)}
    )
    logit = -2.0 + 2.5 * (frame["demo"] == "yes") + 0.5 * (frame["source"] == "referral")
    y = np.asarray(rng.random(n) < 1 / (1 + np.exp(-logit)), dtype=float)
    assert FeatureEncoder().fit(frame, y).findings_ == []
    frame["call_minutes"] = np.round(np.exp(rng.normal(1.0 + 1.3 * y, 0.8)), 1)
    found = _findings(FeatureEncoder().fit(frame, y))
    assert set(found) == {"call_minutes"}
    assert found["call_minutes"].check == leaks.DOMINANT_CHECK


def test_value_states_are_the_values_as_text() -> None:
    """States are the distinct texts, sorted, missing last: values that hash alike but read
    differently (1 and True) stay apart, values that read alike (1 and "1") are one state."""
    rng = np.random.default_rng(4)
    choices = np.array([1, "1", 2.0, True, "x", "b", None], dtype=object)
    values = pd.Series(rng.choice(choices, 2_000), dtype=object)
    codes, names, _ = leaks.value_states(values)
    text = values.dropna().astype(str)
    expected = text.value_counts().sort_index()
    assert names == [*[f"'{t}'" for t in expected.index], "missing"]
    counts = np.bincount(codes, minlength=len(names))
    assert counts.tolist() == [*expected.tolist(), int(values.isna().sum())]
    # each row's state is its own text
    present = values.notna().to_numpy()
    assert [names[c] for c in codes[present]] == [f"'{t}'" for t in text]
