"""``leadloop simulate``: months of the loop in a world its own scores act on, through the real
pipeline (``run_loop``, the MLflow registry and its aliases, the gate) once per arm and month.

Each arm is a way of running leadloop, in its own directory with its own tracking store:

- ``naive``: today's loop. Sales works the top capacity by the champion's score; a lead nobody
  worked has no event and, past the maturity window, is labelled lost.
- ``explore``: the work-allocation policy with exploration; the CRM records when a lead was
  worked, so a never-worked lead is censored, and each score is logged with its propensity.
- ``oracle``: sales works as in ``naive``, but the loop sees every lead's outcome as if every
  lead had been worked: the best any loop could learn from.

Every month each arm's champion scores the same fresh cohort; its true AUC and the conversions
it brings are measured on the world's truth.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from leadloop.columns import CHAMPION, OCCURRED_AT
from leadloop.config import Settings
from leadloop.data import io
from leadloop.pipeline.loop import LoopResult, run_loop
from leadloop.pipeline.recovery import prepare_run
from leadloop.simulation import (
    Cohort,
    World,
    cohort,
    crm_events,
    history_worked,
    top_share,
    true_auc,
)
from leadloop.tracking import ModelRegistry

ARMS = ("naive", "oracle")  # "explore" joins with the work-allocation policy
Step = Callable[[str], None]  # called once per (arm, month) finished, with what was done


@dataclass(frozen=True)
class Simulation:
    """What to simulate: the world, how long, sales capacity and the exploration share."""

    world: World = field(default_factory=World)
    months: int = 12
    capacity: float = 0.2
    epsilon: float = 0.1
    arms: tuple[str, ...] = ARMS


@dataclass(frozen=True)
class Month:
    """One arm's month: the champion that scored the cohort, and what it achieved."""

    arm: str
    month: int
    champion: str
    decision: str  # the run's verdict before the cohort was scored: promote, keep, block
    promoted: bool  # the run moved the champion alias
    true_auc: float
    conversions: int  # realised among the leads worked
    worked: int
    explored: int
    given_up: int  # conversions the champion's own top capacity would have had, minus these
    segment_worked: int  # leads of the written-off segment that were worked


@dataclass(frozen=True)
class SimulationResult:
    """Every arm's months, the best achievable per month, and the simulation that made them."""

    simulation: Simulation
    months: list[Month]
    best_conversions: list[int]  # per month: working the top capacity by the true probability

    def series(self, arm: str, name: str) -> list[float]:
        return [float(getattr(m, name)) for m in self.months if m.arm == arm]

    def to_dict(self) -> dict[str, Any]:
        sim = self.simulation
        return {
            "world": asdict(sim.world),
            "months": sim.months,
            "capacity": sim.capacity,
            "epsilon": sim.epsilon,
            "arms": list(sim.arms),
            "best_conversions": self.best_conversions,
            "per_month": [asdict(m) for m in self.months],
            "summary": {arm: self.summary(arm) for arm in sim.arms},
        }

    def summary(self, arm: str) -> dict[str, float]:
        auc = self.series(arm, "true_auc")
        return {
            "first_true_auc": auc[0],
            "last_true_auc": auc[-1],
            "mean_true_auc": float(np.mean(auc)),
            "conversions": sum(self.series(arm, "conversions")),
            "given_up": sum(self.series(arm, "given_up")),
            "promotions": sum(self.series(arm, "promoted")),
        }


def simulate(
    simulation: Simulation, *, workdir: Path, step: Step | None = None
) -> SimulationResult:
    """Run every arm for ``simulation.months`` months, each in its own directory of ``workdir``."""
    done = step or (lambda _what: None)
    world = simulation.world
    history = [cohort(world, m) for m in range(1 - world.history_months, 1)]
    arms = [_Arm(name, simulation, workdir / name, history) for name in simulation.arms]
    months: list[Month] = []
    best: list[int] = []
    for month in range(1, simulation.months + 1):
        fresh = cohort(world, month)
        k = int(simulation.capacity * len(fresh.leads))
        best.append(int(fresh.would_convert[top_share(fresh.true_probability, k)].sum()))
        for arm in arms:
            months.append(arm.month(fresh))
            done(f"{arm.name} month {month}")
    return SimulationResult(simulation, months, best)


