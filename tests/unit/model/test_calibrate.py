"""Calibrators learn a monotone mapping and survive a JSON round trip."""

import json
from typing import Literal

import numpy as np
import pytest

from leadloop.model.calibrate import Calibrator


@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
def test_calibrates_and_round_trips(method: Literal["isotonic", "sigmoid"]) -> None:
    """It brings mean probability near the observed rate and reloads from JSON identically."""
    rng = np.random.default_rng(1)
    margin = rng.normal(size=4000)
    truth = 1 / (1 + np.exp(-(2 * margin - 1)))
    y = (rng.uniform(size=4000) < truth).astype(float)
    cal = Calibrator(method=method).fit(margin, y)
    proba = cal.predict(margin)
    assert abs(proba.mean() - y.mean()) < 0.02
    assert np.all(np.diff(cal.predict(np.sort(margin))) >= -1e-12)
    again = Calibrator.from_dict(json.loads(json.dumps(cal.to_dict())))
    np.testing.assert_allclose(again.predict(margin), proba)


def test_isotonic_on_few_effective_weighted_leads_becomes_sigmoid() -> None:
    """It keeps isotonic for unweighted or well-spread weights and switches to sigmoid when a
    few heavy inverse-propensity weights leave under a thousand effective leads."""
    from leadloop.model.train import calibration_method

    heavy = np.r_[np.ones(2_900), np.full(100, 100.0)]  # Kish: about 120 of 3,000
    spread = np.r_[np.ones(1_500), np.full(1_500, 2.0)]  # Kish: about 2,700
    assert calibration_method("isotonic", np.ones(3_000)) == "isotonic"
    assert calibration_method("isotonic", np.ones(300)) == "isotonic"  # unweighted: as set
    assert calibration_method("isotonic", spread) == "isotonic"
    assert calibration_method("isotonic", heavy) == "sigmoid"
    assert calibration_method("sigmoid", np.ones(3_000)) == "sigmoid"
