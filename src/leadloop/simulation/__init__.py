"""The synthetic world of ``leadloop simulate``: monthly cohorts whose outcomes depend on
whether sales worked them, and the measures taken on their truth (``pipeline.simulate`` runs
the loop in it)."""

from __future__ import annotations

from leadloop.simulation.measure import top_share, true_auc
from leadloop.simulation.world import Cohort, World, cohort, crm_events, history_worked

__all__ = ["Cohort", "World", "cohort", "crm_events", "history_worked", "top_share", "true_auc"]
