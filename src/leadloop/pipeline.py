"""The loop, wired: read, validate, label, split, train, evaluate, then publish in one go.

Every stage is a pure function elsewhere; this module only connects them, so the same loop runs
from the CLI, from DVC and from a notebook. Nothing is written until every stage has succeeded:
reports are staged in a temporary directory and MLflow is written last, aliases moved at the end.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from leadloop import registry
from leadloop.assess import Assessment, assess
from leadloop.config import Settings
from leadloop.data import io
from leadloop.data.events import latest_time, screen
from leadloop.data.labels import LabelResult, label_leads, labels_from_column, no_outcomes
from leadloop.data.schema import PreparedLeads, prepare_leads, prepare_outcomes
from leadloop.data.store import COLUMNS as STORED_COLUMNS
from leadloop.data.store import FeedbackStore, safe_url
from leadloop.data.synthetic import SyntheticSpec, generate
from leadloop.data.timestamps import parse_timestamps
from leadloop.errors import InputError
from leadloop.evaluate import METRIC_NAMES, Metrics, compare, compute_metrics
from leadloop.features import FeatureEncoder
from leadloop.gate import Decision, decide
from leadloop.leaks import Finding, YoungLeads
from leadloop.lineage import Unchanged, lineage_tags, record_unchanged, unchanged_since_last
from leadloop.model.train import LeadModel, TrainResult, train_model
from leadloop.registry import Settled
from leadloop.report.html import render_history, render_report
from leadloop.split import Split, split_holdout
from leadloop.tracking import ModelToLog, Tracker

log = logging.getLogger(__name__)
STAGES = ("read", "label", "split", "champion", "challenger", "evaluate", "checks", "publish")
Progress = Callable[[str], None]
REPORT_FILE = "report.html"
LATEST = "latest"  # reports/latest: a copy of the newest run's reports, at a fixed path


@dataclass(frozen=True)
class Inputs:
    """Validated leads and outcomes, and the content hash that names this data."""

    leads: PreparedLeads
    outcomes: pd.DataFrame
    data_version: str
    digests: dict[str, str]
    warnings: list[str] = field(default_factory=list)
    dvc_hashes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LoopResult:
    """What one run of the loop produced."""

    run_name: str
    report_dir: Path
    comparison: dict[str, dict[str, float | bool]]
    holdout_scores: pd.DataFrame
    champion_version: str
    challenger_version: str
    first_run: bool
    record: dict[str, Any]
    decision: Decision
    settled: Settled | None = None  # what the run did to the registry, champion as it is after


def ensure_data(settings: Settings) -> list[Path]:
    """Generate the bundled synthetic data set on first use: only for the default paths, never
    in place of files a user named."""
    leads_path = settings.resolve(settings.leads.path)
    outcomes_path = settings.resolve(settings.outcomes.path)
    chosen = "path" in settings.leads.model_fields_set or (
        "path" in settings.outcomes.model_fields_set
    )
    if chosen or leads_path.exists() or outcomes_path.exists() or not settings.synthetic.enabled:
        return []
    if settings.outcomes.source == "none":  # a label-only table is the user's own file
        return []
    spec = SyntheticSpec(
        n_leads=settings.synthetic.n_leads,
        months=settings.synthetic.months,
        seed=settings.synthetic.seed,
    )
    return write_synthetic(spec, leads_path=leads_path, outcomes_path=outcomes_path)


def write_synthetic(spec: SyntheticSpec, *, leads_path: Path, outcomes_path: Path) -> list[Path]:
    """Generate a synthetic set and write leads, outcomes and the truth file beside them."""
    data = generate(spec)
    truth_path = leads_path.with_name(f"truth{leads_path.suffix}")
    io.write_table(data.leads, leads_path)
    io.write_table(data.outcomes, outcomes_path)
    io.write_table(data.truth, truth_path)
    return [leads_path, outcomes_path, truth_path]


def load_inputs(settings: Settings, *, now: pd.Timestamp | None = None) -> Inputs:
    """Read and validate both inputs; raises ``InputError`` naming file, column and rows."""
    leads_path = settings.resolve(settings.leads.path)
    outcomes_path = settings.resolve(settings.outcomes.path)
    missing = tuple(settings.missing_values)
    leads = prepare_leads(
        io.read_table(leads_path, missing=missing),
        settings.leads,
        source=str(leads_path),
        now=now,
        outcome_values=(settings.outcomes.won_values, settings.outcomes.lost_values),
    )
    warnings = list(leads.warnings)
    if settings.outcomes.source == "store":
        outcomes, outcomes_digest, excluded = _stored_outcomes(settings, leads.frame)
        warnings += excluded
    elif settings.outcomes.source == "none":
        outcomes, outcomes_digest = no_outcomes(), ""
    else:
        outcomes = prepare_outcomes(
            io.read_table(outcomes_path, missing=missing),
            settings.outcomes,
            source=str(outcomes_path),
            leads=leads.frame,
        )
        outcomes_digest = io.file_digest(outcomes_path)
    digests = {"leads": io.file_digest(leads_path), "outcomes": outcomes_digest}
    dvc = {
        name: io.dvc_hash(path)
        for name, path in (("leads", leads_path), ("outcomes", outcomes_path))
        if name == "leads" or settings.outcomes.source == "file"
    }
    combined = hashlib.sha256("".join(digests.values()).encode()).hexdigest()
    return Inputs(
        leads,
        outcomes,
        combined[:16],
        digests,
        warnings,
        {k: v for k, v in dvc.items() if v},
    )


def _stored_outcomes(
    settings: Settings, leads: pd.DataFrame
) -> tuple[pd.DataFrame, str, list[str]]:
    """The outcome events the webhook stored, validated like a CRM export, their digest, and a
    warning counting by reason the stored rows that break the webhook's rules (rows stored
    before those rules existed): they are excluded, never a reason for the run to fail."""
    store = FeedbackStore(settings.store_url()).create()
    try:
        rows = store.rows()
    finally:
        store.dispose()
    source = f"feedback store {store.safe_url}"
    latest = latest_time(settings.serve.replay_window_seconds)
    screened = screen(rows, settings.outcomes, latest=latest)
    warnings = [f"{source}: {screened.summary()}"] if screened.excluded else []
    if not screened.events:
        what = f"no usable outcome events ({screened.summary()})" if rows else "no outcome events"
        raise InputError(
            f"holds {what} yet (the CRM webhook POST /v1/feedback fills it)", path=source
        )
    raw = pd.DataFrame(screened.events, columns=list(STORED_COLUMNS))
    raw["occurred_at"] = pd.to_datetime(raw["occurred_at"])
    # The store's columns are fixed; only the won/lost mapping comes from the configuration.
    config = settings.outcomes.model_copy(
        update={
            "id_column": "lead_id",
            "outcome_column": "outcome",
            "occurred_at_column": "occurred_at",
            "event_id_column": "event_id",
            "amount_column": "amount",
            "join": "id",
        }
    )
    digest = hashlib.sha256(pd.util.hash_pandas_object(raw, index=False).to_numpy().tobytes())
    outcomes = prepare_outcomes(raw, config, source=source, leads=leads)
    return outcomes, digest.hexdigest(), warnings


def resolve_cutoff(settings: Settings, inputs: Inputs, *, now: pd.Timestamp) -> pd.Timestamp:
    """The configured cutoff, else the newest timestamp in the data (never later than now);
    with no timestamps at all (a label-only table), just after ``now``."""
    if settings.labels.cutoff is not None:
        cutoff = pd.Timestamp(settings.labels.cutoff)  # naive UTC, see config.LabelsConfig
        return cutoff.tz_convert("UTC").tz_localize(None) if cutoff.tzinfo else cutoff
    stamps = [inputs.outcomes["occurred_at"].max()]
    if inputs.leads.has_created_at:
        stamps.append(inputs.leads.frame["created_at"].max())
    known = [s for s in stamps if pd.notna(s) and s <= now]
    latest = max(known) if known else now
    # Just after the newest record, so that record itself is "before the cutoff".
    return pd.Timestamp(latest) + pd.Timedelta(seconds=1)


@dataclass(frozen=True)
class Champion:
    """The champion this run compares against: from the registry, or trained now (first run)."""

    model: LeadModel
    version: str | None
    trained: TrainResult | None
    single: str | None = None  # why no separate challenger was trained, when none was


def run_loop(
    settings: Settings,
    *,
    progress: Progress | None = None,
    now: pd.Timestamp | None = None,
    inputs: Inputs | None = None,
) -> LoopResult:
    """Run the whole loop once: every stage, the gate, then publish; aliases move last.

    ``inputs`` already read (by ``load_inputs`` with the same ``now``) are used as given.
    """
    step = progress or (lambda _stage: None)
    now = now if now is not None else pd.Timestamp.now(tz="UTC").tz_localize(None)
    tracker = Tracker(settings)
    if inputs is None:
        step("read")
        inputs = load_inputs(settings, now=now)
    cutoff = resolve_cutoff(settings, inputs, now=now)
    step("label")
    labels = label_inputs(settings, inputs, cutoff)
    _check_joined(settings, inputs, labels)
    labeled = _labeled_table(inputs.leads.frame, labels, maturity_days=_young_rule(settings))
    young = young_leads(inputs.leads.frame, labels)
    step("split")
    split = split_holdout(
        labeled,
        fraction=settings.split.holdout_fraction,
        min_rows=settings.split.min_holdout_rows,
        seed=settings.model.seed,
    )
    train_rows, holdout = labeled.iloc[split.train], labeled.iloc[split.holdout]
    champion, challenger = _models(settings, tracker, inputs, labeled, split, step, young)
    retrained = challenger.model if challenger is not None else champion.model
    step("evaluate")
    scores = _holdout_scores(holdout, champion.model, retrained)
    metrics = {
        role: _evaluate(settings, scores[role].to_numpy(), scores["label"].to_numpy())
        for role in ("champion", "challenger")
    }
    step("checks")
    importance = {
        "champion": champion.model.mean_abs_contributions(holdout, seed=settings.model.seed),
        "challenger": retrained.mean_abs_contributions(holdout, seed=settings.model.seed),
    }
    assessment = assess(
        settings,
        champion=champion.model,
        challenger=retrained,
        holdout=holdout,
        scores=scores,
        metrics=metrics,
        importance=importance["champion"],
        train_rows=train_rows,
        history_label=_history(settings, inputs, train_rows),
        current=_newest(inputs.leads.frame, split, holdout),
        labeled=labeled,
    )
    decision = _single_model_decision(decide(assessment.evidence, settings.gate), champion)
    step("publish")
    run_name = f"{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
    trained = {"champion": champion.trained, "challenger": challenger}
    record = _record(
        settings,
        inputs=inputs,
        labels=labels,
        split=split,
        run_name=run_name,
        metrics=metrics,
        trained=trained,
        assessment=assessment,
        decision=decision,
        used=len(labeled),
    )
    record["importance"] = importance
    settled = _publish(
        settings,
        tracker,
        record=record,
        inputs=inputs,
        labeled=labeled,
        scores=scores,
        trained=trained,
        compared_with=champion.version,
    )
    return LoopResult(
        run_name,
        settings.resolve(settings.reports_dir) / run_name,
        record["comparison"],
        scores,
        settled.champion or "",
        record["versions"]["challenger"],
        champion.trained is not None,
        record,
        decision,
        settled,
    )


def _models(
    settings: Settings,
    tracker: Tracker,
    inputs: Inputs,
    labeled: pd.DataFrame,
    split: Split,
    step: Progress,
    young: YoungLeads | None,
) -> tuple[Champion, TrainResult | None]:
    """The champion (registered, or trained now on a first run) and the retrained challenger.

    No challenger (None) when it would learn from exactly the champion's labels: on a first run
    with a label-only table, or a historical label equal to the CRM outcome for every lead (one
    model is trained and registered as champion alone); and on a label-only table the registered
    champion was trained on, unchanged.
    """
    step("champion")
    train_rows = labeled.iloc[split.train]
    version = tracker.alias_version("champion")
    if version is not None:
        # loaded by number: the very version the decision is made against
        champion = Champion(tracker.load(version).model, version, None)
        unchanged = _unchanged_labels(settings, tracker, inputs, version)
        if unchanged is not None:
            return replace(champion, single=unchanged), None
    else:
        frame, target, source = _first_champion_rows(settings, inputs, labeled, split)
        if _same_labels(frame, target, train_rows):
            one = _fit_first_champion(
                settings, train_rows, train_rows["label"].to_numpy(), source, young
            )
            note = (
                f"First run: one model trained on {source} and registered as champion; no "
                "separate challenger, because champion and challenger would learn from the "
                "same labels."
            )
            return Champion(one.model, None, one, note), None
        first = _fit_first_champion(settings, frame, target, source, young)
        champion = Champion(first.model, None, first)
    step("challenger")
    return champion, _train(settings, train_rows, train_rows["label"].to_numpy(), young)


def _unchanged_labels(
    settings: Settings, tracker: Tracker, inputs: Inputs, version: str
) -> str | None:
    """Why no challenger is trained, when the label-only data is the champion's own."""
    if settings.outcomes.source != "none":
        return None
    if tracker.model_card(version).get("data_version") != inputs.data_version:
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
    first = pd.Series(target, index=frame["lead_id"].to_numpy())
    crm = pd.Series(train_rows["label"].to_numpy(), index=train_rows["lead_id"].to_numpy())
    if not crm.index.isin(first.index).all():
        return False
    return bool(np.array_equal(first.reindex(crm.index).to_numpy(), crm.to_numpy()))


