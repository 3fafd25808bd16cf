"""Label-quality checks on generated leads whose true outcomes are known."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from leadloop.config import ModelConfig
from leadloop.data.synthetic import SyntheticSpec, generate
from leadloop.label_quality import assess_labels

CONFIG = ModelConfig(num_threads=1)


@pytest.fixture(scope="module")
def leads() -> tuple[pd.DataFrame, np.ndarray]:
    """Leads and their true outcomes."""
    data = generate(SyntheticSpec(n_leads=6000, months=12, seed=21))
    return data.leads, data.truth["converted"].to_numpy().astype(float)


def _flip(y: np.ndarray, share: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    flips = np.random.default_rng(seed).uniform(size=len(y)) < share
    return np.where(flips, 1 - y, y), flips


def test_clean_labels_pass(leads: tuple[pd.DataFrame, np.ndarray]) -> None:
    """It passes clean labels and estimates few of them as wrong."""
    frame, y = leads
    quality = assess_labels(frame, y, model_config=CONFIG)
    assert quality.passed
    assert quality.suspicious_share < 0.12
    assert not quality.no_signal


def test_flipped_labels_flagged(leads: tuple[pd.DataFrame, np.ndarray]) -> None:
    """It flags 30% flipped labels and lists mostly flipped rows as the most suspicious."""
    frame, y = leads
    noisy, flips = _flip(y, 0.3)
    quality = assess_labels(frame, noisy, model_config=CONFIG)
    assert not quality.passed
    assert "suspicious_share" in {c.name for c in quality.failures()}
    flipped_ids = set(frame["lead_id"].to_numpy()[flips])
    listed = quality.suspicious["lead_id"].tolist()
    assert listed and np.mean([i in flipped_ids for i in listed]) > 0.6


def test_shuffled_labels_have_no_signal(leads: tuple[pd.DataFrame, np.ndarray]) -> None:
    """It names labels unrelated to the leads as carrying no signal."""
    frame, y = leads
    shuffled = np.random.default_rng(3).permutation(y)
    quality = assess_labels(frame, shuffled, model_config=CONFIG)
    assert quality.no_signal
    check = next(c for c in quality.checks if c.name == "no_signal")
    assert not check.passed and "no signal" in check.detail


def test_champion_drop_and_history_disagreement(leads: tuple[pd.DataFrame, np.ndarray]) -> None:
    """It flags a champion ranking far worse than at validation, and CRM vs history disagreement."""
    frame, y = leads
    rng = np.random.default_rng(4)
    history, _ = _flip(y, 0.4, seed=5)
    quality = assess_labels(
        frame,
        y,
        model_config=CONFIG,
        champion_proba=rng.uniform(size=len(y)),
        champion_reference_auc=0.82,
        history_label=history,
    )
    failed = {c.name for c in quality.failures()}
    assert {"champion_auc_drop", "history_agreement"} <= failed


def test_deterministic_and_json(leads: tuple[pd.DataFrame, np.ndarray]) -> None:
    """It gives the same figures twice and a JSON-ready record."""
    frame, y = leads
    a = assess_labels(frame, y, model_config=CONFIG)
    b = assess_labels(frame, y, model_config=CONFIG)
    assert a.suspicious_share == b.suspicious_share and a.oof_auc == b.oof_auc
    json.dumps(a.to_dict())
