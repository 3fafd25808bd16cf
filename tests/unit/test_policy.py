"""The work-allocation policy: priorities, exploration and propensities."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from leadloop.config import load_settings
from leadloop.errors import ConfigError, InputError
from leadloop.policy import allocate, capacity_rows

DRAWS = 3000


@pytest.mark.parametrize(
    ("n", "capacity", "epsilon"),
    [(400, 0.1, 0.05), (200, 20, 0.2), (300, 0.3, 0.1), (100, 10, 0.5)],
)
def test_a_simulation_of_the_policy_recovers_its_propensities(
    n: int, capacity: float | int, epsilon: float
) -> None:
    """It gives each lead the share of draws in which the policy put it within capacity, to
    within Monte Carlo noise (4 standard errors) plus 0.01 of approximation."""
    probabilities = np.random.default_rng(1).random(n)
    rng = np.random.default_rng(2)
    hits = np.zeros(n)
    for _ in range(DRAWS):
        allocation = allocate(probabilities, capacity=capacity, epsilon=epsilon, rng=rng)
        hits += allocation.within_capacity
    seen = hits / DRAWS
    p = allocation.propensity
    noise = 4 * np.sqrt(p * (1 - p) / DRAWS)
    assert np.all(np.abs(seen - p) <= noise + 0.01)
    assert np.mean(np.abs(seen - p)) < 0.005


def test_every_lead_has_a_non_zero_chance() -> None:
    """It floors every propensity at epsilon times the capacity share, never 0."""
    probabilities = np.random.default_rng(3).random(1000)
    allocation = allocate(probabilities, capacity=0.1, epsilon=0.05, rng=np.random.default_rng(0))
    assert allocation.propensity.min() == pytest.approx(0.05 * 0.1)
    assert np.all((allocation.propensity > 0) & (allocation.propensity <= 1))


def test_priorities_are_a_ranking_with_explored_leads_at_random() -> None:
    """It ranks the leads 1..n, the unexplored ones in order of probability."""
    probabilities = np.random.default_rng(4).random(500)
    allocation = allocate(probabilities, capacity=50, epsilon=0.2, rng=np.random.default_rng(5))
    assert sorted(allocation.priority.tolist()) == list(range(1, 501))
    greedy = ~allocation.explored
    order = np.argsort(allocation.priority[greedy])
    assert np.all(np.diff(probabilities[greedy][order]) <= 0)
    assert allocation.within_capacity.sum() == 50
    assert 60 < allocation.explored.sum() < 140


def test_the_same_seed_gives_the_same_allocation() -> None:
    """It draws only from the generator it is given."""
    probabilities = np.random.default_rng(6).random(100)
    first = allocate(probabilities, capacity=0.2, epsilon=0.1, rng=np.random.default_rng(9))
    second = allocate(probabilities, capacity=0.2, epsilon=0.1, rng=np.random.default_rng(9))
    assert np.array_equal(first.priority, second.priority)


def test_capacity_is_a_share_or_a_count() -> None:
    """It reads a float as a share (rounded down, at least one) and an int as a count."""
    assert capacity_rows(0.1, 25) == 2
    assert capacity_rows(0.001, 25) == 1
    assert capacity_rows(1.0, 25) == 25
    assert capacity_rows(1, 25) == 1
    assert capacity_rows(500, 25) == 25
    with pytest.raises(ConfigError, match="share"):
        capacity_rows(1.5, 25)
    with pytest.raises(ConfigError, match="at least 1"):
        capacity_rows(0, 25)


def test_a_full_capacity_works_everyone() -> None:
    """It gives every lead propensity 1 when capacity covers the batch."""
    allocation = allocate(
        np.array([0.2, 0.9]), capacity=5, epsilon=0.05, rng=np.random.default_rng(0)
    )
    assert np.all(allocation.propensity == 1) and np.all(allocation.within_capacity)


def test_bad_arguments_are_refused() -> None:
    """It refuses an exploration share of 0 and probabilities that are not finite."""
    rng = np.random.default_rng(0)
    with pytest.raises(ConfigError, match="epsilon"):
        allocate(np.array([0.1, 0.2]), capacity=1, epsilon=0.0, rng=rng)
    with pytest.raises(InputError, match="rows 1"):
        allocate(np.array([0.1, np.nan]), capacity=1, epsilon=0.1, rng=rng)


def test_policy_settings_are_validated(tmp_path: Path) -> None:
    """It reads capacity as a share or a count and refuses a share above 1."""
    assert load_settings(base_dir=tmp_path).policy.capacity is None
    env = {"LEADLOOP_POLICY__CAPACITY": "500"}
    assert load_settings(base_dir=tmp_path, environ=env).policy.capacity == 500
    env = {"LEADLOOP_POLICY__CAPACITY": "0.1"}
    assert load_settings(base_dir=tmp_path, environ=env).policy.capacity == 0.1
    with pytest.raises(ConfigError, match=r"policy\.capacity"):
        load_settings(base_dir=tmp_path, environ={"LEADLOOP_POLICY__CAPACITY": "1.5"})
    with pytest.raises(ConfigError, match=r"policy\.epsilon"):
        load_settings(base_dir=tmp_path, environ={"LEADLOOP_POLICY__EPSILON": "0"})


def test_worked_values_map_to_worked_and_may_not_overlap(tmp_path: Path) -> None:
    """It maps outcomes.worked_values to 'worked' and refuses a value also won or lost."""
    from leadloop.data.values import outcome_mapping

    env = {"LEADLOOP_OUTCOMES__WORKED_VALUES": "[Call, Meeting]"}
    mapping = outcome_mapping(load_settings(base_dir=tmp_path, environ=env).outcomes)
    assert mapping["call"] == "worked" and mapping["closed won"] == "won"
    with pytest.raises(ConfigError, match="worked"):
        load_settings(base_dir=tmp_path, environ={"LEADLOOP_OUTCOMES__WORKED_VALUES": "[won]"})
