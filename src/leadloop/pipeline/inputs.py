"""The loop's inputs: leads and outcomes read, validated and labelled as of a cutoff."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

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
from leadloop.data.events import latest_time, screen
from leadloop.data.labels import LabelResult, label_leads, labels_from_column, no_outcomes
from leadloop.data.schema import (
    PreparedLeads,
    check_named_columns,
    prepare_leads,
    prepare_outcome_events,
    prepare_outcomes,
)
from leadloop.data.score_log import stored_propensities
from leadloop.data.store import COLUMNS as STORED_COLUMNS
from leadloop.data.store import FeedbackStore, safe_url
from leadloop.data.synthetic import SyntheticSpec, generate
from leadloop.data.values import naive_utc
from leadloop.errors import ConfigError, InputError


@dataclass(frozen=True)
class Inputs:
    """Validated leads and outcomes, and the content hash that names this data."""

    leads: PreparedLeads
    outcomes: pd.DataFrame
    data_version: str
    digests: dict[str, str]
    warnings: list[str] = field(default_factory=list)
    dvc_hashes: dict[str, str] = field(default_factory=dict)
    # Each lead's first logged propensity (the score log), by lead id; empty: none logged.
    propensity: pd.Series = field(default_factory=lambda: pd.Series(dtype="float64"))


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


def read_options(settings: Settings, section: Literal["leads", "outcomes"]) -> io.ReadOptions:
    """How to read the leads or the outcomes file: placeholders, decimal mark, sheet."""
    config = settings.leads if section == "leads" else settings.outcomes
    return io.ReadOptions(
        missing=tuple(settings.missing_values),
        decimal=config.decimal,
        sheet=config.sheet,
        section=section,
        max_columns=settings.leads.max_columns if section == "leads" else None,
    )


def load_inputs(settings: Settings, *, now: pd.Timestamp | None = None) -> Inputs:
    """Read and validate both inputs; raises ``InputError`` naming file, column and rows.

    Each file is read once: its digest (and so the data version) is of the bytes parsed.
    """
    leads_path = settings.resolve(settings.leads.path)
    outcomes_path = settings.resolve(settings.outcomes.path)
    table = io.read_input(leads_path, read_options(settings, "leads"))
    check_lead_settings(settings, table.frame, source=str(leads_path))
    leads = prepare_leads(
        table.frame,
        settings.leads,
        source=str(leads_path),
        now=now,
        outcome_values=(settings.outcomes.won_values, settings.outcomes.lost_values),
    )
    warnings = [*table.warnings, *leads.warnings]
    if settings.outcomes.source == "store":
        outcomes, outcomes_digest, excluded = _stored_outcomes(settings, leads.frame)
        warnings += excluded
    elif settings.outcomes.source == "none":
        outcomes, outcomes_digest = no_outcomes(), ""
    else:
        events = io.read_input(outcomes_path, read_options(settings, "outcomes"))
        check_named_columns(
            events.frame,
            {"date_formats": list(settings.outcomes.date_formats)},
            source=str(outcomes_path),
            section="outcomes",
        )
        prepared = prepare_outcome_events(
            events.frame, settings.outcomes, source=str(outcomes_path), leads=leads.frame
        )
        outcomes, outcomes_digest = prepared.frame, events.digest
        warnings += [*events.warnings, *prepared.warnings]
    digests = {"leads": table.digest, "outcomes": outcomes_digest}
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
        stored_propensities(settings.store_url()),
    )


def check_lead_settings(settings: Settings, raw: pd.DataFrame, *, source: str) -> None:
    """Refuse lead settings that name columns the leads file does not have."""
    config = settings.leads
    named = {
        "exclude_columns": list(config.exclude_columns),
        "feature_types": list(config.feature_types),
        "date_formats": list(config.date_formats),
    }
    check_named_columns(raw, named, source=source, section="leads")


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
    raw[OCCURRED_AT] = pd.to_datetime(raw[OCCURRED_AT])
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
    outcomes = prepare_outcomes(raw, config, source=source, leads=leads)
    return outcomes, digest.hexdigest(), warnings


def resolve_cutoff(settings: Settings, inputs: Inputs, *, now: pd.Timestamp) -> pd.Timestamp:
    """The configured cutoff, else the newest timestamp in the data (never later than now);
    with no timestamps at all (a label-only table), just after ``now``."""
    if settings.labels.cutoff is not None:
        cutoff = naive_utc(pd.Timestamp(settings.labels.cutoff))  # see config.LabelsConfig
        if cutoff > now:
            raise ConfigError(
                f"labels.cutoff {cutoff:%Y-%m-%d %H:%M} is in the future (now "
                f"{now:%Y-%m-%d %H:%M} UTC): leads would be labelled by outcomes that cannot be "
                "known yet; set a cutoff in the past, or none to use the newest record"
            )
        return cutoff
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
