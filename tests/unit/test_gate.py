"""The gate's verdicts on hand-made evidence."""

from __future__ import annotations

import json

from leadloop.config import GateConfig
from leadloop.drift import DriftReport, FeatureDrift
from leadloop.evaluate import PairedDifference
from leadloop.gate import CHECKS, Evidence, GateCheck, Outcome, decide
from leadloop.label_quality import LabelCheck, LabelQuality

POLICY = GateConfig()


def _evidence(
    *,
    gain: float = 0.03,
    lower: float = 0.01,
    recall: float = 0.02,
    ece: float = 0.02,
    positives: int = 200,
    rows: int = 2000,
    champion_auc: float = 0.78,
    **extra: object,
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
        holdout_rows=rows,
        **extra,  # type: ignore[arg-type]
    )


def _labels(*, fit: bool, signal: bool = True) -> LabelQuality:
    checks = [
        LabelCheck("no_signal", 0.7, 0.55, signal, "signal", 0.47, 0.53),
        LabelCheck("champion_fit", 0.70, 0.76, fit, "The new labels disagree.", 0.77, 0.81),
        LabelCheck("suspicious_share", 0.5, 0.6, True, "few contradict", 0.4, 0.55),
        LabelCheck("history_agreement", None, None, None, "Not run: no historical label."),
    ]
    return LabelQuality(checks, 2000, "won")


def _drift(*severe: str) -> DriftReport:
    def one(name: str, severity: str) -> FeatureDrift:
        return FeatureDrift(name, "numeric", 0.3, 0.2, None, None, None, severity, [], [], [], 0, 0)  # type: ignore[arg-type]

    features = [one(n, "severe") for n in severe] + [one("quiet", "none")]
    return DriftReport(features, None, 1000, 1000)


def test_promotes_a_proven_gain() -> None:
    """It promotes when the AUC gain's lower bound clears the margin and nothing else fails."""
    decision = decide(_evidence(), POLICY)
    assert decision.verdict == "promote"
    assert any("ranks better" in r for r in decision.reasons)


def test_keeps_when_gain_is_not_proven_and_says_what_could_be() -> None:
    """It keeps the champion when the interval includes zero and names the least provable gain."""
    decision = decide(_evidence(gain=0.004, lower=-0.006), POLICY)
    assert decision.verdict == "keep"
    assert "No proven ranking gain" in decision.reasons[0]
    # se = 0.01 / 1.96; provable above 0.005 + 1.96 * se = +0.015.
    assert "exceeds +0.015" in decision.reasons[0]


def test_keeps_when_recall_drops() -> None:
    """It keeps the champion when recall at capacity falls by more than allowed."""
    assert decide(_evidence(recall=-0.05), POLICY).verdict == "keep"


def test_keeps_when_badly_calibrated() -> None:
    """It keeps the champion when the challenger's calibration error is over the limit."""
    assert decide(_evidence(ece=0.2), POLICY).verdict == "keep"


def test_blocks_when_too_few_of_the_minority_class() -> None:
    """It cannot decide on a holdout with too few leads of the rarer outcome, won or lost."""
    few_won = decide(_evidence(positives=8), POLICY)
    assert few_won.verdict == "block" and few_won.reasons[0].startswith("Cannot decide")
    few_lost = decide(_evidence(positives=1980, rows=2000), POLICY)
    assert few_lost.verdict == "block" and "20 lost leads" in few_lost.reasons[0]
    assert decide(_evidence(positives=1930, rows=2000), POLICY).verdict == "promote"


def test_blocks_label_disagreement_without_a_proven_gain() -> None:
    """It blocks labels that disagree with the champion beyond chance when no model does better."""
    decision = decide(_evidence(gain=0.0, lower=-0.01, label_quality=_labels(fit=False)), POLICY)
    assert decision.verdict == "block"
    assert any("disagree" in r for r in decision.reasons)