def _single_model_decision(decision: Decision, champion: Champion) -> Decision:
    """With one model there is nothing to promote: it is the champion; blocks still stand."""
    if champion.single is None:
        return decision
    if decision.verdict == "block":
        return replace(decision, reasons=[*decision.reasons, champion.single])
    return replace(decision, verdict="keep", reasons=[champion.single])


def _holdout_scores(
    holdout: pd.DataFrame, champion: LeadModel, challenger: LeadModel
) -> pd.DataFrame:
    """Both models' probabilities on the very same holdout rows."""
    return pd.DataFrame(
        {
            "lead_id": holdout["lead_id"].to_numpy(),
            "label": holdout["label"].to_numpy(),
            "champion": champion.predict_proba(holdout, source="holdout"),
            "challenger": challenger.predict_proba(holdout, source="holdout"),
        }
    )


def _newest(leads: pd.DataFrame, split: Split, holdout: pd.DataFrame) -> pd.DataFrame:
    """The current period for drift: every lead created in the holdout window or later."""
    if split.holdout_start is None:
        return holdout
    return leads.loc[leads["created_at"] >= split.holdout_start]


def _history(settings: Settings, inputs: Inputs, rows: pd.DataFrame) -> np.ndarray | None:
    history = inputs.leads.history_label
    if history is None or settings.outcomes.source == "none":  # then it is the label itself
        return None
    by_id = pd.Series(history.to_numpy(), index=inputs.leads.frame["lead_id"].to_numpy())
    return by_id.reindex(rows["lead_id"].to_numpy()).to_numpy(dtype=np.float64)


