"""Label-quality checks on generated leads whose true outcomes are known.

A champion is trained on clean early leads; the checks judge labels of later leads that are
clean, 20% flipped or shuffled, at base rates of 3%, 12% and 50%.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest

from leadloop.config import LabelQualityConfig, ModelConfig, SplitConfig
from leadloop.data.synthetic import SyntheticSpec, generate
from leadloop.label_null import auc_of_draws, shift_to_rate
from leadloop.label_quality import LabelPolicy, LabelQuality, assess_labels, cohen_kappa
from leadloop.model.train import train_model

N, FIT = 9000, 5000
POLICY = LabelPolicy(LabelQualityConfig(null_draws=100))


@dataclass(frozen=True)
class Case:
    """Later leads' true outcomes, the champion's own and calibrated probabilities on them."""

    y: np.ndarray
    champion: np.ndarray
    challenger: np.ndarray
    offsets: dict[str, float]


@pytest.fixture(scope="module", params=[0.03, 0.12, 0.5], ids=["3%", "12%", "50%"])
def case(request: pytest.FixtureRequest) -> Case:
    data = generate(SyntheticSpec(n_leads=N, months=12, seed=21, base_rate=request.param))
    y = data.truth["converted"].to_numpy().astype(float)
    frame = data.leads.drop(columns=["lead_id"])
    model = train_model(
        frame.iloc[:FIT], y[:FIT], config=ModelConfig(num_threads=1), split=SplitConfig()
    ).model
    later = frame.iloc[FIT:]
    margin = model.booster.predict(model.encoder.transform(later), raw_score=True)
    return Case(
        y[FIT:],
        1 / (1 + np.exp(-np.asarray(margin))),
        model.predict_proba(later),
        model.metadata.label_null or {},
    )


def _assess(case: Case, labels: np.ndarray) -> LabelQuality:
    return assess_labels(
        labels,
        champion=case.champion,
        challenger=case.challenger,
        history=(labels, case.y),
        offsets=case.offsets,
        policy=POLICY,
    )


def _failed(quality: LabelQuality) -> set[str]:
    return {c.name for c in quality.failures()}


def test_clean_labels_raise_no_alarm(case: Case) -> None:
    """It passes every check on clean labels, whatever the base rate."""
    quality = _assess(case, case.y)
    assert quality.passed, [c.detail for c in quality.failures()]
    assert all(c.ran for c in quality.checks)


def test_flipped_labels_alarm(case: Case) -> None:
    """It alarms on 20% flipped labels: the champion's fit and the history agreement fail."""
    flips = np.random.default_rng(0).uniform(size=len(case.y)) < 0.2
    quality = _assess(case, np.where(flips, 1 - case.y, case.y))
    assert {"champion_fit", "history_agreement"} <= _failed(quality)


def test_flipped_labels_are_counted_beyond_chance(case: Case) -> None:
    """It counts labels contradicting a confident champion beyond chance when 20% are flipped."""
    flips = np.random.default_rng(0).uniform(size=len(case.y)) < 0.2
    quality = _assess(case, np.where(flips, 1 - case.y, case.y))
    check = quality.check("suspicious_share")
    assert check.value is not None and check.null_upper is not None
    assert check.value > check.null_upper


def test_shuffled_labels_alarm(case: Case) -> None:
    """It alarms on labels unrelated to the leads: the champion's fit and the agreement fail,
    and no model ranks them much better than chance (no_signal is a 2.5%-level test, so it can
    pass by chance; the other two cannot)."""
    quality = _assess(case, np.random.default_rng(3).permutation(case.y))
    assert {"champion_fit", "history_agreement"} <= _failed(quality)
    assert (quality.check("no_signal").value or 1.0) < 0.6


def test_labels_without_signal_are_named() -> None:
    """It says the labels carry no signal when no model ranks them above chance."""
    rng = np.random.default_rng(5)
    y = (rng.uniform(size=3000) < 0.12).astype(float)
    quality = assess_labels(y, champion=rng.uniform(size=3000), policy=POLICY)
    check = quality.check("no_signal")
    assert check.passed is False and "no signal" in check.detail


