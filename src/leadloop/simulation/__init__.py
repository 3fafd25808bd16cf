"""The synthetic world of ``leadloop simulate``: monthly cohorts whose outcomes depend on
whether sales worked them, the measures taken on their truth, and the results per arm
(``pipeline.simulate`` runs the loop in it)."""

from __future__ import annotations

from leadloop.simulation.measure import top_share, true_auc
from leadloop.simulation.results import ARMS, Month, Simulation, SimulationResult, summarise
from leadloop.simulation.world import Cohort, World, cohort, crm_events, history_worked

__all__ = [
    "ARMS",
    "Cohort",
    "Month",
    "Simulation",
    "SimulationResult",
    "World",
    "cohort",
    "crm_events",
    "history_worked",
    "summarise",
    "top_share",
    "true_auc",
]
