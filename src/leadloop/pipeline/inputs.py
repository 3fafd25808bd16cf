"""The loop's inputs: leads and outcomes read, validated and labelled as of a cutoff."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from leadloop.columns import (
    AMOUNT,
    CREATED_AT,
    EVENT_ID,
    LEAD_ID,
    OCCURRED_AT,
    OUTCOME,
)
from leadloop.config import Settings
from leadloop.data import io
from leadloop.data.labels import LabelResult, label_leads, labels_from_column, no_outcomes
from leadloop.data.schema import PreparedLeads, prepare_leads, prepare_outcomes
from leadloop.data.store import FeedbackStore, safe_url
from leadloop.data.synthetic import SyntheticSpec, generate
from leadloop.data.values import naive_utc
from leadloop.errors import InputError


@dataclass(frozen=True)
class Inputs:
    """Validated leads and outcomes, and the content hash that names this data."""

    leads: PreparedLeads
    outcomes: pd.DataFrame
    data_version: str
    digests: dict[str, str]
    warnings: list[str] = field(default_factory=list)
    dvc_hashes: dict[str, str] = field(default_factory=dict)


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
    if settings.outcomes.source == "store":
        outcomes, outcomes_digest = _stored_outcomes(settings, leads.frame)
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
        list(leads.warnings),
        {k: v for k, v in dvc.items() if v},
    )


def _stored_outcomes(settings: Settings, leads: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The outcome events the webhook stored, validated like a CRM export, and their digest."""
    store = FeedbackStore(settings.store_url()).create()
    try:
        raw = store.outcomes()
    finally:
        store.dispose()
    source = f"feedback store {store.safe_url}"
    if raw.empty:
        raise InputError(
            "holds no outcome events yet (the CRM webhook POST /v1/feedback fills it)",
            path=source,
        )
    # The store's columns are fixed; only the won/lost mapping comes from the configuration.
    config = settings.outcomes.model_copy(
        update={
            "id_column": LEAD_ID,
            "outcome_column": OUTCOME,
            "occurred_at_column": OCCURRED_AT,
            "event_id_column": EVENT_ID,
            "amount_column": AMOUNT,
            "join": "id",
        }
    )
    digest = hashlib.sha256(pd.util.hash_pandas_object(raw, index=False).to_numpy().tobytes())
    return prepare_outcomes(raw, config, source=source, leads=leads), digest.hexdigest()


def resolve_cutoff(settings: Settings, inputs: Inputs, *, now: pd.Timestamp) -> pd.Timestamp:
    """The configured cutoff, else the newest timestamp in the data (never later than now);
    with no timestamps at all (a label-only table), just after ``now``."""
    if settings.labels.cutoff is not None:
        return naive_utc(pd.Timestamp(settings.labels.cutoff))  # see config.LabelsConfig
    stamps = [inputs.outcomes[OCCURRED_AT].max()]
    if inputs.leads.has_created_at:
        stamps.append(inputs.leads.frame[CREATED_AT].max())
    known = [s for s in stamps if pd.notna(s) and s <= now]
    latest = max(known) if known else now
    # Just after the newest record, so that record itself is "before the cutoff".
    return pd.Timestamp(latest) + pd.Timedelta(seconds=1)


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


def check_joined(settings: Settings, inputs: Inputs, labels: LabelResult) -> None:
    """Refuse outcomes of which not one names a known lead: the files do not belong together."""
    unknown = labels.event_exclusions.get("unknown_lead", 0)
    if unknown and unknown == len(inputs.outcomes) - labels.event_exclusions["missing_lead_id"]:
        example = inputs.outcomes[LEAD_ID].dropna().iloc[0]
        raise InputError(
            f"no outcome names a lead in {settings.resolve(settings.leads.path)} (e.g. "
            f"'{example}'); check that both files use the same lead ids",
            path=outcomes_location(settings),
            column=settings.outcomes.id_column,
            rows=[1],
        )


def outcomes_location(settings: Settings) -> str:
    """Where the outcomes come from, for messages and the run record (no password)."""
    if settings.outcomes.source == "none":
        return f"none (labels from the leads' column '{settings.leads.label_column}')"
    if settings.outcomes.source == "store":
        return f"feedback store {safe_url(settings.store_url())}"
    return str(settings.resolve(settings.outcomes.path))
