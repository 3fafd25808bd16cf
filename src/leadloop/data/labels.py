"""Point-in-time labels: what was known about each lead's outcome at a cutoff.

Rules (design.md section 2): a lead is won or lost by its latest outcome event before the
cutoff; won and lost at that same latest instant is a conflict (no label); a lead older than the
maturity window with no event is lost, or excluded when ``unmatured="exclude"``; a younger lead
with no event is censored (no label). Unusable events are excluded and counted by reason, each
event under exactly one reason, checked in the order of ``EXCLUSION_REASONS``; all events of a
conflicting lead count as ``conflict``. Vectorised: a million leads take about a second.

Where the CRM records activity (``worked`` events, from ``outcomes.worked_values``), a lead past
the window with no won/lost event that was never worked is ``never_worked``: censored, not
lost, since a lead nobody called could not convert. Without any worked event the rule above
applies and ``worked_known`` is false: the run says it cannot tell unworked leads from lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from leadloop.columns import (
    AMOUNT,
    CREATED_AT,
    EVENT_ID,
    LABEL,
    LEAD_ID,
    OCCURRED_AT,
    OUTCOME,
    STATUS,
)
from leadloop.config import LabelsConfig
from leadloop.errors import InputError

EXCLUSION_REASONS = (
    "missing_lead_id",  # the event names no lead
    "missing_timestamp",  # no occurred_at
    "duplicate_event_id",  # an event id seen before (the first is kept)
    "unknown_lead",  # the lead id is not in the leads table
    "before_created",  # happened before the lead was created
    "after_cutoff",  # happened at or after the cutoff: in the future as of the cutoff
    "conflict",  # the lead has won and lost at the same latest instant
)
WORKED = "worked"  # an activity event: sales worked the lead (no outcome by itself)
STATUSES = (
    "won",
    "lost",
    "lost_matured",
    "censored",
    "excluded_unmatured",
    "conflict",
    "created_after_cutoff",
    "never_worked",
)


@dataclass(frozen=True)
class LabelResult:
    """Labels per lead (input order), with every exclusion counted."""

    labels: pd.DataFrame
    cutoff: pd.Timestamp
    maturity_days: int
    event_exclusions: dict[str, int]
    lead_counts: dict[str, int]
    events_used: int
    worked_known: bool = False  # worked events were seen: never-worked leads are censored

    @property
    def labeled(self) -> pd.DataFrame:
        """Rows with a 0/1 label."""
        return self.labels[self.labels[LABEL].notna()]

    def to_dict(self) -> dict[str, Any]:
        return {
            "cutoff": self.cutoff.isoformat(),
            "maturity_days": self.maturity_days,
            "events_used": self.events_used,
            "event_exclusions": dict(self.event_exclusions),
            "lead_counts": dict(self.lead_counts),
            "labeled": int(self.labels[LABEL].notna().sum()),
            "worked_known": self.worked_known,
        }


def label_leads(
    leads: pd.DataFrame,
    outcomes: pd.DataFrame,
    *,
    cutoff: pd.Timestamp,
    maturity_days: int = 90,
    unmatured: Literal["lost", "exclude"] = "lost",
) -> LabelResult:
    """Label every lead as of ``cutoff`` from its CRM outcome events."""
    _check_outcomes(outcomes)
    cutoff = pd.Timestamp(cutoff)
    created = _created(leads)
    position, reason = _event_reasons(leads, outcomes, created, cutoff)
    valid = reason == ""
    activity = outcomes[OUTCOME].to_numpy() == WORKED
    deciding, conflict_leads = _deciding(outcomes, position, valid & ~activity, n_leads=len(leads))
    reason[valid & np.isin(position, conflict_leads)] = "conflict"
    status, label, outcome_at = _statuses(
        created,
        deciding,
        conflict_leads,
        cutoff=cutoff,
        maturity_days=maturity_days,
        unmatured=unmatured,
    )
    worked_known = bool((valid & activity).any())
    if worked_known:
        worked = np.zeros(len(leads), dtype=bool)
        worked[position[valid & activity]] = True
        never = np.isin(status, ("lost_matured", "excluded_unmatured")) & ~worked
        status[never] = "never_worked"
        label[never] = np.nan
    labels = pd.DataFrame(
        {
            LEAD_ID: leads[LEAD_ID].to_numpy(),
            LABEL: label,
            STATUS: status,
            "outcome_at": outcome_at,
        }
    )
    exclusions = {r: int((reason == r).sum()) for r in EXCLUSION_REASONS}
    counts = {s: int((status == s).sum()) for s in STATUSES}
    used = int((reason == "").sum())
    return LabelResult(labels, cutoff, maturity_days, exclusions, counts, used, worked_known)


def _check_outcomes(outcomes: pd.DataFrame) -> None:
    bad = ~outcomes[OUTCOME].isin(["won", "lost", WORKED])
    if bad.any():
        rows = [int(i) + 1 for i in np.flatnonzero(bad.to_numpy())]
        raise InputError(
            "outcome must be 'won', 'lost' or 'worked' after mapping", column=OUTCOME, rows=rows
        )


def _created(leads: pd.DataFrame) -> np.ndarray:
    if CREATED_AT not in leads.columns:
        return np.full(len(leads), np.datetime64("NaT"), dtype="datetime64[ns]")
    return leads[CREATED_AT].to_numpy(dtype="datetime64[ns]")


def _event_reasons(
    leads: pd.DataFrame, outcomes: pd.DataFrame, created: np.ndarray, cutoff: pd.Timestamp
) -> tuple[np.ndarray, np.ndarray]:
    """Each event's lead position (-1 if none) and exclusion reason ("" = usable)."""
    ids = outcomes[LEAD_ID]
    position = pd.Index(leads[LEAD_ID]).get_indexer(ids.fillna("\0missing"))
    occurred = outcomes[OCCURRED_AT].to_numpy(dtype="datetime64[ns]")
    event_ids = outcomes[EVENT_ID] if EVENT_ID in outcomes.columns else None
    duplicate = (
        (event_ids.notna() & event_ids.duplicated(keep="first")).to_numpy()
        if (event_ids is not None)
        else np.zeros(len(outcomes), dtype=bool)
    )
    lead_created = np.where(position >= 0, created[np.maximum(position, 0)], np.datetime64("NaT"))
    tests = {
        "missing_lead_id": ids.isna().to_numpy(),
        "missing_timestamp": np.isnat(occurred),
        "duplicate_event_id": duplicate,
        "unknown_lead": position < 0,
        "before_created": ~np.isnat(lead_created) & (occurred < lead_created),
        "after_cutoff": occurred >= cutoff.to_datetime64(),
    }
    reason = np.full(len(outcomes), "", dtype=object)
    for name, hit in tests.items():
        reason[(reason == "") & hit] = name
    return position, reason


