"""``leadloop inspect``: how leadloop reads a leads file, column by column, with the leak
guard's evidence, fitted as a run would fit it with whatever labels can be found."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from leadloop.columns import CREATED_AT, LABEL
from leadloop.config import Settings
from leadloop.data import io
from leadloop.data.labels import YoungLeads, young_leads
from leadloop.data.schema import prepare_leads
from leadloop.data.timestamps import parse_timestamps
from leadloop.features import FeatureEncoder
from leadloop.leaks import Finding
from leadloop.pipeline.inputs import (
    check_lead_settings,
    label_inputs,
    load_inputs,
    read_options,
    resolve_cutoff,
)


def inspect_table(settings: Settings, path: Path) -> list[dict[str, Any]]:
    """Per column of a leads file: inferred type, missing share, cardinality, role and evidence.

    The role says whether the column would be a feature or why not (id, timestamp, label,
    excluded, leak by name, free text, a leak guard finding); ``evidence`` gives a finding's
    figures and thresholds. The guard runs with labels when it can: from the configured label
    column (leads without a label standing in for the undecided ones), else, for the configured
    leads file, from the configured outcomes file as a run would label them now.
    """
    raw = io.read_table(path, options=read_options(settings, "leads"))
    configured = settings.resolve(settings.leads.path)
    if configured.is_file() and path.resolve() == configured.resolve():
        check_lead_settings(settings, raw, source=str(path))
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
    y = labels.labels[LABEL].to_numpy(dtype=np.float64)
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
            frame[CREATED_AT] = parse_timestamps(
                raw[column],
                column=column,
                source=str(path),
                date_format=config.date_formats.get(column),
            ).to_numpy()
        return frame, None
    values = (settings.outcomes.won_values, settings.outcomes.lost_values)
    prepared = prepare_leads(raw, config, source=str(path), outcome_values=values)
    if prepared.has_created_at:
        frame[CREATED_AT] = prepared.frame[CREATED_AT].to_numpy()
    return frame, prepared.history_label


def _unlabelled(frame: pd.DataFrame, known: np.ndarray) -> YoungLeads | None:
    """Leads without a label as the undecided ones, against labelled leads of the same period."""
    if known.all():
        return None
    recent = np.ones(len(frame), dtype=bool)
    if CREATED_AT in frame.columns:
        recent = (frame[CREATED_AT] >= frame.loc[~known, CREATED_AT].min()).to_numpy()
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