def inspect_table(settings: Settings, path: Path) -> list[dict[str, Any]]:
    """Per column of a leads file: inferred type, missing share, cardinality, role and evidence.

    The role says whether the column would be a feature or why not (id, timestamp, label,
    excluded, leak by name, free text, a leak guard finding); ``evidence`` gives a finding's
    figures and thresholds. The guard runs with labels when it can: from the configured label
    column (leads without a label standing in for the undecided ones), else, for the configured
    leads file, from the configured outcomes file as a run would label them now.
    """
    raw = io.read_table(path, missing=tuple(settings.missing_values))
    config = settings.leads
    reserved = {
        config.id_column: "id",
        config.created_at_column: "creation timestamp",
        config.label_column: "label",
    }
    encoder = _inspect_encoder(settings, raw, path)
    kinds = {f.name: f.kind for f in encoder.features_}
    findings = {f.column: f for f in encoder.findings_}
    return [
        {
            "column": column,
            "type": kinds.get(column, str(raw[column].dtype)),
            "missing": float(raw[column].isna().mean()),
            "distinct": int(raw[column].nunique()),
            "role": reserved.get(column) or _inspect_role(column, kinds, encoder, findings),
            "evidence": findings[column].evidence if column in findings else None,
            "rows": len(raw),
        }
        for column in map(str, raw.columns)
    ]


