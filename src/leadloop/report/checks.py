"""How each check of the decision is shown: the figure its text talks about, with its interval,
the rule it is held to, and a result that is "pass", "fail" or "not run (why)".

The gate keeps, per check, the figure it compares with its threshold (for ``auc_gain`` the
interval's lower bound); a reader is told about the gain itself, so the row shows the gain,
its interval, and the rule "lower bound above the margin".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from leadloop.report import fmt

# The comparison each check makes between its figure and its threshold, as the gate applies it.
RULES = {
    "holdout_minority": "at least {t} leads of the rarer outcome",
    "champion_feature_policy": "no column today's policy excludes",
    "no_signal": "best AUC above {t}",
    "champion_fit": "AUC at least {t}",
    "suspicious_share": "share at most {t}",
    "history_agreement": "kappa at least {t}",
    "top_feature_drift": "no severe drift in a top feature",
    "auc_gain": "lower bound above the margin {t}",
    "off_policy_auc_gain": "weighted lower bound above {t}, enough effective leads",
    "recall_at_capacity": "no proven drop beyond {t}",
    "calibration": "ECE at most {t}",
}
COUNTED = ("holdout_minority", "champion_feature_policy", "top_feature_drift")


@dataclass(frozen=True)
class CheckRow:
    """One check as the report shows it."""

    name: str
    figure: str
    interval: str
    chance: str
    rule: str
    result: str  # "pass", "fail" or "not run (why)"
    css: str
    blocking: bool
    detail: str


def check_rows(checks: list[Mapping[str, Any]], assessment: Mapping[str, Any]) -> list[CheckRow]:
    """Every check of a decision, ready to show."""
    return [_row(c, assessment) for c in checks]


def _row(check: Mapping[str, Any], assessment: Mapping[str, Any]) -> CheckRow:
    name = str(check["name"])
    ran = check.get("passed") is not None
    figure, interval = _figure(check, assessment) if ran else (fmt.MISSING, fmt.MISSING)
    chance = (
        fmt.interval(check.get("null_lower"), check.get("null_upper"))
        if ran and check.get("null_lower") is not None
        else fmt.MISSING
    )
    if not ran:
        result, css = f"not run ({_why(str(check['detail']))})", "muted"
    else:
        result, css = ("pass", "ok") if check["passed"] else ("fail", "fail")
    return CheckRow(
        name=name,
        figure=figure,
        interval=interval,
        chance=chance,
        rule=_rule(name, check.get("threshold")),
        result=result,
        css=css,
        blocking=bool(check.get("blocking")),
        detail=str(check["detail"]),
    )


def _figure(check: Mapping[str, Any], assessment: Mapping[str, Any]) -> tuple[str, str]:
    """The figure the check's text talks about, and its interval where there is one."""
    name = check["name"]
    paired = {
        "auc_gain": "auc_difference",
        "off_policy_auc_gain": "off_policy_difference",
        "recall_at_capacity": "recall_difference",
    }
    if name in paired and assessment.get(paired[name]):
        diff = assessment[paired[name]]
        level = fmt.percent(diff["confidence"], 0)
        return fmt.signed(diff["difference"]), f"{level}: " + fmt.interval(
            diff["lower"], diff["upper"], sign=True
        )
    if name in COUNTED:
        return fmt.count(check.get("value")), fmt.MISSING
    return fmt.number(check.get("value")), fmt.MISSING


def _rule(name: str, threshold: float | None) -> str:
    if threshold is None and "{t}" in RULES.get(name, "{t}"):
        return fmt.MISSING  # a check that did not run has no bar to show
    shown = fmt.count(threshold) if name == "holdout_minority" else fmt.number(threshold)
    if name == "recall_at_capacity" and threshold is not None:
        shown = fmt.number(abs(threshold))
    return RULES.get(name, "threshold {t}").format(t=shown)


def _why(detail: str) -> str:
    """The reason a check did not run, from its detail ("Not run: ...")."""
    text = detail.strip()
    for prefix in ("Not run:", "not run:"):
        if text.startswith(prefix):
            text = text[len(prefix) :].strip()
    return text.rstrip(".") or "no reason recorded"
