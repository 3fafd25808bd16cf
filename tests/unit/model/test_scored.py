"""A model scored once on a set of leads answers for any of them as predicting them would."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leadloop.config import ModelConfig, SplitConfig
from leadloop.model.scored import Scored
from leadloop.model.train import LeadModel, train_model


def _leads(n: int, *, seed: int, start: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "lead_id": [f"L-{start + i}" for i in range(n)],
            "source": rng.choice(["web", "referral", "event"], n),
            "visits": rng.poisson(3, n).astype(float),
        }
    )


@pytest.fixture(scope="module")
def model() -> LeadModel:
    frame = _leads(3000, seed=1)
    logit = -1.5 + 1.2 * (frame["source"] == "referral") + 0.3 * frame["visits"]
    y = np.asarray(np.random.default_rng(2).random(3000) < 1 / (1 + np.exp(-logit)), dtype=float)
    config = ModelConfig(num_boost_round=60)
    return train_model(frame.drop(columns="lead_id"), y, config=config, split=SplitConfig()).model


def test_looked_up_scores_equal_predicting_the_rows(model: LeadModel) -> None:
    """It gives a subset in any order, and rows it never scored, exactly the probabilities and
    margins that predicting those rows gives, and leaves its own margins untouched."""
    newest = _leads(500, seed=3)
    scored = Scored.of(model, newest, source="newest leads")
    kept = scored.margin.copy()
    np.testing.assert_array_equal(scored.proba, model.predict_proba(newest))

    rows = pd.concat([newest.sample(120, random_state=4), _leads(30, seed=5, start=10_000)])
    np.testing.assert_array_equal(
        scored.proba_of(rows, source="holdout"), model.predict_proba(rows)
    )
    direct = model.forest.margin(model.encoder.transform(rows))
    np.testing.assert_array_equal(scored.margin_of(rows, source="holdout"), direct)
    np.testing.assert_array_equal(scored.margin, kept)


def test_no_newest_leads_and_repeated_ids(model: LeadModel) -> None:
    """With no newest leads every row is predicted; with a lead id given twice it predicts
    instead of guessing which row was meant."""
    rows = _leads(40, seed=6)
    empty = Scored.of(model, rows.iloc[:0], source="newest leads")
    assert len(empty.margin) == 0 and len(empty.proba) == 0
    np.testing.assert_array_equal(empty.proba_of(rows, source="young"), model.predict_proba(rows))

    twice = pd.concat([rows, rows.assign(visits=rows["visits"] + 5)])
    scored = Scored.of(model, twice, source="newest leads")
    np.testing.assert_array_equal(scored.proba_of(rows, source="young"), model.predict_proba(rows))