def _inspect_encoder(settings: Settings, raw: pd.DataFrame, path: Path) -> FeatureEncoder:
    """The encoder fitted as a run would fit it, with the labels ``inspect`` can find."""
    config = settings.leads
    encoder = FeatureEncoder(
        exclude=tuple(config.exclude_columns), feature_types=dict(config.feature_types) or None
    )
    frame, label = _inspect_frame(raw, settings, path)
    if label is not None and label.notna().any():
        known = label.notna().to_numpy()
        return encoder.fit(
            frame.loc[known], label[known].to_numpy(), young=_unlabelled(frame, known)
        )
    labelled = _outcome_labels(settings, path) if label is None else None
    if labelled is not None:
        return encoder.fit(labelled[0], labelled[1], young=labelled[2])
    return encoder.fit(frame)


def _outcome_labels(
    settings: Settings, path: Path
) -> tuple[pd.DataFrame, np.ndarray, YoungLeads | None] | None:
    """For the configured leads file with an outcomes file: labelled leads and young leads."""
    outcomes = settings.resolve(settings.outcomes.path)
    configured = settings.resolve(settings.leads.path)
    if settings.outcomes.source != "file" or not outcomes.is_file() or not configured.is_file():
        return None
    if path.resolve() != configured.resolve():
        return None
    now = pd.Timestamp.now(tz="UTC").tz_localize(None)
    inputs = load_inputs(settings, now=now)
    labels = label_inputs(settings, inputs, resolve_cutoff(settings, inputs, now=now))
    y = labels.labels["label"].to_numpy(dtype=np.float64)
    known = ~np.isnan(y)
    if len(np.unique(y[known])) < 2:
        return None
    leads = inputs.leads.frame
    return leads.loc[known], y[known], young_leads(leads, labels)


