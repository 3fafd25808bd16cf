"""Score records: score and grade mapping, and reasons from TreeSHAP contributions."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from leadloop.config import ModelConfig, SplitConfig
from leadloop.model.explain import score_matrix, to_grade, to_score
from leadloop.model.train import LeadModel, train_model


@pytest.fixture(scope="module")
def model() -> LeadModel:
    """A model trained on a planted signal: 'demo' = yes converts far more often."""
    rng = np.random.default_rng(1)
    n = 4000
    frame = pd.DataFrame(
        {
            "demo": rng.choice(["yes", "no"], n),
            "source": rng.choice(["web", "referral", "event"], n),
            "noise": rng.normal(size=n),
        }
    )
    logit = -2.0 + 2.5 * (frame["demo"] == "yes") + 0.8 * (frame["source"] == "referral")
    y = np.asarray(rng.random(n) < 1 / (1 + np.exp(-logit)), dtype=float)
    return train_model(frame, y, config=ModelConfig(num_boost_round=200), split=SplitConfig()).model


def test_score_and_grade_mapping() -> None:
    """It maps probabilities to whole scores 1-99 and to grades by the cut-offs."""
    proba = np.array([0.0, 0.004, 0.126, 0.5, 0.999])
    assert to_score(proba).tolist() == [1, 1, 13, 50, 99]
    grades = to_grade(np.array([0.45, 0.4, 0.25, 0.1, 0.05]), (0.4, 0.2, 0.1))
    assert grades.tolist() == ["A", "A", "B", "C", "D"]


def test_the_planted_signal_is_the_top_reason(model: LeadModel) -> None:
    """It names the planted feature first, with its value, in the lead's favour or against."""
    frame = pd.DataFrame({"demo": ["yes", "no"], "source": ["web", "web"], "noise": [0.0, 0.0]})
    values = {c: frame[c].to_numpy(dtype=object) for c in frame.columns}
    scores = score_matrix(
        model, model.encoder.transform(frame), values, cutoffs=(0.4, 0.2, 0.1), reasons=2
    )
    assert scores.reasons is not None
    yes, no = scores.reasons
    assert yes[0]["feature"] == "demo" and yes[0]["points"] > 0
    assert yes[0]["text"].startswith("demo = yes: +")
    assert any(r["feature"] == "demo" and r["points"] < 0 for r in no)
    assert scores.probability[0] > scores.probability[1]


def test_points_add_up_to_the_distance_from_the_baseline(model: LeadModel) -> None:
    """It scales contributions so they sum to the lead's score minus the baseline lead's."""
    frame = pd.DataFrame({"demo": ["yes"], "source": ["referral"], "noise": [1.0]})
    matrix = model.encoder.transform(frame)
    contrib = np.asarray(model.booster.predict(matrix, pred_contrib=True))
    base = 100 * model.calibrator.predict(np.array([contrib[0, -1]]))[0]
    values = {c: frame[c].to_numpy(dtype=object) for c in frame.columns}
    scores = score_matrix(model, matrix, values, cutoffs=(0.4, 0.2, 0.1), reasons=3)
    assert scores.reasons is not None
    total = sum(r["points"] for r in scores.reasons[0])
    assert total == pytest.approx(100 * scores.probability[0] - base, abs=0.5)


def test_no_reasons_when_none_are_asked(model: LeadModel) -> None:
    """It skips contributions with reasons=0 and gives the same probabilities."""
    frame = pd.DataFrame({"demo": ["yes", "no"], "source": ["web", "event"], "noise": [0.1, 2.0]})
    matrix = model.encoder.transform(frame)
    plain = score_matrix(model, matrix, {}, cutoffs=(0.4, 0.2, 0.1), reasons=0)
    full = score_matrix(model, matrix, {}, cutoffs=(0.4, 0.2, 0.1), reasons=3)
    assert plain.reasons is None and full.reasons is not None
    np.testing.assert_allclose(plain.probability, full.probability, rtol=1e-12)


def test_json_reasons_are_the_records_as_json(model: LeadModel) -> None:
    """It writes each lead's reasons for files as exactly json.dumps of the records' reasons."""
    frame = pd.DataFrame(
        {
            "demo": ["yes", "no", None, "yes"],
            "source": ['ré"ferral\\', "web", "a new source", None],
            "noise": [0.25, np.nan, -3.0, 12345.678],
        }
    )
    values = {c: frame[c].to_numpy(dtype=object) for c in frame.columns}
    matrix = model.encoder.transform(frame)
    as_dicts = score_matrix(model, matrix, values, cutoffs=(0.4, 0.2, 0.1), reasons=3)
    as_json = score_matrix(model, matrix, values, cutoffs=(0.4, 0.2, 0.1), reasons=3, as_json=True)
    assert as_dicts.reasons is not None and as_json.reasons_json is not None
    assert as_json.reasons_json == [json.dumps(r) for r in as_dicts.reasons]
    assert any(r for r in as_dicts.reasons)
