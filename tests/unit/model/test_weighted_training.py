"""Training on inverse-propensity weights: the flattening of the weights is chosen by the
importance-weighted validation loss, and the choice is recorded."""

from __future__ import annotations

import numpy as np
import pandas as pd

from leadloop.config import ModelConfig, SplitConfig
from leadloop.model.train import FLATTENING, train_model


def _worked_world(seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Leads worked mostly when a feature says so (a few explored at random), with their
    propensities and outcomes."""
    rng = np.random.default_rng(seed)
    n = 12_000
    x = rng.normal(size=n)
    kind = rng.choice(["a", "b", "c"], n)
    truth = 1 / (1 + np.exp(-(-2.0 + 1.2 * x + 0.8 * (kind == "b"))))
    propensity = np.where(x > 0.5, 0.95, 0.05)
    worked = rng.random(n) < propensity
    y = np.asarray(rng.random(n) < truth, dtype=float)
    frame = pd.DataFrame({"x": x, "kind": kind})
    return frame[worked].reset_index(drop=True), y[worked], propensity[worked]


def test_the_flattening_with_the_least_weighted_validation_loss_is_kept() -> None:
    """It trains one fit per power, records each one's weighted validation loss, keeps the
    least, and the kept model's probabilities hold on all leads, not only the worked ones."""
    frame, y, propensity = _worked_world(3)
    weights = (1 / propensity) / (1 / propensity).mean()
    config = ModelConfig(num_boost_round=100)
    result = train_model(frame, y, config=config, split=SplitConfig(), weights=weights)
    record = result.to_dict()["weight_flattening"]
    losses = record["weighted_log_loss"]
    assert set(losses) == {str(p) for p in FLATTENING}
    assert record["power"] == FLATTENING[int(np.argmin(list(losses.values())))]
    rng = np.random.default_rng(4)
    x = rng.normal(size=20_000)
    kind = rng.choice(["a", "b", "c"], 20_000)
    everyone = pd.DataFrame({"x": x, "kind": kind})
    true_p = 1 / (1 + np.exp(-(-2.0 + 1.2 * x + 0.8 * (kind == "b"))))
    proba = result.model.predict_proba(everyone)
    assert abs(float(proba.mean()) - float(true_p.mean())) < 0.02
    assert (
        "weight_flattening"
        not in train_model(frame, y, config=config, split=SplitConfig()).to_dict()
    )