def _inspect_frame(
    raw: pd.DataFrame, settings: Settings, path: Path
) -> tuple[pd.DataFrame, pd.Series | None]:
    """The feature columns (with ``created_at`` when known) and the label, if configured."""
    config = settings.leads
    reserved = [config.id_column, config.created_at_column, config.label_column]
    frame = raw.drop(columns=[c for c in reserved if c and c in raw.columns])
    if not (config.label_column and config.label_column in raw.columns):
        column = config.created_at_column
        if column and column in raw.columns:
            frame["created_at"] = parse_timestamps(
                raw[column],
                column=column,
                source=str(path),
                date_format=config.date_formats.get(column),
            ).to_numpy()
        return frame, None
    values = (settings.outcomes.won_values, settings.outcomes.lost_values)
    prepared = prepare_leads(raw, config, source=str(path), outcome_values=values)
    if prepared.has_created_at:
        frame["created_at"] = prepared.frame["created_at"].to_numpy()
    return frame, prepared.history_label


def _unlabelled(frame: pd.DataFrame, known: np.ndarray) -> YoungLeads | None:
    """Leads without a label as the undecided ones, against labelled leads of the same period."""
    if known.all():
        return None
    recent = np.ones(len(frame), dtype=bool)
    if "created_at" in frame.columns:
        recent = (frame["created_at"] >= frame.loc[~known, "created_at"].min()).to_numpy()
    return YoungLeads(frame.loc[recent], known[recent])


def _inspect_role(
    column: str, kinds: Mapping[str, str], encoder: FeatureEncoder, findings: dict[str, Finding]
) -> str:
    finding = findings.get(column)
    if column in kinds:
        return f"feature (declared; guard: {finding.check})" if finding else "feature"
    if finding:
        return f"excluded: {finding.reason.split(':')[0]}"
    return f"excluded: {encoder.excluded_.get(column, '')}"


def rerender_report(settings: Settings, run: str) -> Path:
    """Render a run's report again from what the run wrote (its record and holdout scores)."""
    directory = settings.resolve(settings.reports_dir) / run
    if not (directory / "run.json").is_file():
        raise InputError(
            f"no run '{run}' under {directory.parent} (see the folder names there)",
            path=str(directory),
        )
    record = io.read_json(directory / "run.json")
    scores = io.read_table(directory / "holdout_scores.parquet")
    target = directory / REPORT_FILE
    io.write_text(render_report(record, scores, importance=record.get("importance")), target)
    return target


def history(settings: Settings) -> tuple[list[dict[str, Any]], Path]:
    """Every registered version with its facts and decisions; writes reports/history.html."""
    versions = Tracker(settings).versions()
    decisions = []
    reports = settings.resolve(settings.reports_dir)
    for path in sorted(reports.glob("*/decision.json")) if reports.is_dir() else []:
        if path.parent.name == LATEST:
            continue
        decisions.append({"run": path.parent.name, **io.read_json(path)})
    target = reports / "history.html"
    io.write_text(render_history(versions, decisions), target)
    return versions, target


def write_record(record: dict[str, Any], path: Path) -> None:
    """Write a JSON record (validation findings, decisions) for scripts and DVC."""
    io.write_json(record, path)


def promote(
    settings: Settings, version: str, *, reason: str, by: str, expected: str | None = None
) -> tuple[str | None, str | None]:
    """A person's override, compare-and-set: make ``version`` the champion (only while it is
    still ``expected``, if given); returns (previous champion, champion after)."""
    return registry.promote(Tracker(settings), version, reason=reason, by=by, expected=expected)


def rollback(
    settings: Settings, *, reason: str, expected: str | None = None
) -> tuple[str, str | None]:
    """Point ``champion`` back at the version it replaced; returns (from, champion after)."""
    return registry.rollback(Tracker(settings), reason=reason, expected=expected)


def nothing_new(settings: Settings, inputs: Inputs) -> Unchanged | None:
    """The last run, when data, settings, code and champion are all as it left them; the skip
    is then recorded in MLflow."""
    unchanged = unchanged_since_last(settings, inputs.data_version)
    if unchanged is not None:
        record_unchanged(settings, unchanged)
    return unchanged


