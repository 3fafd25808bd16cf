"""A generated CRM export holding every kind of leak the guard looks for, beside honest columns.

Built on the synthetic lead base (whose columns are honest: known when a lead arrives) with:
- ``Lead Number``: a unique sequential numeric id;
- ``lead_score``: the generator's own true probability (it alone ranks like every feature);
- ``Tags``: a multi-valued status sales fill after contact; some values are pure in the
  outcome ("Closed by Horizzon" only on won leads, "Ringing" only on lost), others are not;
- ``Lead Quality``: a rating a rep gives once a lead is contacted (has an outcome event), only
  weakly related to the outcome, missing on every lead not contacted yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from leadloop.data.labels import LabelResult, label_leads
from leadloop.data.synthetic import SyntheticSpec, generate

HONEST = (
    "lead_source",
    "industry",
    "country",
    "company_size",
    "annual_revenue",
    "pages_viewed",
    "emails_opened",
    "demo_requested",
    "webinar_attended",
    "days_since_last_touch",
    "job_level",
)


@dataclass(frozen=True)
class Export:
    """The leads table with leaks, the CRM events and the labels as of the data's end."""

    leads: pd.DataFrame
    outcomes: pd.DataFrame
    labels: LabelResult


def leaky_export(
    *, n: int = 5000, seed: int = 11, unmatured: Literal["lost", "exclude"] = "lost"
) -> Export:
    """Generate an export with every kind of leak (fixed seed, a few thousand leads)."""
    data = generate(SyntheticSpec(n_leads=n, months=12, seed=seed))
    events = data.outcomes.assign(
        outcome=np.where(data.outcomes["outcome"] == "Closed Won", "won", "lost")
    )
    labels = label_leads(
        data.leads, events, cutoff=data.as_of, maturity_days=90, unmatured=unmatured
    )
    contacted = np.isin(labels.labels["status"].to_numpy(), ("won", "lost"))
    won = (labels.labels["status"] == "won").to_numpy()
    rng = np.random.default_rng(seed)
    u = rng.uniform(size=n)
    tags = np.full(n, None, dtype=object)
    tags[won] = np.where(
        u[won] < 0.6, "Closed by Horizzon", np.where(u[won] < 0.85, "Interested", "Busy")
    )
    lost = contacted & ~won
    tags[lost] = np.where(u[lost] < 0.5, "Ringing", np.where(u[lost] < 0.8, "Interested", "Busy"))
    rating = np.clip(np.round(3 + 0.5 * won + rng.normal(0, 1, n)), 1, 5)
    leads = data.leads.assign(
        **{
            "Lead Number": 600_000 + np.arange(n),
            "lead_score": data.truth["true_probability"].to_numpy(),
            "Tags": tags,
            "Lead Quality": np.where(contacted, rating, np.nan),
        }
    )
    return Export(leads, data.outcomes, labels)


def labelled(export: Export) -> tuple[pd.DataFrame, np.ndarray]:
    """The labelled leads (features, lead_id and created_at) and their 0/1 labels."""
    label = export.labels.labels["label"].to_numpy()
    known = ~np.isnan(label)
    return export.leads.loc[known].reset_index(drop=True), label[known]
