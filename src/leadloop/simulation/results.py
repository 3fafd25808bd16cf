"""What a simulation is asked to do and what it found: per arm and month, then across worlds."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from leadloop.simulation.world import World

ARMS = ("naive", "explore", "oracle")


@dataclass(frozen=True)
class Simulation:
    """What to simulate: the world, how long, sales capacity and the exploration share
    (``policy.epsilon``'s default: what a user gets without choosing)."""

    world: World = field(default_factory=World)
    months: int = 12
    capacity: float = 0.2
    epsilon: float = 0.05
    arms: tuple[str, ...] = ARMS
    # The exploration arm logs the pre-leadloop rule (a random share of the leads outside the
    # written-off segment) as propensities, so that its history can be weighted too; without
    # them, training is unweighted while any labelled lead lacks a propensity.
    history_propensities: bool = True


@dataclass(frozen=True)
class Month:
    """One arm's month: the champion that scored the cohort, and what it achieved."""

    arm: str
    month: int
    champion: str
    decision: str  # the verdict of the run before the cohort was scored: promote, keep, block
    promoted: bool  # that run moved the champion alias
    true_auc: float
    conversions: int  # realised among the leads worked
    worked: int
    explored: int  # exploration picks among the leads worked
    given_up: int  # conversions the champion's own top capacity would have had, minus these
    segment_worked: int  # leads of the written-off segment that were worked
    min_propensity: float | None  # the smallest logged propensity of the cohort (policy only)
    weighted: bool  # the run trained and judged with inverse-propensity weights


@dataclass(frozen=True)
class SimulationResult:
    """Every arm's months, the best achievable per month, and the simulation that made them."""

    simulation: Simulation
    months: list[Month]
    best_conversions: list[int]  # per month: working the top capacity by the true probability

    def series(self, arm: str, name: str) -> list[float]:
        return [float(getattr(m, name)) for m in self.months if m.arm == arm]

    def summary(self, arm: str) -> dict[str, float]:
        auc = self.series(arm, "true_auc")
        return {
            "first_true_auc": auc[0],
            "last_true_auc": auc[-1],
            "mean_true_auc": float(np.mean(auc)),
            "conversions": sum(self.series(arm, "conversions")),
            "given_up": sum(self.series(arm, "given_up")),
            "promotions": sum(self.series(arm, "promoted")),
            "segment_worked": sum(self.series(arm, "segment_worked")),
            "weighted_runs": sum(self.series(arm, "weighted")),
        }


def summarise(results: list[SimulationResult]) -> dict[str, Any]:
    """What the worlds show together: per-month means, and per world the naive loop's fall in
    true AUC, exploration's gap to the oracle and the conversions given up to exploration."""
    first = results[0].simulation
    arms = list(first.arms)
    names = ("true_auc", "conversions", "given_up", "promoted", "segment_worked")
    per_month = {
        arm: {name: _mean([r.series(arm, name) for r in results]) for name in names} for arm in arms
    }
    return {
        "world": asdict(first.world) | {"seed": None},
        "months": first.months,
        "capacity": first.capacity,
        "epsilon": first.epsilon,
        "history_propensities": first.history_propensities,
        "arms": arms,
        "seeds": [r.simulation.world.seed for r in results],
        "mean_per_month": per_month,
        "mean_best_conversions": _mean([list(map(float, r.best_conversions)) for r in results]),
        "per_seed": [_figures(r) for r in results],
        "per_month": [
            asdict(m) | {"seed": r.simulation.world.seed} for r in results for m in r.months
        ],
    }


def _figures(result: SimulationResult) -> dict[str, Any]:
    """One world's headline figures (arms left out of the run are left out here)."""
    summary = {arm: result.summary(arm) for arm in result.simulation.arms}
    out: dict[str, Any] = {"seed": result.simulation.world.seed, "arms": summary}
    naive, explore, oracle = (summary.get(arm) for arm in ARMS)
    if naive is not None:
        out["naive_fall"] = naive["first_true_auc"] - naive["last_true_auc"]
    if oracle is not None and naive is not None:
        out["naive_gap_last"] = oracle["last_true_auc"] - naive["last_true_auc"]
    if oracle is not None and explore is not None:
        out["explore_gap_last"] = oracle["last_true_auc"] - explore["last_true_auc"]
        out["explore_gap_mean"] = oracle["mean_true_auc"] - explore["mean_true_auc"]
    if explore is not None:
        out["given_up"] = explore["given_up"]
    return out


def _mean(series: list[list[float]]) -> list[float]:
    """The mean over worlds, month by month."""
    return [float(v) for v in np.mean(np.asarray(series, dtype=float), axis=0)]