def label_inputs(settings: Settings, inputs: Inputs, cutoff: pd.Timestamp) -> LabelResult:
    """Point-in-time labels for the inputs as of ``cutoff`` with the configured rules; with
    ``outcomes: none``, the leads' own label column."""
    if settings.outcomes.source == "none":
        history = inputs.leads.history_label
        if history is None:  # Settings refuses outcomes: none without leads.label_column
            raise InputError("outcomes: none needs leads.label_column")
        return labels_from_column(inputs.leads.frame, history, cutoff=cutoff)
    return label_leads(
        inputs.leads.frame,
        inputs.outcomes,
        cutoff=cutoff,
        maturity_days=settings.labels.maturity_days,
        unmatured=settings.labels.unmatured,
    )


def _labeled_table(
    leads: pd.DataFrame, labels: LabelResult, *, maturity_days: int | None = None
) -> pd.DataFrame:
    """Leads with a 0/1 label as of the cutoff, with their features.

    With ``maturity_days``, leads younger than the maturity window are left out even when an
    event already decided them: among young leads the decided ones are mostly the quick wins
    (lost deals are recorded late or never), so keeping them would bias training and inflate
    the holdout's won rate. They are counted in the run record.
    """
    mask = labels.labels["label"].notna().to_numpy()
    if maturity_days is not None and "created_at" in leads.columns:
        mature_by = labels.cutoff - pd.Timedelta(days=maturity_days)
        mask = mask & (leads["created_at"] <= mature_by).to_numpy()
    out = leads.loc[mask].copy()
    out["label"] = labels.labels.loc[mask, "label"].to_numpy()
    result: pd.DataFrame = out.reset_index(drop=True)
    return result


def young_leads(leads: pd.DataFrame, labels: LabelResult) -> YoungLeads | None:
    """Leads younger than the maturity window at the cutoff, and which have an outcome already.

    The leak guard compares the two groups (same period, so drift cannot explain a difference):
    a field that decided leads have and undecided ones lack was filled after the outcome.
    """
    status = labels.labels["status"].to_numpy()
    if not (status == "censored").any():
        return None
    young = np.isin(status, ("censored", "won", "lost"))
    if "created_at" in leads.columns:
        mature_by = labels.cutoff - pd.Timedelta(days=labels.maturity_days)
        young &= (leads["created_at"] > mature_by).to_numpy()
    return YoungLeads(leads.loc[young], status[young] != "censored")


def _check_joined(settings: Settings, inputs: Inputs, labels: LabelResult) -> None:
    """Refuse outcomes of which not one names a known lead: the files do not belong together."""
    unknown = labels.event_exclusions.get("unknown_lead", 0)
    if unknown and unknown == len(inputs.outcomes) - labels.event_exclusions["missing_lead_id"]:
        example = inputs.outcomes["lead_id"].dropna().iloc[0]
        raise InputError(
            f"no outcome names a lead in {settings.resolve(settings.leads.path)} (e.g. "
            f"'{example}'); check that both files use the same lead ids",
            path=_outcomes_location(settings),
            column=settings.outcomes.id_column,
            rows=[1],
        )


def _young_rule(settings: Settings) -> int | None:
    """The maturity window leads must pass to be used; none when labels are given as they are."""
    if settings.labels.use_young_decided or settings.outcomes.source == "none":
        return None
    return settings.labels.maturity_days


def _train(
    settings: Settings, frame: pd.DataFrame, y: np.ndarray, young: YoungLeads | None = None
) -> TrainResult:
    """Train on the labelled rows with the configured feature settings."""
    features = frame.drop(columns=["label"], errors="ignore")
    result = train_model(
        features,
        y,
        config=settings.model,
        split=settings.split,
        exclude=tuple(settings.leads.exclude_columns),
        feature_types=dict(settings.leads.feature_types) or None,
        young=young,
    )
    return result


def _first_champion_rows(
    settings: Settings, inputs: Inputs, labeled: pd.DataFrame, split: Split
) -> tuple[pd.DataFrame, np.ndarray, str]:
    """The first champion's training rows and labels, outside the holdout, and where the labels
    come from: the historical label if there is one, else earlier CRM labels."""
    holdout_ids = set(labeled["lead_id"].iloc[split.holdout])
    leads = inputs.leads.frame
    keep = ~leads["lead_id"].isin(holdout_ids).to_numpy()
    if inputs.leads.history_label is not None:
        y = inputs.leads.history_label.to_numpy()
        rows = keep & ~np.isnan(y)
        source = f"the label column '{settings.leads.label_column}'"
        return leads.loc[rows], y[rows], source
    early = _earlier_cutoff(inputs, split)
    labels = label_inputs(settings, inputs, early)
    table = _labeled_table(leads, labels, maturity_days=_young_rule(settings))
    table = table[~table["lead_id"].isin(holdout_ids)]
    return table, table["label"].to_numpy(), f"CRM labels as of {early:%Y-%m-%d}"


