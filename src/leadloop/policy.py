"""The work-allocation policy: which leads sales works first, with a share of exploration.

Each lead is independently an exploration pick with probability ``epsilon``. The explored leads
take uniformly random places in the priority list (a uniformly random set of positions, in
random order); the others fill the remaining places in order of probability. Sales works the
first ``capacity`` places. Every lead therefore has a known, non-zero chance of being worked:
its *propensity*, which the score log keeps so that retraining and evaluation can weight each
outcome by the inverse of the chance it had to be observed.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from leadloop.errors import ConfigError, InputError


@dataclass(frozen=True)
class Allocation:
    """One draw of the policy over a batch of leads, aligned with the probabilities given."""

    priority: np.ndarray  # int, 1 = worked first
    explored: np.ndarray  # bool: this lead's priority was randomised
    propensity: np.ndarray  # float in (0, 1]: chance the policy puts this lead within capacity
    within_capacity: np.ndarray  # bool: the policy put it within capacity in this draw


def capacity_rows(capacity: float | int, n: int) -> int:
    """The number of leads sales works in a batch of ``n``: a count, or a share rounded down
    (at least one lead, at most the batch)."""
    if isinstance(capacity, bool) or not isinstance(capacity, int | float):
        raise ConfigError(f"policy.capacity: expected a share or a count, got {capacity!r}")
    if isinstance(capacity, int):
        if capacity < 1:
            raise ConfigError(f"policy.capacity: a count must be at least 1, got {capacity}")
        return min(capacity, n)
    if not 0 < capacity <= 1:
        raise ConfigError(f"policy.capacity: a share must be in (0, 1], got {capacity}")
    return min(n, max(1, math.floor(capacity * n + 1e-9)))


def policy_rng(seed: int | None, batch_id: str) -> np.random.Generator:
    """The generator of one batch's draw: fresh entropy without a seed; with one, the same draw
    for the same batch (a retried batch logs the same priorities) and another for each batch."""
    if seed is None:
        return np.random.default_rng()
    digest = hashlib.sha256(batch_id.encode("utf-8")).digest()
    return np.random.default_rng([seed, int.from_bytes(digest[:8], "little")])


def allocate(
    probabilities: np.ndarray,
    *,
    capacity: float | int,
    epsilon: float,
    rng: np.random.Generator,
) -> Allocation:
    """Draw the priorities of one batch under the policy, with each lead's propensity."""
    p = _check_probabilities(probabilities)
    _check_epsilon(epsilon)
    n = len(p)
    k = capacity_rows(capacity, n)
    explored = rng.random(n) < epsilon
    ranked = np.argsort(-p, kind="stable")  # ties keep the batch order
    greedy = ranked[~explored[ranked]]
    slots = np.zeros(n, dtype=bool)
    slots[rng.choice(n, size=int(explored.sum()), replace=False)] = True
    priority = np.empty(n, dtype=np.int64)
    priority[rng.permutation(np.flatnonzero(explored))] = np.flatnonzero(slots) + 1
    priority[greedy] = np.flatnonzero(~slots) + 1
    rank = np.empty(n, dtype=np.int64)
    rank[ranked] = np.arange(n)
    return Allocation(
        priority=priority,
        explored=explored,
        propensity=propensities(rank, capacity_count=k, epsilon=epsilon),
        within_capacity=priority <= k,
    )


def propensities(rank: np.ndarray, *, capacity_count: int, epsilon: float) -> np.ndarray:
    """The chance that a lead of greedy rank ``rank`` (0 = highest probability) is worked.

    An explored lead lands uniformly in the list: within capacity with chance k/n exactly. A
    lead not explored, with r leads above it, is worked when X - H <= k - 1 - r, where H is the
    number of leads above it that were explored (they leave the greedy queue) and X the number
    of explored places among the first k. The exact law of X - H is a mixture over the number
    of explored leads; its mean and variance are exact here (law of total variance, the
    hypergeometric X given that number) and the probability is their normal approximation with
    a continuity correction. tests/unit/test_policy.py checks it against draws of ``allocate``.
    The explored share floors every propensity at epsilon * k / n > 0.
    """
    n = len(rank)
    k = capacity_count
    if n == 0:
        return np.zeros(0)
    if k >= n:
        return np.ones(n)
    r = rank.astype(float)
    m, v = (n - 1) * epsilon, (n - 1) * epsilon * (1 - epsilon)  # explored among the others
    f = k / n
    var_h = r * epsilon * (1 - epsilon)
    var_x = f * (1 - f) / (n - 1) * (n * m - (v + m * m)) + f * f * v
    var_s = np.maximum(var_x + var_h - 2 * f * var_h, 0.0)
    mean_s = f * m - r * epsilon
    gap = (k - 1 - r + 0.5) - mean_s
    sd = np.sqrt(var_s)
    safe = np.where(sd > 0, sd, 1.0)
    greedy = np.where(sd > 0, ndtr(gap / safe), (gap >= 0).astype(float))
    return epsilon * f + (1 - epsilon) * greedy


def _check_probabilities(probabilities: np.ndarray) -> np.ndarray:
    p = np.asarray(probabilities, dtype=float)
    if p.ndim != 1:
        raise InputError(f"policy: expected one probability per lead, got shape {p.shape}")
    bad = np.flatnonzero(~np.isfinite(p))
    if bad.size:
        raise InputError("policy: probabilities must be finite numbers", rows=bad.tolist())
    return p


def _check_epsilon(epsilon: float) -> None:
    if not 0 < epsilon <= 1:
        raise ConfigError(
            f"policy.epsilon: the exploration share must be in (0, 1], got {epsilon} "
            "(without exploration some leads could never be worked)"
        )
