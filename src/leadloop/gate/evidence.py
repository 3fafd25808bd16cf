"""What the promotion gate weighs and what it answers: the evidence, each check's outcome, the
decision (``leadloop.gate`` applies the policy; ``leadloop.gate.checks`` holds the checks)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from leadloop.config import GateConfig
from leadloop.evaluate import PairedDifference

if TYPE_CHECKING:
    from leadloop.drift import DriftReport
    from leadloop.influence import OffPolicy
    from leadloop.label_quality import LabelQuality

Verdict = Literal["promote", "keep", "block"]


@dataclass(frozen=True)
class Check:
    """One rule of the policy applied to one figure.

    ``passed`` is None when the check could not run (``detail`` says why); ``null_lower`` and
    ``null_upper`` bound what the figure reads by chance alone, where that is known.
    """

    name: str
    value: float | None
    threshold: float | None
    passed: bool | None
    blocking: bool
    detail: str
    null_lower: float | None = None
    null_upper: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ran": self.passed is not None}


@dataclass(frozen=True)
class Outcome:
    """What evaluating one check found: its figure, bar, verdict (None: not run) and why."""

    value: float | None
    threshold: float | None
    passed: bool | None
    detail: str
    null_lower: float | None = None
    null_upper: float | None = None


@dataclass(frozen=True)
class GateCheck:
    """One rule of the policy: its name, whether failing it blocks, and how it is evaluated."""

    name: str
    blocking: bool
    evaluate: Callable[[Evidence, GateConfig], Outcome]

    def run(self, evidence: Evidence, policy: GateConfig) -> Check:
        found = self.evaluate(evidence, policy)
        return Check(
            self.name,
            found.value,
            found.threshold,
            found.passed,
            self.blocking,
            found.detail,
            found.null_lower,
            found.null_upper,
        )


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
    ece_noise: float = 0.0
    top_features: list[str] = field(default_factory=list)
    drift: DriftReport | None = None
    label_quality: LabelQuality | None = None
    policy_conflicts: dict[str, str] = field(default_factory=dict)
    off_policy: OffPolicy | None = None  # None: no propensities logged for the holdout


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
