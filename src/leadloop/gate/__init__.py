"""The promotion gate: policy plus evidence in, a decision with every check and reason out.

A failed *blocking* check (too few leads of the rarer outcome to decide, a champion that uses a
column today's policy excludes, untrustworthy labels, severe drift in a top feature) means
"block": a person must look. A failed *improvement* check (AUC gain not significant, recall at
capacity lower, calibration off) means "keep": the champion stays and nothing is wrong. Only
when every check passes is the verdict "promote". A check that could not run says why and
neither passes nor fails.

The policy is the list ``CHECKS``: each entry names a check, says whether it blocks, and
evaluates the evidence into an ``Outcome``. Adding a check is one function, one entry, one
setting (in ``GateConfig`` or its own section) and one test.
"""

from __future__ import annotations

from leadloop.config import GateConfig
from leadloop.gate.checks import CHECKS, DRIFT, OFF_POLICY
from leadloop.gate.evidence import Check, Decision, Evidence, GateCheck, Outcome, Verdict

__all__ = [
    "CHECKS",
    "DRIFT",
    "OFF_POLICY",
    "Check",
    "Decision",
    "Evidence",
    "GateCheck",
    "Outcome",
    "Verdict",
    "decide",
]


def decide(
    evidence: Evidence, policy: GateConfig, *, checks: tuple[GateCheck, ...] | None = None
) -> Decision:
    """Apply the policy (``CHECKS`` unless given) to the evidence."""
    results = [check.run(evidence, policy) for check in (checks or CHECKS)]
    blocked = [c for c in results if c.blocking and c.passed is False]
    failed = [c for c in results if not c.blocking and c.passed is False]
    if blocked:
        verdict: Verdict = "block"
        reasons = [c.detail for c in blocked]
    elif failed:
        verdict, reasons = "keep", [c.detail for c in failed] + _named_drift(results)
    else:
        verdict = "promote"
        shown = ("auc_gain", OFF_POLICY, "recall_at_capacity")
        # An off-policy comparison too small to decide is repeated (not run, but it matters).
        thin = evidence.off_policy is not None
        ran = [c for c in results if c.passed is not None or (thin and c.name == OFF_POLICY)]
        reasons = [c.detail for c in ran if c.name in shown] + _changed_world(evidence, results)
    return Decision(verdict, reasons, results, policy.model_dump(mode="json"))


def _named_drift(checks: list[Check]) -> list[str]:
    """A kept champion's reasons name severe drift in its top features that did not block."""
    return [c.detail for c in checks if c.name == DRIFT and c.passed and (c.value or 0) > 0]


def _changed_world(ev: Evidence, checks: list[Check]) -> list[str]:
    """On promotion, name what changed: explained label disagreement and drifted features."""
    out = [c.detail for c in checks if c.detail.startswith("Explained by a changed world")]
    if ev.drift is not None:
        moved = [f.feature for f in ev.drift.features if f.severity != "none"]
        if moved:
            out.append(f"Drift (newest leads vs the champion's training data): {', '.join(moved)}.")
    return out
