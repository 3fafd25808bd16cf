"""``leadloop simulate``: months of the loop in a world its own scores act on, through the real
pipeline (``run_loop``, the MLflow registry and its aliases, the gate, ``leadloop score`` with
its score log) once per arm and month.

Each arm is a way of running leadloop, in its own directory with its own tracking store:

- ``naive``: today's loop. Sales works the top capacity by the champion's score; a lead nobody
  worked has no event and, past the maturity window, is labelled lost.
- ``explore``: the work-allocation policy (``settings.policy``) with exploration; the CRM
  records when a lead was worked (``outcomes.worked_values``), so a never-worked lead is
  censored; every score is logged with its propensity, which retraining weights by.
- ``oracle``: sales works as in ``naive``, but the loop sees every lead's outcome as if every
  lead had been worked: the best any loop could learn from.

Every month each arm's champion scores the same fresh cohort; its true AUC and the conversions
it brings are measured on the world's truth.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from leadloop import batch
from leadloop.columns import CREATED_AT, LEAD_ID, OCCURRED_AT
from leadloop.config import Settings
from leadloop.data import io
from leadloop.data.score_log import log_scores
from leadloop.data.store import FeedbackStore
from leadloop.pipeline.loop import LoopResult, run_loop
from leadloop.pipeline.recovery import prepare_run
from leadloop.policy import capacity_rows
from leadloop.simulation import (
    Cohort,
    Month,
    Simulation,
    SimulationResult,
    cohort,
    crm_events,
    history_worked,
    top_share,
    true_auc,
)
from leadloop.simulation.world import WORKED

Step = Callable[[str], None]  # called once per (arm, month) finished, with what was done


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
        k = capacity_rows(simulation.capacity, len(fresh.leads))
        best.append(int(fresh.would_convert[top_share(fresh.true_probability, k)].sum()))
        for arm in arms:
            months.append(arm.month(fresh))
            done(f"{arm.name} month {month}")
    return SimulationResult(simulation, months, best)


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


def write_page(summary: dict[str, Any], *, page: Path, chart: Path | None = None) -> None:
    """Write the HTML page of a simulation, and its charts as one SVG file when asked."""
    from leadloop.report import simulation as report
    from leadloop.simulation.world import SEGMENT_VALUE

    io.write_text(report.render_page(summary, segment=SEGMENT_VALUE), page)
    if chart is not None:
        io.write_text(report.standalone_svg(report.figures(summary)), chart)


class _Arm:
    """One way of running leadloop: its directory, settings, leads and CRM events so far."""

    def __init__(self, name: str, simulation: Simulation, root: Path, history: list[Cohort]):
        self.name = name
        self.simulation = simulation
        self.root = root
        self.settings = arm_settings(root, simulation, arm=name)
        self.leads: list[pd.DataFrame] = []
        self.events: list[pd.DataFrame] = []
        for past in history:
            worked = history_worked(simulation.world, past, simulation.capacity)
            self._arrive(past, worked)
            if name == "explore" and simulation.history_propensities:
                self._log_history(past, worked)

    def month(self, fresh: Cohort) -> Month:
        """Retrain as of the month's start, then score, allocate and work the fresh cohort."""
        result = self._run(self.simulation.world.month_start(fresh.month))
        scored = self._score(fresh)
        scores = scored["probability"].to_numpy(dtype=float)
        k = capacity_rows(self.simulation.capacity, len(scores))
        if "priority" in scored.columns:  # the policy's draw, exploration included
            worked = scored["priority"].to_numpy() <= k
            explored = scored["explored"].to_numpy(dtype=bool) & worked
            lowest: float | None = float(scored["propensity"].min())
        else:
            worked, explored, lowest = top_share(scores, k), np.zeros(len(scores), bool), None
        self._arrive(fresh, worked)
        converts = fresh.would_convert
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
            given_up=int((converts & top_share(scores, k)).sum() - (converts & worked).sum()),
            segment_worked=int((worked & fresh.in_segment).sum()),
            min_propensity=lowest,
            weighted=bool(result.record.influence.get("corrected", False)),
        )

    def _score(self, fresh: Cohort) -> pd.DataFrame:
        """The cohort scored as ``leadloop score`` scores a file: the champion, the policy
        when the arm has one, every score in the score log; rows in the cohort's order."""
        source = self.root / "incoming" / f"month-{fresh.month:02d}.parquet"
        target = self.root / "scores" / f"month-{fresh.month:02d}.parquet"
        io.write_table(fresh.leads, source)
        scorer = batch.load_scorer(self.settings, reasons=0)
        batch.score_file(
            self.settings, source, target, scorer=scorer, batch_id=f"month-{fresh.month:02d}"
        )
        scored = io.read_table(target).set_index(LEAD_ID)
        return scored.loc[fresh.leads[LEAD_ID].to_numpy()]

    def _log_history(self, past: Cohort, worked: np.ndarray) -> None:
        """Log the rule sales followed before leadloop as what it was, a random policy: every
        lead outside the written-off segment had the same chance of being worked (no model
        scored them, hence probability 0 and no version). The segment's leads had no chance
        and are logged with none; never worked, they are censored and never labelled."""
        eligible = ~past.in_segment
        chance = float(worked.sum()) / max(int(eligible.sum()), 1)
        leads = past.leads.loc[eligible]
        records = [
            {
                LEAD_ID: lead,
                "model_version": "before-leadloop",
                "probability": 0.0,
                "propensity": chance,
                "scored_at": created,
            }
            for lead, created in zip(leads[LEAD_ID], leads[CREATED_AT], strict=True)
        ]
        store = FeedbackStore(self.settings.store_url()).create()
        try:
            log_scores(store, records, batch_id=f"history-{past.month + 100:03d}")
        finally:
            store.dispose()

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
    """An arm's settings: its own files and stores in ``root``, the defaults otherwise; the
    exploration arm adds the policy and the CRM's "worked" events."""
    raw: dict[str, Any] = {
        "base_dir": str(root),
        "leads": {"path": "leads.parquet"},
        "outcomes": {"path": "outcomes.parquet"},
        "tracking": {"uri": "sqlite:///mlflow.db", "artifact_root": "artifacts"},
        "serve": {"store_url": "sqlite:///feedback.db"},
        "reports_dir": "reports",
        "synthetic": {"enabled": False},
        "evaluation": {"capacity": simulation.capacity},
        "model": {"seed": simulation.world.seed},
    }
    if arm == "explore":
        raw["outcomes"]["worked_values"] = [WORKED]
        raw["policy"] = {
            "capacity": simulation.capacity,
            "epsilon": simulation.epsilon,
            "seed": simulation.world.seed,
        }
    return Settings.model_validate(raw)