class _Arm:
    """One way of running leadloop: its directory, settings, leads and CRM events so far."""

    def __init__(self, name: str, simulation: Simulation, root: Path, history: list[Cohort]):
        self.name = name
        self.simulation = simulation
        self.settings = arm_settings(root, simulation, arm=name)
        self.leads: list[pd.DataFrame] = []
        self.events: list[pd.DataFrame] = []
        self.rng = np.random.default_rng([simulation.world.seed, 7])
        for past in history:
            worked = history_worked(simulation.world, past, simulation.capacity)
            self._arrive(past, worked)

    def month(self, fresh: Cohort) -> Month:
        """Retrain as of the month's start, then score, allocate and work the fresh cohort."""
        result = self._run(self.simulation.world.month_start(fresh.month))
        scores = ModelRegistry(self.settings).load(CHAMPION).model.predict_proba(fresh.leads)
        worked, explored = self._allocate(scores)
        self._arrive(fresh, worked)
        converts = fresh.would_convert
        greedy = top_share(scores, int(worked.sum()))
        settled = result.settled
        return Month(
            arm=self.name,
            month=fresh.month,
            champion=result.champion_version,
            decision=result.decision.verdict,
            promoted=bool(settled is not None and settled.moved and not result.first_run),
            true_auc=true_auc(fresh.true_probability, scores),
            conversions=int((converts & worked).sum()),
            worked=int(worked.sum()),
            explored=int(explored.sum()),
            given_up=int((converts & greedy).sum() - (converts & worked).sum()),
            segment_worked=int((worked & fresh.in_segment).sum()),
        )

    def _allocate(self, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Which leads sales works, and which of them were exploration picks."""
        k = int(self.simulation.capacity * len(scores))
        return top_share(scores, k), np.zeros(len(scores), dtype=bool)

    def _arrive(self, leads: Cohort, worked: np.ndarray) -> None:
        """The cohort's leads join the leads file; its CRM events wait for their dates."""
        world = self.simulation.world
        self.leads.append(leads.leads)
        if self.name == "oracle":
            everyone = np.ones(len(leads.leads), dtype=bool)
            self.events.append(crm_events(world, leads, everyone, record_worked=False))
        else:
            record = self.name == "explore"
            self.events.append(crm_events(world, leads, worked, record_worked=record))

    def _run(self, now: pd.Timestamp) -> LoopResult:
        """One run of the real loop on the leads and the events the CRM holds at ``now``."""
        leads = pd.concat(self.leads, ignore_index=True)
        events = pd.concat(self.events, ignore_index=True)
        events = events[events[OCCURRED_AT] < now].sort_values(OCCURRED_AT, kind="stable")
        io.write_table(leads, self.settings.resolve(self.settings.leads.path))
        io.write_table(events, self.settings.resolve(self.settings.outcomes.path))
        prepare_run(self.settings)
        return run_loop(self.settings, now=now)


def arm_settings(root: Path, simulation: Simulation, *, arm: str) -> Settings:
    """An arm's settings: its own files and tracking store in ``root``, defaults otherwise."""
    raw: dict[str, Any] = {
        "base_dir": str(root),
        "leads": {"path": "leads.parquet"},
        "outcomes": {"path": "outcomes.parquet"},
        "tracking": {"uri": "sqlite:///mlflow.db", "artifact_root": "artifacts"},
        "reports_dir": "reports",
        "synthetic": {"enabled": False},
        "evaluation": {"capacity": simulation.capacity},
        "model": {"seed": simulation.world.seed},
    }
    del arm  # the exploration arm adds the worked-event mapping and the policy
    return Settings.model_validate(raw)


def simulate_worlds(
    simulation: Simulation, *, seeds: list[int], workdir: Path, step: Step | None = None
) -> list[SimulationResult]:
    """The same simulation in one world per seed (each in its own directory)."""
    results = []
    for seed in seeds:
        world = replace(simulation.world, seed=seed)
        results.append(
            simulate(replace(simulation, world=world), workdir=workdir / f"seed-{seed}", step=step)
        )
    return results


def summarise(results: list[SimulationResult]) -> dict[str, Any]:
    """What the worlds show together: per-month means, and per seed the naive loop's fall in
    true AUC, exploration's gap to the oracle and the conversions given up to exploration."""
    first = results[0].simulation
    arms = list(first.arms)
    per_month = {
        arm: {
            name: np.mean([r.series(arm, name) for r in results], axis=0).tolist()
            for name in ("true_auc", "conversions", "given_up", "promoted")
        }
        for arm in arms
    }
    return {
        "world": asdict(first.world) | {"seed": None},
        "months": first.months,
        "capacity": first.capacity,
        "epsilon": first.epsilon,
        "arms": arms,
        "seeds": [r.simulation.world.seed for r in results],
        "mean_per_month": per_month,
        "mean_best_conversions": np.mean([r.best_conversions for r in results], axis=0).tolist(),
        "per_seed": [_figures(r) for r in results],
    }


def _figures(result: SimulationResult) -> dict[str, Any]:
    """One world's headline figures (arms missing from the run are left out)."""
    summary = {arm: result.summary(arm) for arm in result.simulation.arms}
    out: dict[str, Any] = {"seed": result.simulation.world.seed, "arms": summary}
    naive, explore, oracle = (summary.get(arm) for arm in ("naive", "explore", "oracle"))
    if naive is not None:
        out["naive_fall"] = naive["first_true_auc"] - naive["last_true_auc"]
    if oracle is not None and explore is not None:
        out["explore_gap_last"] = oracle["last_true_auc"] - explore["last_true_auc"]
        out["explore_gap_mean"] = oracle["mean_true_auc"] - explore["mean_true_auc"]
    if oracle is not None and naive is not None:
        out["naive_gap_last"] = oracle["last_true_auc"] - naive["last_true_auc"]
    if explore is not None:
        out["given_up"] = explore["given_up"]
    return out


def write_page(summary: dict[str, Any], *, page: Path, chart: Path | None = None) -> None:
    """Write the HTML page of a simulation, and its charts as one SVG file when asked."""
    from leadloop.report import simulation as report
    from leadloop.simulation.world import SEGMENT_VALUE

    io.write_text(report.render_page(summary, segment=SEGMENT_VALUE), page)
    if chart is not None:
        io.write_text(report.standalone_svg(report.figures(summary)), chart)