def test_promotes_a_concept_change_and_names_it() -> None:
    """It promotes, naming the changed world and the drift, when the challenger proves the new
    labels rankable although they disagree with the champion."""
    evidence = _evidence(label_quality=_labels(fit=False), drift=_drift("lead_source"))
    decision = decide(evidence, POLICY.model_copy(update={"block_on_drift": False}))
    assert decision.verdict == "promote"
    assert any(r.startswith("Explained by a changed world") for r in decision.reasons)
    assert any("lead_source" in r for r in decision.reasons)


def test_no_signal_is_never_explained_away() -> None:
    """It blocks labels without signal even when the holdout gain looks proven."""
    decision = decide(_evidence(label_quality=_labels(fit=False, signal=False)), POLICY)
    assert decision.verdict == "block"


def test_blocks_a_champion_that_uses_an_excluded_column() -> None:
    """It blocks a champion using a column today's run excludes, naming it and how to move on."""
    conflicts = {"deal_stage": "leaks the label: alone it predicts won/lost (AUC 1.00)"}
    decision = decide(_evidence(gain=-0.2, lower=-0.25, policy_conflicts=conflicts), POLICY)
    assert decision.verdict == "block"
    reason = next(r for r in decision.reasons if "deal_stage" in r)
    assert "leadloop promote" in reason


def test_drift_reasons_name_severe_features_outside_the_top() -> None:
    """It names severe drift outside the top features instead of reporting no severe drift."""
    evidence = _evidence(drift=_drift("web_visits_30d"), top_features=["a", "b", "c", "d", "e"])
    decision = decide(evidence, POLICY)
    check = next(c for c in decision.checks if c.name == "top_feature_drift")
    assert check.passed and "web_visits_30d" in check.detail
    blocked = decide(
        _evidence(drift=_drift("web_visits_30d"), top_features=["web_visits_30d"]), POLICY
    )
    assert blocked.verdict == "block"


def test_record_is_json_with_not_run_checks() -> None:
    """It gives a JSON-ready record: every check with figure, null interval and whether it ran."""
    record = decide(_evidence(label_quality=_labels(fit=True)), POLICY).to_dict()
    json.dumps(record)
    checks = {c["name"]: c for c in record["checks"]}
    assert {"holdout_minority", "auc_gain", "recall_at_capacity", "calibration"} <= set(checks)
    assert checks["history_agreement"]["ran"] is False
    assert checks["history_agreement"]["passed"] is None
    assert checks["top_feature_drift"]["ran"] is False
    assert checks["champion_fit"]["null_lower"] == 0.77
    assert record["policy"]["min_holdout_minority"] == 30


def test_a_check_is_one_entry_in_the_policy_list() -> None:
    """It runs exactly the listed checks: a new blocking check added to the list blocks."""
    evidence = _evidence(label_quality=_labels(fit=True))

    def too_late(ev: Evidence, _policy: GateConfig) -> Outcome:
        return Outcome(1.0, 0.0, False, "The data arrived too late.")

    policy = (*CHECKS, GateCheck("freshness", True, too_late))
    decision = decide(evidence, POLICY, checks=policy)
    assert [c.name for c in decision.checks] == [c.name for c in policy]
    assert decision.verdict == "block" and decision.reasons == ["The data arrived too late."]
    assert decide(evidence, POLICY).verdict == "promote"


def test_label_checks_not_assessed_show_not_run() -> None:
    """It shows every label check as not run, never as passed, when labels were not assessed."""
    checks = {c.name: c for c in decide(_evidence(), POLICY).checks}
    for name in ("no_signal", "champion_fit", "suspicious_share", "history_agreement"):
        assert checks[name].passed is None and checks[name].detail.startswith("Not run")


def test_drift_in_a_top_feature_is_explained_by_a_proven_gain() -> None:
    """It promotes a challenger proven better on the drifted newest leads, naming the drift."""
    top = ["web_visits_30d", "b"]
    proven = _evidence(
        drift=_drift("web_visits_30d"), top_features=top, label_quality=_labels(fit=True)
    )
    decision = decide(proven, POLICY)
    assert decision.verdict == "promote"
    assert any("web_visits_30d" in r for r in decision.reasons)