def _deciding(
    outcomes: pd.DataFrame, position: np.ndarray, valid: np.ndarray, *, n_leads: int
) -> tuple[pd.DataFrame, np.ndarray]:
    """Per lead with usable events: the latest instant and its outcome; and conflicting leads."""
    events = pd.DataFrame(
        {
            "pos": position[valid],
            "at": outcomes[OCCURRED_AT].to_numpy()[valid],
            "won": (outcomes[OUTCOME].to_numpy()[valid] == "won"),
        }
    )
    latest = events.groupby("pos")["at"].transform("max")
    last = events[events["at"] == latest]
    per_lead = last.groupby("pos").agg(
        at=("at", "first"), any_won=("won", "max"), all_won=("won", "min")
    )
    conflict = per_lead["any_won"] & ~per_lead["all_won"]
    return per_lead[~conflict], per_lead.index[conflict].to_numpy()


def _statuses(
    created: np.ndarray,
    deciding: pd.DataFrame,
    conflict: np.ndarray,
    *,
    cutoff: pd.Timestamp,
    maturity_days: int,
    unmatured: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(created)
    mature_before = (cutoff - pd.Timedelta(days=maturity_days)).to_datetime64()
    mature = np.isnat(created) | (created <= mature_before)
    no_event = "lost_matured" if unmatured == "lost" else "excluded_unmatured"
    status = np.where(mature, no_event, "censored").astype(object)
    label = np.where(mature & (unmatured == "lost"), 0.0, np.nan)
    outcome_at = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    pos = deciding.index.to_numpy()
    won = deciding["all_won"].to_numpy(dtype=bool)
    status[pos] = np.where(won, "won", "lost")
    label[pos] = won.astype(float)
    outcome_at[pos] = deciding["at"].to_numpy(dtype="datetime64[ns]")
    status[conflict] = "conflict"
    label[conflict] = np.nan
    after = ~np.isnat(created) & (created >= cutoff.to_datetime64())
    status[after] = "created_after_cutoff"
    label[after] = np.nan
    return status, label, outcome_at


def labels_from_column(
    leads: pd.DataFrame, label: pd.Series, *, cutoff: pd.Timestamp
) -> LabelResult:
    """Labels given by the leads table itself (``outcomes: none``): 1 won, 0 lost, missing
    unlabelled (neither trained nor evaluated on). No events, so no exclusions and no window."""
    y = label.to_numpy(dtype=np.float64)
    status = np.where(np.isnan(y), "unlabelled", np.where(y == 1.0, "won", "lost"))
    labels = pd.DataFrame(
        {
            LEAD_ID: leads[LEAD_ID].to_numpy(),
            LABEL: y,
            STATUS: status,
            "outcome_at": np.full(len(y), np.datetime64("NaT"), dtype="datetime64[ns]"),
        }
    )
    counts = {s: int((status == s).sum()) for s in ("won", "lost", "unlabelled")}
    return LabelResult(labels, pd.Timestamp(cutoff), 0, {}, counts, 0)


def no_outcomes() -> pd.DataFrame:
    """An empty table of outcome events in the standard shape."""
    return pd.DataFrame(
        {
            LEAD_ID: pd.Series(dtype=object),
            OUTCOME: pd.Series(dtype=object),
            OCCURRED_AT: pd.Series(dtype="datetime64[ns]"),
            EVENT_ID: pd.Series(dtype=object),
            AMOUNT: pd.Series(dtype="float64"),
        }
    )


@dataclass(frozen=True)
class YoungLeads:
    """Leads of the recent period (younger than the maturity window) and which are decided."""

    frame: pd.DataFrame
    decided: np.ndarray


def maturity_rule(config: LabelsConfig, *, from_column: bool) -> int | None:
    """The age leads must reach to be trained or evaluated on; none when labels come as they
    are (a label column) or when young decided leads are kept on purpose."""
    if config.use_young_decided or from_column:
        return None
    return config.maturity_days


def labeled_table(
    leads: pd.DataFrame, labels: LabelResult, *, maturity_days: int | None = None
) -> pd.DataFrame:
    """Leads with a 0/1 label as of the cutoff, with their features.

    With ``maturity_days``, leads younger than the maturity window are left out even when an
    event already decided them: among young leads the decided ones are mostly the quick wins
    (lost deals are recorded late or never), so keeping them would bias training and inflate
    the holdout's won rate. They are counted in the run record.
    """
    mask = labels.labels[LABEL].notna().to_numpy()
    if maturity_days is not None and CREATED_AT in leads.columns:
        mature_by = labels.cutoff - pd.Timedelta(days=maturity_days)
        mask = mask & (leads[CREATED_AT] <= mature_by).to_numpy()
    out = leads.loc[mask].copy()
    out[LABEL] = labels.labels.loc[mask, LABEL].to_numpy()
    result: pd.DataFrame = out.reset_index(drop=True)
    return result


def young_leads(leads: pd.DataFrame, labels: LabelResult) -> YoungLeads | None:
    """Leads younger than the maturity window at the cutoff, and which have an outcome already.

    The leak guard compares the two groups (same period, so drift cannot explain a difference):
    a field that decided leads have and undecided ones lack was filled after the outcome.
    """
    status = labels.labels[STATUS].to_numpy()
    if not (status == "censored").any():
        return None
    young = np.isin(status, ("censored", "won", "lost"))
    if CREATED_AT in leads.columns:
        mature_by = labels.cutoff - pd.Timedelta(days=labels.maturity_days)
        young &= (leads[CREATED_AT] > mature_by).to_numpy()
    return YoungLeads(leads.loc[young], status[young] != "censored")
