"""The simulated world: cohorts, truth, and the CRM events only worked leads produce."""

from __future__ import annotations

import numpy as np
import pytest

from leadloop.columns import LEAD_ID, OUTCOME
from leadloop.simulation import World, cohort, crm_events, history_worked, top_share, true_auc
from leadloop.simulation.world import LOST, WON, WORKED

WORLD = World(leads_per_month=400, seed=5)


def test_cohorts_are_deterministic_and_distinct() -> None:
    """It draws the same cohort for the same seed and month, and new leads each month."""
    a, b = cohort(WORLD, 2), cohort(WORLD, 2)
    assert a.leads.equals(b.leads)
    assert np.array_equal(a.luck, b.luck)
    assert not set(a.leads[LEAD_ID]) & set(cohort(WORLD, 3).leads[LEAD_ID])


def test_unworked_leads_never_convert() -> None:
    """It gives a lead nobody worked no event at all, so it can never be won."""
    leads = cohort(WORLD, 1)
    worked = np.zeros(len(leads.leads), dtype=bool)
    worked[::3] = True
    events = crm_events(WORLD, leads, worked, record_worked=True)
    ids = leads.leads[LEAD_ID].to_numpy()
    assert set(events[LEAD_ID]) <= set(ids[worked])
    won = set(events.loc[events[OUTCOME] == WON, LEAD_ID])
    assert won == set(ids[worked & leads.would_convert])
    assert set(events.loc[events[OUTCOME] == WORKED, LEAD_ID]) == set(ids[worked])
    assert set(events.loc[events[OUTCOME] == LOST, LEAD_ID]).isdisjoint(won)


def test_history_never_works_the_written_off_segment() -> None:
    """It works a capacity share of the history's leads, none from the written-off segment."""
    past = cohort(WORLD, 0)
    worked = history_worked(WORLD, past, 0.2)
    assert worked.sum() == int(0.2 * len(past.leads))
    assert not (worked & past.in_segment).any()


def test_segment_converts_better_when_worked() -> None:
    """It gives the written-off segment a higher true probability than the other leads."""
    leads = cohort(WORLD, 1)
    p = leads.true_probability
    assert p[leads.in_segment].mean() > 1.3 * p[~leads.in_segment].mean()


def test_true_auc_matches_drawn_outcomes() -> None:
    """It computes the AUC that outcomes drawn from the truth give on average."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    p = rng.beta(1, 6, 3000)
    scores = p + rng.normal(0, 0.05, p.size)
    drawn = [roc_auc_score(rng.uniform(size=p.size) < p, scores) for _ in range(200)]
    assert true_auc(p, scores) == pytest.approx(np.mean(drawn), abs=0.005)
    assert true_auc(p, np.zeros_like(p)) == pytest.approx(0.5)
    assert true_auc(p, -p) < 0.5 < true_auc(p, p)


def test_top_share_picks_the_highest_scores() -> None:
    """It marks exactly the ``count`` highest scores."""
    picked = top_share(np.array([0.1, 0.9, 0.5, 0.7]), 2)
    assert picked.tolist() == [False, True, False, True]