def test_drift_without_a_proven_gain_blocks_only_when_the_champion_does_not_hold() -> None:
    """Without a proven gain, it keeps a champion that still fits the drifted leads' labels
    (naming the drift in the reasons), and blocks for review when its fit failed or the labels
    were not assessed."""
    top = ["web_visits_30d", "b"]

    def unproven(labels: LabelQuality | None) -> Evidence:
        return _evidence(
            gain=0.0,
            lower=-0.02,
            drift=_drift("web_visits_30d"),
            top_features=top,
            label_quality=labels,
        )

    holds = decide(unproven(_labels(fit=True)), POLICY)
    assert holds.verdict == "keep"
    assert any("web_visits_30d" in r and "has not hurt it" in r for r in holds.reasons)
    drift = next(c for c in holds.checks if c.name == "top_feature_drift")
    assert drift.passed is True and drift.value == 1.0
    assert decide(unproven(_labels(fit=False)), POLICY).verdict == "block"
    blocked = decide(unproven(None), POLICY)
    assert blocked.verdict == "block"
    assert any("review before promoting" in r for r in blocked.reasons)


def _off_policy(*, lower: float, minority: float) -> object:
    from leadloop.influence import OffPolicy

    diff = PairedDifference("roc_auc_ipw", lower + 0.02, lower, lower + 0.04, 0.95, "ipw")
    return OffPolicy(diff, 0.70, 0.70 + lower + 0.02, 0.08, 400.0, minority)


def test_without_propensities_the_off_policy_check_says_the_loop_cannot_correct() -> None:
    """It leaves the off-policy check not run, saying plainly why, and decides as before."""
    decision = decide(_evidence(), POLICY)
    check = next(c for c in decision.checks if c.name == "off_policy_auc_gain")
    assert check.passed is None and "cannot correct for its own influence" in check.detail
    assert decision.verdict == "promote"


def test_too_few_effective_leads_is_too_small_to_decide() -> None:
    """It leaves the off-policy check not run, saying the effective sample size is too small to
    decide, lets the unweighted gain decide alone, and repeats that in the promotion's reasons."""
    decision = decide(_evidence(off_policy=_off_policy(lower=0.02, minority=12.0)), POLICY)
    check = next(c for c in decision.checks if c.name == "off_policy_auc_gain")
    assert check.passed is None and "Too small to decide" in check.detail
    assert "12.0" in check.detail and "worked leads alone" in check.detail
    assert decision.verdict == "promote"
    assert any("Too small to decide" in r for r in decision.reasons)
    unproven = _evidence(gain=0.0, lower=-0.02, off_policy=_off_policy(lower=0.02, minority=12.0))
    assert decide(unproven, POLICY).verdict == "keep"


def test_a_decidable_off_policy_gain_replaces_the_unweighted_one() -> None:
    """It decides on the weighted gain alone when enough effective leads carry it: the
    unweighted gain on the worked leads is shown, not used, whichever way it points."""
    good = decide(_evidence(off_policy=_off_policy(lower=0.01, minority=80.0)), POLICY)
    assert good.verdict == "promote"
    assert any("weighted by 1 / propensity" in r for r in good.reasons)
    biased = decide(_evidence(off_policy=_off_policy(lower=-0.03, minority=80.0)), POLICY)
    assert biased.verdict == "keep"
    assert biased.reasons and all("No proven gain on all leads" in r for r in biased.reasons)
    hidden = _evidence(gain=0.0, lower=-0.02, off_policy=_off_policy(lower=0.01, minority=80.0))
    decision = decide(hidden, POLICY)
    plain = next(c for c in decision.checks if c.name == "auc_gain")
    assert plain.passed is None and plain.detail.startswith("Not used")
    assert decision.verdict == "promote"
