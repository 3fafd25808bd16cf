"""Which two models a run compares: the registered champion (or a first one trained now) and
the challenger retrained on the new labels, or one model alone when both would learn the same."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from leadloop.columns import CHAMPION, LABEL, LEAD_ID, OCCURRED_AT
from leadloop.config import Settings
from leadloop.data.ids import ids_in
from leadloop.data.labels import YoungLeads, labeled_table, maturity_rule
from leadloop.errors import InputError
from leadloop.gate import Decision
from leadloop.influence import Influence
from leadloop.model.train import LeadModel, TrainResult, train_model
from leadloop.pipeline.inputs import Inputs, label_inputs
from leadloop.split import Split
from leadloop.tracking import ModelRegistry

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Champion:
    """The champion this run compares against: from the registry, or trained now (first run)."""

    model: LeadModel
    version: str | None
    trained: TrainResult | None
    single: str | None = None  # why no separate challenger was trained, when none was


@dataclass(frozen=True)
class Training:
    """What a run trains on: every labelled lead, the split, and the young leads for the guard."""

    inputs: Inputs
    labeled: pd.DataFrame
    split: Split
    young: YoungLeads | None
    influence: Influence | None = None  # propensities of the labelled leads (score log)

    @property
    def train_rows(self) -> pd.DataFrame:
        return self.labeled.iloc[self.split.train]


def choose_models(
    settings: Settings, models: ModelRegistry, data: Training, step: Progress
) -> tuple[Champion, TrainResult | None]:
    """The champion (registered, or trained now on a first run) and the retrained challenger.

    No challenger (None) when it would learn from exactly the champion's labels: on a first run
    with a label-only table, or a historical label equal to the CRM outcome for every lead (one
    model is trained and registered as champion alone); and on a label-only table the registered
    champion was trained on, unchanged.
    """
    step("champion")
    train_rows = data.train_rows
    version = models.alias_version(CHAMPION)
    if version is not None:
        # loaded by number: the very version the decision is made against
        champion = Champion(models.load(version).model, version, None)
        unchanged = _unchanged_labels(settings, models, data.inputs, version)
        if unchanged is not None:
            return replace(champion, single=unchanged), None
    else:
        frame, target, source = _first_champion_rows(settings, data)
        if _same_labels(frame, target, train_rows):
            one = _fit_first(settings, train_rows, train_rows[LABEL].to_numpy(), source, data.young)
            note = (
                f"First run: one model trained on {source} and registered as champion; no "
                "separate challenger, because champion and challenger would learn from the "
                "same labels."
            )
            return Champion(one.model, None, one, note), None
        first = _fit_first(settings, frame, target, source, data.young)
        champion = Champion(first.model, None, first)
    step("challenger")
    weights = data.influence.train_weights if data.influence is not None else None
    y = train_rows[LABEL].to_numpy()
    return champion, train(
        settings, train_rows, y, data.young, weights.weights if weights is not None else None
    )


def single_model_decision(decision: Decision, champion: Champion) -> Decision:
    """With one model there is nothing to promote: it is the champion; blocks still stand."""
    if champion.single is None:
        return decision
    if decision.verdict == "block":
        return replace(decision, reasons=[*decision.reasons, champion.single])
    return replace(decision, verdict="keep", reasons=[champion.single])


def train(
    settings: Settings,
    frame: pd.DataFrame,
    y: np.ndarray,
    young: YoungLeads | None = None,
    weights: np.ndarray | None = None,
) -> TrainResult:
    """Train on the labelled rows with the configured feature settings (weighted by inverse
    propensities when given)."""
    return train_model(
        frame.drop(columns=[LABEL], errors="ignore"),
        y,
        config=settings.model,
        split=settings.split,
        exclude=tuple(settings.leads.exclude_columns),
        feature_types=dict(settings.leads.feature_types) or None,
        young=young,
        weights=weights,
    )


def _unchanged_labels(
    settings: Settings, models: ModelRegistry, inputs: Inputs, version: str
) -> str | None:
    """Why no challenger is trained, when the label-only data is the champion's own."""
    if settings.outcomes.source != "none":
        return None
    if models.model_card(version).get("data_version") != inputs.data_version:
        return None
    return (
        f"No challenger: champion v{version} was trained on this very label-only table (data "
        f"version {inputs.data_version}); a challenger would learn from the same labels. The "
        "champion is kept."
    )


def _same_labels(frame: pd.DataFrame, target: np.ndarray, train_rows: pd.DataFrame) -> bool:
    """True when the first champion's labels add nothing: every lead the challenger trains on
    has the same label there (a label-only table; a historical label equal to the CRM outcome).
    """
    first = pd.Series(target, index=frame[LEAD_ID].to_numpy())
    crm = pd.Series(train_rows[LABEL].to_numpy(), index=train_rows[LEAD_ID].to_numpy())
    if not ids_in(crm.index, first.index).all():
        return False
    return bool(np.array_equal(first.reindex(crm.index).to_numpy(), crm.to_numpy()))


def _first_champion_rows(
    settings: Settings, data: Training
) -> tuple[pd.DataFrame, np.ndarray, str]:
    """The first champion's training rows and labels, outside the holdout, and where the labels
    come from: the historical label if there is one, else earlier CRM labels."""
    holdout_ids = data.labeled[LEAD_ID].iloc[data.split.holdout]
    leads = data.inputs.leads.frame
    keep = ~ids_in(leads[LEAD_ID], holdout_ids)
    if data.inputs.leads.history_label is not None:
        y = data.inputs.leads.history_label.to_numpy()
        rows = keep & ~np.isnan(y)
        source = f"the label column '{settings.leads.label_column}'"
        return leads.loc[rows], y[rows], source
    early = _earlier_cutoff(data.inputs, data.split)
    labels = label_inputs(settings, data.inputs, early)
    from_column = settings.outcomes.source == "none"
    table = labeled_table(
        leads, labels, maturity_days=maturity_rule(settings.labels, from_column=from_column)
    )
    table = table[~ids_in(table[LEAD_ID], holdout_ids)]
    return table, table[LABEL].to_numpy(), f"CRM labels as of {early:%Y-%m-%d}"


def _fit_first(
    settings: Settings,
    frame: pd.DataFrame,
    target: np.ndarray,
    source: str,
    young: YoungLeads | None,
) -> TrainResult:
    try:
        return train(settings, frame, target, young)
    except InputError as err:
        raise InputError(f"first champion, trained on {source}: {err}") from err


def _earlier_cutoff(inputs: Inputs, split: Split) -> pd.Timestamp:
    if split.holdout_start is not None:
        return split.holdout_start
    stamps = inputs.outcomes[OCCURRED_AT].dropna().sort_values()
    return pd.Timestamp(stamps.iloc[len(stamps) // 2])
