"""The promotion gate: policy plus evidence in, a decision with every check and reason out.

A failed *blocking* check (too few won leads to decide, untrustworthy labels, severe drift in a
top feature) means "block": a person must look. A failed *improvement* check (AUC gain not
significant, recall at capacity lower, calibration off) means "keep": the champion stays and
nothing is wrong. Only when every check passes is the verdict "promote".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from leadloop.config import GateConfig
from leadloop.evaluate import PairedDifference

if TYPE_CHECKING:
    from leadloop.drift import DriftReport
    from leadloop.label_quality import LabelQuality

Verdict = Literal["promote", "keep", "block"]


@dataclass(frozen=True)
class Check:
    """One rule of the policy applied to one figure."""

    name: str
    value: float | None
    threshold: float | None
    passed: bool
    blocking: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Evidence:
    """Everything the gate looks at, computed on the shared holdout and the new data."""

    auc: PairedDifference
    recall: PairedDifference
    champion_auc: float
    challenger_auc: float
    challenger_ece: float
    champion_ece: float
    holdout_positives: int
    holdout_rows: int
    champion_reference_auc: float | None = None
    ece_noise: float = 0.0
    top_features: list[str] = field(default_factory=list)
    drift: DriftReport | None = None
    label_quality: LabelQuality | None = None


@dataclass(frozen=True)
class Decision:
    """The verdict, the reasons in plain words, every check, and the policy applied."""

    verdict: Verdict
    reasons: list[str]
    checks: list[Check]
    policy: dict[str, Any]
    decided_by: str = "policy"

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "decided_by": self.decided_by,
            "reasons": self.reasons,
            "checks": [c.to_dict() for c in self.checks],
            "policy": self.policy,
        }


def decide(evidence: Evidence, policy: GateConfig) -> Decision:
    """Apply the policy to the evidence."""
    checks = [_holdout_size(evidence, policy)]
    checks += _label_checks(evidence, policy)
    checks += _drift_checks(evidence, policy)
    checks += [
        _auc_gain(evidence, policy),
        _recall(evidence, policy),
        _calibration(evidence, policy),
    ]
    blocked = [c for c in checks if c.blocking and not c.passed]
    failed = [c for c in checks if not c.blocking and not c.passed]
    if blocked:
        verdict: Verdict = "block"
        reasons = [c.detail for c in blocked]
    elif failed:
        verdict, reasons = "keep", [c.detail for c in failed]
    else:
        verdict = "promote"
        reasons = [c.detail for c in checks if c.name in ("auc_gain", "recall_at_capacity")]
    return Decision(verdict, reasons, checks, policy.model_dump(mode="json"))


def _holdout_size(ev: Evidence, policy: GateConfig) -> Check:
    need = policy.min_holdout_positives
    ok = ev.holdout_positives >= need
    detail = (
        f"The holdout has {ev.holdout_positives} won leads of {ev.holdout_rows}, enough "
        f"to decide (at least {need})."
        if ok
        else f"Cannot decide: the holdout has only {ev.holdout_positives} won leads of "
        f"{ev.holdout_rows} (at least {need} are needed), so any difference could be chance."
    )
    return Check("holdout_positives", ev.holdout_positives, need, ok, True, detail)


def _label_checks(ev: Evidence, policy: GateConfig) -> list[Check]:
    checks = []
    if ev.label_quality is not None:
        checks += [
            Check(c.name, c.value, c.threshold, c.passed, True, c.detail)
            for c in ev.label_quality.checks
        ]
    if ev.champion_reference_auc is not None:
        checks.append(_ranking_drop(ev, policy))
    return checks


def _ranking_drop(ev: Evidence, policy: GateConfig) -> Check:
    """Labels are suspect when neither model ranks them as well as the champion ranked its own."""
    reference = float(ev.champion_reference_auc or 0.0)
    best = max(ev.champion_auc, ev.challenger_auc)
    drop = reference - best
    ok = drop <= policy.max_champion_auc_drop
    detail = (
        f"The new CRM labels are ranked about as well as before (best holdout AUC "
        f"{best:.3f} vs the champion's {reference:.3f} at validation)."
        if ok
        else f"The new CRM labels look wrong or misjoined: the best model ranks them at AUC "
        f"{best:.3f}, {drop:.3f} below the champion's {reference:.3f} at validation "
        f"(limit {policy.max_champion_auc_drop:.2f})."
    )
    return Check("label_ranking_drop", drop, policy.max_champion_auc_drop, ok, True, detail)


def _drift_checks(ev: Evidence, policy: GateConfig) -> list[Check]:
    if ev.drift is None:
        return []
    top = set(ev.top_features[: policy.top_features])
    severe = [name for name in ev.drift.severe() if name in top]
    ok = not severe or not policy.block_on_drift
    if severe:
        detail = (
            f"Severe drift in top feature(s) {', '.join(severe)}: the newest leads no "
            "longer look like the champion's training data; review before promoting."
        )
    else:
        detail = f"No severe drift in the champion's top {len(top)} features."
    return [Check("top_feature_drift", float(len(severe)), 0.0, ok, True, detail)]


def _auc_gain(ev: Evidence, policy: GateConfig) -> Check:
    auc = ev.auc
    ok = auc.lower > policy.min_auc_gain
    level = f"{auc.confidence:.0%}"
    detail = (
        f"The challenger ranks better: AUC {ev.challenger_auc:.3f} vs {ev.champion_auc:.3f} "
        f"(+{auc.difference:.3f}, {level} interval {auc.lower:+.3f} to {auc.upper:+.3f}, "
        f"above the margin {policy.min_auc_gain:.3f})."
        if ok
        else f"No proven ranking gain: AUC {ev.challenger_auc:.3f} vs {ev.champion_auc:.3f} "
        f"({auc.difference:+.3f}; {level} interval {auc.lower:+.3f} to {auc.upper:+.3f} "
        f"does not clear the margin {policy.min_auc_gain:.3f})."
    )
    return Check("auc_gain", auc.lower, policy.min_auc_gain, ok, False, detail)


def _recall(ev: Evidence, policy: GateConfig) -> Check:
    """Worse on the business metric: a drop beyond the tolerance that the interval confirms."""
    diff = ev.recall.difference
    ok = diff >= -policy.max_recall_drop or ev.recall.upper >= 0
    detail = (
        f"Recall at capacity changes by {diff:+.3f} (interval {ev.recall.lower:+.3f} to "
        f"{ev.recall.upper:+.3f}): no proven drop beyond {policy.max_recall_drop:.3f}."
        if ok
        else f"The challenger finds fewer won leads within sales capacity: recall {diff:+.3f} "
        f"(interval {ev.recall.lower:+.3f} to {ev.recall.upper:+.3f}; allowed drop "
        f"{policy.max_recall_drop:.3f})."
    )
    return Check("recall_at_capacity", diff, -policy.max_recall_drop, ok, False, detail)


def _calibration(ev: Evidence, policy: GateConfig) -> Check:
    """Within the absolute limit, no worse than the champion beyond the tolerance, or within
    what a holdout of this size can resolve."""
    bound = max(policy.max_ece, ev.champion_ece + policy.ece_tolerance, ev.ece_noise)
    ok = ev.challenger_ece <= bound
    detail = (
        f"The challenger's probabilities are calibrated (ECE {ev.challenger_ece:.3f}; champion "
        f"{ev.champion_ece:.3f}; limit {bound:.3f})."
        if ok
        else f"The challenger's probabilities are off: expected calibration error "
        f"{ev.challenger_ece:.3f} exceeds {bound:.3f} (champion {ev.champion_ece:.3f})."
    )
    return Check("calibration", ev.challenger_ece, bound, ok, False, detail)
