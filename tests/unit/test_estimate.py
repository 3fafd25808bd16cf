"""Confidence-based performance estimation for leads whose outcomes have not matured."""

from __future__ import annotations

import numpy as np
import pytest

from leadloop.estimate import Backtest, backtest, check_estimate, estimate_performance, expected_auc


def _leads(seed: int, n: int = 2000) -> np.ndarray:
    return np.random.default_rng(seed).beta(1.2, 8.0, size=n)


def _outcomes(p: np.ndarray, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).uniform(size=len(p)) < p).astype(float)


def test_expected_auc_is_the_pairwise_expectation() -> None:
    """It equals sum p_i (1 - p_j) [p_i > p_j, ties half] over sum p_i (1 - p_j), i != j."""
    p = np.round(_leads(1, 300), 2)  # rounded: many ties
    pairs = p[:, None] * (1 - p[None, :])
    np.fill_diagonal(pairs, 0.0)
    right = (p[:, None] > p[None, :]) + 0.5 * (p[:, None] == p[None, :])
    assert expected_auc(p) == pytest.approx(float((pairs * right).sum() / pairs.sum()), rel=1e-12)


def test_expected_auc_of_uninformative_scores_is_one_half() -> None:
    """It gives 0.5 when every lead has the same probability."""
    assert expected_auc(np.full(50, 0.2)) == pytest.approx(0.5)


def test_interval_covers_the_realised_figures_when_probabilities_are_right() -> None:
    """It covers realised conversion and AUC in at least 90% of 40 lead bases whose outcomes
    follow the probabilities (nominal 95%, widened by the holdout's miss)."""
    covered = {"conversion": 0, "roc_auc": 0}
    for seed in range(40):
        holdout, young = _leads(1000 + seed), _leads(2000 + seed)
        reference = backtest(_outcomes(holdout, seed), holdout)
        y = _outcomes(young, 3000 + seed)
        checked = check_estimate(young, y, reference=reference, draws=200, seed=seed)
        assert checked.roc_auc is not None
        covered["conversion"] += bool(checked.conversion.within)
        covered["roc_auc"] += bool(checked.roc_auc.within)
    assert covered["conversion"] >= 36 and covered["roc_auc"] >= 36


def test_a_miss_on_the_holdout_widens_the_interval() -> None:
    """It widens by the holdout's miss, so an over-confident champion is still covered, and it
    would not be without the widening."""
    young, holdout = _leads(5), _leads(6)
    truth = 0.6  # leads convert at 60% of what the champion says, on the holdout and now
    reference = backtest(_outcomes(holdout * truth, 7), holdout)
    y = _outcomes(young * truth, 8)
    honest = check_estimate(young, y, reference=reference, draws=200)
    perfect = Backtest(len(holdout), 0.1, 0.1, 0.7, 0.7)
    naive = check_estimate(young, y, reference=perfect, draws=200)
    assert honest.conversion.within is True
    assert naive.conversion.within is False
    assert honest.conversion.method_gap == pytest.approx(
        abs(reference.realised_conversion - reference.expected_conversion)
    )


def test_estimate_is_deterministic_and_json_ready() -> None:
    """It gives the same figures for the same seed, each interval around its expected value."""
    p = _leads(9)
    reference = backtest(_outcomes(p, 10), p)
    first, again = (estimate_performance(p, reference=reference, seed=3) for _ in range(2))
    assert first == again
    data = first.to_dict()
    for metric in ("conversion", "roc_auc"):
        e = data[metric]
        assert e["lower"] <= e["chance_lower"] <= e["expected"] <= e["chance_upper"] <= e["upper"]
        assert e["realised"] is None and e["within"] is None


def test_one_lead_has_no_auc() -> None:
    """It estimates conversion but no AUC for a single lead."""
    reference = Backtest(10, 0.1, 0.1, 0.7, 0.7)
    one = estimate_performance(np.array([0.3]), reference=reference, draws=50)
    assert one.roc_auc is None and one.conversion.expected == pytest.approx(0.3)


@pytest.mark.parametrize(("won", "lost"), [(0, 5), (5, 0)])
def test_realised_auc_needs_both_outcomes(won: int, lost: int) -> None:
    """It leaves the realised AUC unknown when the matured leads hold a single outcome."""
    p = np.linspace(0.1, 0.9, won + lost)
    y = np.array([1.0] * won + [0.0] * lost)
    checked = check_estimate(p, y, reference=Backtest(10, 0.1, 0.1, 0.7, 0.7), draws=50)
    assert checked.roc_auc is not None and checked.roc_auc.realised is None
    assert checked.conversion.realised == pytest.approx(y.mean())
