"""The loop with and without logged propensities: weights, the off-policy gate check, and
what the run record and report say."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from leadloop.data.score_log import log_scores
from leadloop.data.store import FeedbackStore
from leadloop.pipeline import run_loop
from tests.integration.conftest import settings_for


def _check(record: dict[str, object], name: str) -> dict[str, object]:
    decision = record["decision"]
    assert isinstance(decision, dict)
    return next(c for c in decision["checks"] if c["name"] == name)


def test_logged_propensities_weight_training_and_the_gate(project: Path) -> None:
    """It weights the challenger by inverse propensity, reports the Kish effective size, and
    runs the off-policy check, when the score log holds a propensity for every lead."""
    store_url = f"sqlite:///{project / 'feedback.db'}"
    leads = pd.read_csv(project / "data" / "leads.csv", usecols=["lead_id"])
    rng = np.random.default_rng(0)
    records = [
        {
            "lead_id": str(lead),
            "probability": 0.1,
            "model_version": "0",
            "scored_at": "2024-01-01T00:00:00Z",
            "priority": i + 1,
            "explored": False,
            "propensity": float(rng.uniform(0.3, 1.0)),
        }
        for i, lead in enumerate(leads["lead_id"])
    ]
    store = FeedbackStore(store_url).create()
    log_scores(store, records, batch_id="history")
    store.dispose()
    result = run_loop(settings_for(project, serve__store_url=store_url))
    record = json.loads((result.report_dir / "run.json").read_text())
    influence = record["influence"]
    assert influence["corrected"] is True
    weights = influence["training_weights"]
    assert 0 < weights["effective_size"] < weights["rows"] and weights["clipped"] == 0
    check = _check(record, "off_policy_auc_gain")
    assert check["ran"] is True and "propensity" in str(check["detail"])
    assert "cannot correct" not in " ".join(record["warnings"])
    assert "The loop's own influence" in (result.report_dir / "report.html").read_text()


def test_without_propensities_the_run_says_it_cannot_correct(project: Path) -> None:
    """It says plainly, in the record's warnings and the report, that the loop cannot correct
    for its own influence, and leaves the off-policy check not run."""
    store_url = f"sqlite:///{project / 'feedback.db'}"
    result = run_loop(settings_for(project, serve__store_url=store_url))
    record = json.loads((result.report_dir / "run.json").read_text())
    assert record["influence"]["corrected"] is False
    assert any("cannot correct for its own influence" in w for w in record["warnings"])
    assert _check(record, "off_policy_auc_gain")["ran"] is False
    assert "cannot correct for its own influence" in (result.report_dir / "report.html").read_text()
    assert not (project / "feedback.db").exists()  # looking did not create the store
