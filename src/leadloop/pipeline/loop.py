"""The loop, wired: read, label, split, train, evaluate, check, decide, then publish in one go.

Every stage is a pure function elsewhere; this module only connects them, so the same loop runs
from the CLI, from DVC and from a notebook.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from leadloop.assess import Assessment, Policy, assess
from leadloop.columns import AMOUNT, CHALLENGER, CHAMPION, CREATED_AT, LABEL, LEAD_ID
from leadloop.config import Settings
from leadloop.data.labels import LabelResult, labeled_table, maturity_rule, young_leads
from leadloop.evaluate import Metrics, compute_metrics
from leadloop.gate import Decision, decide
from leadloop.influence import Influence, influence_of
from leadloop.insights import Insights, describe
from leadloop.lift import holdout_amounts, won_amounts
from leadloop.model.scored import Scored
from leadloop.model.train import LeadModel, TrainResult
from leadloop.pipeline.inputs import Inputs, check_joined, label_inputs, load_inputs, resolve_cutoff
from leadloop.pipeline.models import Champion, Training, choose_models, single_model_decision
from leadloop.pipeline.publish import Checkpoint, publish
from leadloop.pipeline.record import RunRecord, build_record
from leadloop.registry import Settled
from leadloop.split import Split, split_holdout
from leadloop.tracking import ModelRegistry, RunLog

STAGES = ("read", "label", "split", "champion", "challenger", "evaluate", "checks", "publish")
Progress = Callable[[str], None]


@dataclass(frozen=True)
class LoopResult:
    """What one run of the loop produced; ``record.registry`` says what it did to the champion."""

    record: RunRecord
    report_dir: Path
    holdout_scores: pd.DataFrame
    first_run: bool

    @property
    def decision(self) -> Decision:
        return self.record.decision

    @property
    def settled(self) -> Settled | None:
        """What the run did to the registry, the champion as it is after."""
        return self.record.registry

    @property
    def champion_version(self) -> str:
        """The champion after the run."""
        return self.record.versions.champion

    @property
    def challenger_version(self) -> str:
        return self.record.versions.challenger


def run_loop(
    settings: Settings,
    *,
    progress: Progress | None = None,
    now: pd.Timestamp | None = None,
    inputs: Inputs | None = None,
    checkpoint: Checkpoint | None = None,
) -> LoopResult:
    """Run the whole loop once: every stage, the gate, then publish as one transaction.

    ``inputs`` already read (by ``load_inputs`` with the same ``now``) are used as given.
    Call ``prepare_run`` first (the CLI does): it checks the reports directory and the
    tracking store before any training, and settles what a killed run left. ``checkpoint``
    is called after each publishing step (``PUBLISH_STEPS``; a hook for fault-injection tests).
    """
    step = progress or (lambda _stage: None)
    now = now if now is not None else pd.Timestamp.now(tz="UTC").tz_localize(None)
    models = ModelRegistry(settings)
    if inputs is None:
        step("read")
        inputs = load_inputs(settings, now=now)
    data, labels = _training_data(settings, inputs, now=now, step=step)
    champion, challenger = choose_models(settings, models, data, step)
    judged = _judge(settings, data, champion, challenger, step)
    scores, insights = _describe(settings, data, labels, judged, challenger)
    step("publish")
    record = build_record(
        settings,
        inputs=inputs,
        labels=labels,
        split=data.split,
        run_name=f"{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}",
        metrics=judged.metrics,
        trained={CHAMPION: champion.trained, CHALLENGER: challenger},
        assessment=judged.assessment,
        decision=judged.decision,
        used=len(data.labeled),
        importance=judged.importance,
        insights=insights,
        influence=data.influence,
    )
    record = publish(
        settings,
        runs=RunLog(settings),
        models=models,
        record=record,
        inputs=inputs,
        labeled=data.labeled,
        scores=scores,
        compared_with=champion.version,
        checkpoint=checkpoint,
    )
    report_dir = settings.resolve(settings.reports_dir) / record.run
    return LoopResult(record, report_dir, scores, champion.trained is not None)


def _training_data(
    settings: Settings, inputs: Inputs, *, now: pd.Timestamp, step: Progress
) -> tuple[Training, LabelResult]:
    """Labels as of the cutoff, the labelled leads old enough to use, and the holdout split."""
    cutoff = resolve_cutoff(settings, inputs, now=now)
    step("label")
    labels = label_inputs(settings, inputs, cutoff)
    check_joined(settings, inputs, labels)
    rule = maturity_rule(settings.labels, from_column=settings.outcomes.source == "none")
    labeled = labeled_table(inputs.leads.frame, labels, maturity_days=rule)
    step("split")
    split = split_holdout(
        labeled,
        fraction=settings.split.holdout_fraction,
        min_rows=settings.split.min_holdout_rows,
        seed=settings.model.seed,
    )
    influence = _influence(inputs, labeled, split)
    young = young_leads(inputs.leads.frame, labels)
    return Training(inputs, labeled, split, young, influence), labels


def _influence(inputs: Inputs, labeled: pd.DataFrame, split: Split) -> Influence:
    """The logged propensities of the training and holdout leads (NaN where none)."""
    found = inputs.propensity.reindex(labeled[LEAD_ID].to_numpy()).to_numpy(dtype=np.float64)
    return influence_of(found[split.train], found[split.holdout])


@dataclass(frozen=True)
class _Judged:
    scores: pd.DataFrame
    metrics: dict[str, Metrics]
    importance: dict[str, dict[str, float]]
    assessment: Assessment
    decision: Decision
    newest: Scored  # the champion's margins on the newest leads (holdout, drift, young leads)


def _judge(
    settings: Settings,
    data: Training,
    champion: Champion,
    challenger: TrainResult | None,
    step: Progress,
) -> _Judged:
    """Both models on the same holdout, the evidence, and the gate's decision."""
    step("evaluate")
    retrained = challenger.model if challenger is not None else champion.model
    holdout = data.labeled.iloc[data.split.holdout]
    current = _newest(data.inputs.leads.frame, data.split, holdout)
    newest = Scored.of(champion.model, current, source="newest leads")
    scores = _holdout_scores(holdout, newest, retrained)
    metrics = {role: _evaluate(settings, scores, role) for role in (CHAMPION, CHALLENGER)}
    step("checks")
    seed = settings.model.seed
    importance = {
        CHAMPION: champion.model.mean_abs_contributions(holdout, seed=seed),
        CHALLENGER: retrained.mean_abs_contributions(holdout, seed=seed),
    }
    assessment = assess(
        Policy.of(settings),
        champion=newest,
        challenger=retrained,
        holdout=holdout,
        scores=scores,
        metrics=metrics,
        importance=importance[CHAMPION],
        train_rows=data.train_rows,
        history_label=_history(settings, data.inputs, data.train_rows),
        labeled=data.labeled,
        propensity=data.influence.holdout_propensity if data.influence is not None else None,
    )
    decision = single_model_decision(decide(assessment.evidence, settings.gate), champion)
    return _Judged(scores, metrics, importance, assessment, decision, newest)