def _fit_first_champion(
    settings: Settings,
    frame: pd.DataFrame,
    target: np.ndarray,
    source: str,
    young: YoungLeads | None,
) -> TrainResult:
    try:
        return _train(settings, frame, target, young)
    except InputError as err:
        raise InputError(f"first champion, trained on {source}: {err}") from err


def _earlier_cutoff(inputs: Inputs, split: Split) -> pd.Timestamp:
    if split.holdout_start is not None:
        return split.holdout_start
    stamps = inputs.outcomes["occurred_at"].dropna().sort_values()
    return pd.Timestamp(stamps.iloc[len(stamps) // 2])


def _evaluate(settings: Settings, proba: np.ndarray, y: np.ndarray) -> Metrics:
    return compute_metrics(
        y, proba, capacity=settings.evaluation.capacity, bins=settings.evaluation.calibration_bins
    )


def _record(
    settings: Settings,
    *,
    inputs: Inputs,
    labels: LabelResult,
    split: Split,
    run_name: str,
    metrics: dict[str, Metrics],
    trained: dict[str, TrainResult | None],
    assessment: Assessment,
    decision: Decision,
    used: int,
) -> dict[str, Any]:
    """The run record: every count, exclusion, warning and figure of this run, JSON-ready."""
    return {
        "run": run_name,
        "data_version": inputs.data_version,
        "inputs": _inputs_record(settings, inputs),
        "labels": {
            **labels.to_dict(),
            "used": used,
            "left_out_young_decided": int(labels.labels["label"].notna().sum()) - used,
        },
        "split": split.to_dict(),
        "training": {role: t.to_dict() for role, t in trained.items() if t is not None},
        "features": {
            role: t.model.encoder.to_dict() for role, t in trained.items() if t is not None
        },
        "metrics": {role: m.to_dict() for role, m in metrics.items()},
        "comparison": compare(metrics["champion"], metrics["challenger"]),
        "capacity": settings.evaluation.capacity,
        "assessment": assessment.to_dict(),
        "decision": decision.to_dict(),
        "warnings": inputs.warnings + _leak_warnings(trained),
    }


def _leak_warnings(trained: dict[str, TrainResult | None]) -> list[str]:
    """One warning per leak guard finding (or leak-like name), with its evidence and remedy."""
    found: dict[str, str] = {}
    for result in trained.values():
        if result is None:
            continue
        encoder = result.model.encoder
        found.update({n: r for n, r in encoder.excluded_.items() if r.startswith("name suggests")})
        for finding in getattr(encoder, "findings_", []):
            found[finding.column] = (
                f"kept because leads.feature_types declares it, although {finding.check}: "
                f"{finding.evidence}"
                if finding.kept
                else finding.reason
            )
    return [f"column '{name}' {_verb(reason)}: {reason}" for name, reason in sorted(found.items())]


def _verb(reason: str) -> str:
    return "is a feature" if reason.startswith("kept") else "is not used as a feature"


def _inputs_record(settings: Settings, inputs: Inputs) -> dict[str, Any]:
    return {
        "dvc_md5": inputs.dvc_hashes,
        "leads": {
            "path": str(settings.resolve(settings.leads.path)),
            "rows": len(inputs.leads.frame),
            "sha256": inputs.digests["leads"],
        },
        "outcomes": {
            "path": _outcomes_location(settings),
            "rows": len(inputs.outcomes),
            "sha256": inputs.digests["outcomes"],
        },
    }


def _outcomes_location(settings: Settings) -> str:
    if settings.outcomes.source == "none":
        return f"none (labels from the leads' column '{settings.leads.label_column}')"
    if settings.outcomes.source == "store":
        return f"feedback store {safe_url(settings.store_url())}"
    return str(settings.resolve(settings.outcomes.path))


def _publish(
    settings: Settings,
    tracker: Tracker,
    *,
    record: dict[str, Any],
    inputs: Inputs,
    labeled: pd.DataFrame,
    scores: pd.DataFrame,
    trained: dict[str, TrainResult | None],
    compared_with: str | None,
) -> Settled:
    """Stage the records, log the run to MLflow, move the aliases compare-and-set, then write
    the report and put the records (which say what the registry did) into place."""
    final = settings.resolve(settings.reports_dir) / record["run"]
    staged = io.staging_dir(final)
    try:
        _write_reports(record, staged)
        io.write_table(scores, staged / "holdout_scores.parquet")
        tags = {
            **lineage_tags(settings, inputs.data_version),
            "leadloop_run": record["run"],
            "decision": record["decision"]["verdict"],
            "compared_with": compared_with or "",
            **{f"dvc_md5_{name}": md5 for name, md5 in inputs.dvc_hashes.items()},
        }
        sample = labeled.drop(columns=["lead_id", "label"]).head(5)
        models = [ModelToLog(role, t, sample) for role, t in trained.items() if t is not None]
        published = tracker.publish(
            run_name=f"loop {record['run']}",
            tags=tags,
            params=_params(settings),
            metrics=_data_metrics(record),
            models=models,
            evaluation=_flat_metrics(record),
            report_dir=staged,
        )
        record["mlflow_run_id"] = published.run_id
        settled = _settle(tracker, record, published.run_id, published.versions, compared_with)
        # The records and the HTML report say what the registry did, so they follow the move.
        _write_reports(record, staged)
        io.write_text(
            render_report(record, scores, importance=record.get("importance")), staged / REPORT_FILE
        )
        tracker.log_report(published.evaluate_run_id, staged)
        io.publish_dir(staged, final)
        io.copy_dir(final, final.parent / LATEST)
    except BaseException:
        io.discard_dir(staged)
        raise
    return settled


def _settle(
    tracker: Tracker,
    record: dict[str, Any],
    run_id: str,
    versions: dict[str, str],
    compared_with: str | None,
) -> Settled:
    """Move the aliases compare-and-set and write what happened into the record and MLflow."""
    decision = record["decision"]
    settled = registry.settle_run(
        tracker,
        compared_with=compared_with,
        versions=versions,
        promote=decision["verdict"] == "promote",
        reason=" ".join(decision["reasons"]),
        run=record["run"],
    )
    record["registry"] = settled.to_dict()
    record["versions"] = {
        "champion": settled.champion or "",
        "challenger": versions.get("challenger", ""),
        "compared_with": versions.get("champion") or compared_with or "",
    }
    tracker.tag_run(
        run_id,
        {
            "champion_after": settled.champion or "",
            "compared_with": record["versions"]["compared_with"],
            "challenger_version": versions.get("challenger", ""),
            "registry": settled.message[:5000],
        },
    )
    return settled


def _write_reports(record: dict[str, Any], directory: Path) -> None:
    io.write_json(
        {
            "run": record["run"],
            "capacity": record["capacity"],
            "holdout": record["split"],
            **record["metrics"],
            "comparison": record["comparison"],
        },
        directory / "metrics.json",
    )
    rows = [{"metric": name, **record["comparison"][name]} for name in METRIC_NAMES]
    io.write_table(pd.DataFrame(rows), directory / "metrics.csv")
    io.write_json(record["decision"], directory / "decision.json")
    io.write_json(record, directory / "run.json")


def _flat_metrics(record: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, values in record["comparison"].items():
        out[f"champion_{name}"] = float(values["champion"])
        out[f"challenger_{name}"] = float(values["challenger"])
        out[f"diff_{name}"] = float(values["difference"])
    out["holdout_rows"] = float(record["metrics"]["challenger"]["n"])
    out["holdout_positives"] = float(record["metrics"]["challenger"]["positives"])
    return out


def _data_metrics(record: dict[str, Any]) -> dict[str, float]:
    labels = record["labels"]
    out = {
        "leads_rows": float(record["inputs"]["leads"]["rows"]),
        "outcome_rows": float(record["inputs"]["outcomes"]["rows"]),
    }
    out.update({f"leads_{k}": float(v) for k, v in labels["lead_counts"].items()})
    out.update({f"events_excluded_{k}": float(v) for k, v in labels["event_exclusions"].items()})
    return out


def _params(settings: Settings) -> dict[str, Any]:
    """The configuration flattened to MLflow params (section.key -> value)."""
    flat: dict[str, Any] = {}
    for section, values in settings.model_dump(mode="json", exclude={"base_dir", "serve"}).items():
        if isinstance(values, dict):
            flat.update({f"{section}.{k}": str(v)[:500] for k, v in values.items()})
        else:
            flat[section] = str(values)
    return flat