def test_counts_refer_to_the_minority_class() -> None:
    """It names the minority class and counts against it when 96.5% of leads are won."""
    rng = np.random.default_rng(1)
    p = np.clip(rng.beta(12, 0.5, 4000), 0.01, 0.999)
    y = (rng.uniform(size=4000) < p).astype(float)
    quality = assess_labels(y, champion=p, history=(y, y), policy=POLICY)
    assert quality.minority == "lost"
    assert "lost leads, the minority class" in quality.check("suspicious_share").detail
    assert quality.passed


def test_agreement_by_chance_fails_kappa() -> None:
    """It fails history agreement that is only chance agreement, even when it is 96% raw."""
    rng = np.random.default_rng(2)
    crm = (rng.uniform(size=3000) < 0.965).astype(float)
    old = (rng.uniform(size=3000) < 0.965).astype(float)
    p = np.full(3000, 0.965)
    quality = assess_labels(crm, champion=p + rng.normal(0, 0.001, 3000), history=(crm, old))
    check = quality.check("history_agreement")
    assert check.passed is False and abs(check.value or 0) < 0.1


def test_checks_that_cannot_run_say_so() -> None:
    """It marks checks that cannot be computed as not run, with the reason, never as passed."""
    y = np.zeros(100)
    quality = assess_labels(y, champion=np.full(100, 0.1))
    assert all(c.passed is None and c.detail.startswith("Not run") for c in quality.checks)
    quality = assess_labels(np.r_[y, np.ones(50)], champion=np.linspace(0, 1, 150))
    history = quality.check("history_agreement")
    assert history.passed is None and not history.ran


def test_helpers() -> None:
    """It computes AUC per draw, kappa and the base-rate shift exactly."""
    ranks = np.array([1.0, 2.0, 3.0, 4.0])
    assert auc_of_draws(np.array([[0, 0, 1, 1], [1, 0, 1, 0]], dtype=float), ranks).tolist() == [
        1.0,
        0.25,
    ]
    assert cohen_kappa(np.array([50, 0, 0, 50]))[0] == 1.0
    assert abs(cohen_kappa(np.array([25, 25, 25, 25]))[0]) < 1e-12
    assert abs(shift_to_rate(np.full(10, 0.2), 0.5).mean() - 0.5) < 1e-6


def test_deterministic_and_json(case: Case) -> None:
    """It gives the same figures twice and a JSON-ready record."""
    a, b = _assess(case, case.y), _assess(case, case.y)
    assert [c.value for c in a.checks] == [c.value for c in b.checks]
    json.dumps(a.to_dict())


def test_null_offset_is_cross_fitted_on_every_labelled_row() -> None:
    """The champion's null offset rests on all its labelled rows, each scored by a fold model
    that never saw it, not on the 30% held out of its own fit: so its uncertainty, which widens
    every later alarm bound, is that of an AUC on all the rows (about sqrt(0.3) of the slices')."""
    from leadloop.label_null import null_offsets
    from leadloop.model.train import _slices

    data = generate(SyntheticSpec(n_leads=4000, months=12, seed=5))
    y = data.truth["converted"].to_numpy().astype(float)
    frame = data.leads.drop(columns=["lead_id"])
    config, split = ModelConfig(num_threads=1), SplitConfig()
    model = train_model(frame, y, config=config, split=split).model
    _, valid_idx, cal_idx = _slices(y, split=split, seed=config.seed)
    held = np.concatenate([valid_idx, cal_idx])
    margin = model.booster.predict(model.encoder.transform(frame.iloc[held]), raw_score=True)
    slices_only = null_offsets(y[held], 1 / (1 + np.exp(-np.asarray(margin))))
    offsets = model.metadata.label_null or {}
    assert offsets["auc_sd"] < 0.75 * slices_only["auc_sd"]
    assert set(offsets) == {"auc", "auc_sd", "share", "share_sd"}
