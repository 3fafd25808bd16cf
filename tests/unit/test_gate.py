"""The gate's verdicts on hand-made evidence."""

from __future__ import annotations

import json

from leadloop.config import GateConfig
from leadloop.evaluate import PairedDifference
from leadloop.gate import Evidence, decide

POLICY = GateConfig()


def _evidence(
    *,
    gain: float = 0.03,
    lower: float = 0.01,
    recall: float = 0.02,
    ece: float = 0.02,
    positives: int = 200,
    reference: float | None = None,
    champion_auc: float = 0.78,
) -> Evidence:
    return Evidence(
        auc=PairedDifference("roc_auc", gain, lower, gain + (gain - lower), 0.95, "delong"),
        recall=PairedDifference(
            "recall_at_capacity", recall, recall - 0.02, recall + 0.02, 0.95, "bootstrap"
        ),
        champion_auc=champion_auc,
        challenger_auc=champion_auc + gain,
        challenger_ece=ece,
        champion_ece=0.02,
        holdout_positives=positives,
        holdout_rows=2000,
        champion_reference_auc=reference,
    )


def test_promotes_a_proven_gain() -> None:
    """It promotes when the AUC gain's lower bound clears the margin and nothing else fails."""
    decision = decide(_evidence(), POLICY)
    assert decision.verdict == "promote"
    assert any("ranks better" in r for r in decision.reasons)


def test_keeps_when_gain_is_not_proven() -> None:
    """It keeps the champion when the interval of the AUC gain includes zero."""
    decision = decide(_evidence(gain=0.004, lower=-0.006), POLICY)
    assert decision.verdict == "keep"
    assert "No proven ranking gain" in decision.reasons[0]


def test_keeps_when_recall_drops() -> None:
    """It keeps the champion when recall at capacity falls by more than allowed."""
    assert decide(_evidence(recall=-0.05), POLICY).verdict == "keep"


def test_keeps_when_badly_calibrated() -> None:
    """It keeps the champion when the challenger's calibration error is over the limit."""
    assert decide(_evidence(ece=0.2), POLICY).verdict == "keep"


def test_blocks_when_too_few_positives() -> None:
    """It says it cannot decide (block) on a holdout with too few won leads, whatever the gain."""
    decision = decide(_evidence(positives=8), POLICY)
    assert decision.verdict == "block"
    assert decision.reasons[0].startswith("Cannot decide")


def test_blocks_when_labels_rank_far_worse_than_before() -> None:
    """It blocks when no model ranks the new labels near the champion's validated AUC."""
    decision = decide(_evidence(champion_auc=0.55, gain=0.01, reference=0.80), POLICY)
    assert decision.verdict == "block"
    assert "look wrong or misjoined" in decision.reasons[0]


def test_record_is_json() -> None:
    """It gives a JSON-ready record with the policy, every check with figure and threshold."""
    record = decide(_evidence(), POLICY).to_dict()
    json.dumps(record)
    names = {c["name"] for c in record["checks"]}
    assert {"holdout_positives", "auc_gain", "recall_at_capacity", "calibration"} <= names
    assert record["policy"]["min_holdout_positives"] == 30
