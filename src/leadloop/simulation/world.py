"""A synthetic world where leadloop's scores decide which leads get worked.

Each month a cohort of leads arrives (the bundled generator's columns and true probabilities).
A lead's true probability is the chance it converts *if worked*; a lead nobody works converts
with probability 0 (no self-serve purchases in this world). Before leadloop, sales worked a
random share of leads, first come first served, but never called one segment (education: "they
never buy"); in truth that segment converts well when worked. Outcomes reach the CRM as they
would: a won event some weeks after a converted lead was worked, a lost event for most worked
leads that did not convert, and nothing at all for a lead nobody worked.

Every draw comes from the world's seed and the cohort's month, so the arms of a comparison see
the very same leads and the same luck (common random numbers): a lead that would convert if
worked converts in every arm that works it. Pure functions: no files, no registry.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from leadloop.columns import CREATED_AT, EVENT_ID, LEAD_ID, OCCURRED_AT, OUTCOME
from leadloop.data.synthetic import SyntheticSpec, generate

WON, LOST, WORKED = "Closed Won", "Closed Lost", "Contacted"
SEGMENT_COLUMN, SEGMENT_VALUE = "industry", "education"
SUFFIX = {WON: "won", LOST: "lost", WORKED: "worked"}


@dataclass(frozen=True)
class World:
    """What the world is made of; every default is stated with its reason in README
    ("Why the loop needs exploration")."""

    leads_per_month: int = 2_000
    history_months: int = 12  # a year of CRM history before leadloop: the first champion
    start: str = "2025-01-01"  # the first history month; leadloop goes live after the history
    seed: int = 0
    base_rate: float = 0.12  # the bundled generator's: the share that converts if worked
    segment_lift: float = 1.5  # added to the segment's true log-odds if worked
    lost_recorded: float = 0.6  # share of worked, unconverted leads whose loss is recorded
    won_delay_days: tuple[float, float] = (2.0, 15.0)  # gamma shape, scale: mean 30 days
    lost_delay_days: tuple[float, float] = (2.5, 18.0)  # mean 45 days
    worked_delay_days: float = 3.0  # exponential mean: first contact a few days after arrival

    @property
    def live(self) -> pd.Timestamp:
        """When leadloop goes live: the end of the history."""
        return pd.Timestamp(self.start) + pd.DateOffset(months=self.history_months)

    def month_start(self, month: int) -> pd.Timestamp:
        """The start of month ``month``: 1 is leadloop's first live month, 0 and below history."""
        return self.live + pd.DateOffset(months=month - 1)


@dataclass(frozen=True)
class Cohort:
    """One month's leads (features only), their truth, and each lead's luck.

    ``luck`` is a uniform draw per lead: the lead converts if it is worked and
    ``luck < true_probability``.
    """

    month: int
    leads: pd.DataFrame
    true_probability: np.ndarray
    luck: np.ndarray

    @property
    def would_convert(self) -> np.ndarray:
        """Whether each lead converts if worked (it never converts otherwise)."""
        return np.asarray(self.luck < self.true_probability)

    @property
    def in_segment(self) -> np.ndarray:
        return np.asarray(self.leads[SEGMENT_COLUMN].to_numpy() == SEGMENT_VALUE)


def cohort(world: World, month: int) -> Cohort:
    """The leads created in ``month`` (history months are 0 and below), deterministic."""
    seed = _seed(world, month, stream=0)
    spec = SyntheticSpec(
        n_leads=world.leads_per_month,
        months=1,
        start=f"{world.month_start(month):%Y-%m-%d}",
        seed=seed,
        base_rate=world.base_rate,
    )
    data = generate(spec)
    leads = data.leads.copy()
    leads[LEAD_ID] = [f"M{month + 100:03d}-{i:06d}" for i in range(1, len(leads) + 1)]
    base = data.truth["true_probability"].to_numpy(dtype=float)
    segment = (leads[SEGMENT_COLUMN] == SEGMENT_VALUE).to_numpy()
    logit = np.log(base / (1 - base)) + world.segment_lift * segment
    truth = 1.0 / (1.0 + np.exp(-logit))
    luck = np.random.default_rng(_seed(world, month, stream=1)).uniform(size=len(leads))
    return Cohort(month, leads, truth, luck)


def history_worked(world: World, leads: Cohort, capacity: float) -> np.ndarray:
    """Which history leads sales worked before leadloop: a random ``capacity`` share of all
    leads, taken among the leads outside the written-off segment."""
    rng = np.random.default_rng(_seed(world, leads.month, stream=2))
    n = len(leads.leads)
    k = min(int(capacity * n), int((~leads.in_segment).sum()))
    order = rng.permutation(np.flatnonzero(~leads.in_segment))
    worked = np.zeros(n, dtype=bool)
    worked[order[:k]] = True
    return worked


def crm_events(
    world: World, leads: Cohort, worked: np.ndarray, *, record_worked: bool
) -> pd.DataFrame:
    """The CRM events the worked leads of a cohort produce, with their real delays.

    A worked lead that converts gets a won event, one that does not a lost event (for
    ``lost_recorded`` of them); with ``record_worked``, every worked lead also gets a
    "Contacted" event when first called. A lead nobody worked gets no event at all.
    """
    rng = np.random.default_rng(_seed(world, leads.month, stream=3))
    n = len(leads.leads)
    created = leads.leads[CREATED_AT].to_numpy()
    contact = rng.exponential(world.worked_delay_days, n)
    won_delay = contact + rng.gamma(*world.won_delay_days, n)
    lost_delay = contact + rng.gamma(*world.lost_delay_days, n)
    recorded = rng.uniform(size=n) < world.lost_recorded
    converted = leads.would_convert & worked
    lost = worked & ~leads.would_convert & recorded
    parts = [
        _events(leads, converted, created, won_delay, WON),
        _events(leads, lost, created, lost_delay, LOST),
    ]
    if record_worked:
        parts.append(_events(leads, worked, created, contact, WORKED))
    return pd.concat(parts, ignore_index=True)


def _events(
    leads: Cohort, mask: np.ndarray, created: np.ndarray, delay_days: np.ndarray, outcome: str
) -> pd.DataFrame:
    ids = leads.leads[LEAD_ID].to_numpy()[mask]
    at = pd.to_datetime(created[mask]) + pd.to_timedelta(delay_days[mask] * 86400, unit="s")
    return pd.DataFrame(
        {
            EVENT_ID: [f"{lead}-{SUFFIX[outcome]}" for lead in ids],
            LEAD_ID: ids,
            OUTCOME: outcome,
            OCCURRED_AT: at.floor("s"),
        }
    )


def _seed(world: World, month: int, *, stream: int) -> int:
    """A seed per (world seed, month, stream), so cohorts never share draws."""
    return int(np.random.SeedSequence([world.seed, month + 1000, stream]).generate_state(1)[0])