def _describe(
    settings: Settings,
    data: Training,
    labels: LabelResult,
    judged: _Judged,
    challenger: TrainResult | None,
) -> tuple[pd.DataFrame, Insights]:
    """What the report shows beyond the gate's evidence: each holdout lead's won amount (for
    revenue), performance per segment, and the estimate for the leads not yet matured."""
    amounts = won_amounts(data.inputs.outcomes, cutoff=labels.cutoff)
    scores = judged.scores
    won = holdout_amounts(scores[LEAD_ID].to_numpy(), scores[LABEL].to_numpy(), amounts)
    scores = scores.assign(**{AMOUNT: won})
    champion = judged.newest.model
    insights = describe(
        settings.gate,
        seed=settings.model.seed,
        champion=judged.newest,
        challenger=challenger.model if challenger is not None else champion,
        holdout=data.labeled.iloc[data.split.holdout],
        scores=scores,
        leads=data.inputs.leads.frame,
        labels=labels,
    )
    return scores, insights


def _holdout_scores(holdout: pd.DataFrame, champion: Scored, challenger: LeadModel) -> pd.DataFrame:
    """Both models' probabilities on the very same holdout rows."""
    return pd.DataFrame(
        {
            LEAD_ID: holdout[LEAD_ID].to_numpy(),
            LABEL: holdout[LABEL].to_numpy(),
            CHAMPION: champion.proba_of(holdout, source="holdout"),
            CHALLENGER: challenger.predict_proba(holdout, source="holdout"),
        }
    )


def _evaluate(settings: Settings, scores: pd.DataFrame, role: str) -> Metrics:
    return compute_metrics(
        scores[LABEL].to_numpy(),
        scores[role].to_numpy(),
        capacity=settings.evaluation.capacity,
        bins=settings.evaluation.calibration_bins,
    )


def _newest(leads: pd.DataFrame, split: Split, holdout: pd.DataFrame) -> pd.DataFrame:
    """The current period for drift: every lead created in the holdout window or later."""
    if split.holdout_start is None:
        return holdout
    return leads.loc[leads[CREATED_AT] >= split.holdout_start]


def _history(settings: Settings, inputs: Inputs, rows: pd.DataFrame) -> np.ndarray | None:
    """The historical label of the training rows, to compare with the CRM's (none when the
    historical label is the label itself)."""
    history = inputs.leads.history_label
    if history is None or settings.outcomes.source == "none":
        return None
    by_id = pd.Series(history.to_numpy(), index=inputs.leads.frame[LEAD_ID].to_numpy())
    return by_id.reindex(rows[LEAD_ID].to_numpy()).to_numpy(dtype=np.float64)
