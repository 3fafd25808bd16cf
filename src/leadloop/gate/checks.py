"""The promotion policy's checks: each a function from the evidence and the gate's settings to
an ``Outcome`` (its figure, its bar, passed or not, and why in plain words)."""

from __future__ import annotations

from collections.abc import Callable

from scipy.stats import norm

from leadloop.config import GateConfig
from leadloop.evaluate import PairedDifference
from leadloop.gate.evidence import Evidence, GateCheck, Outcome
from leadloop.label_quality import CHECK_NAMES

CHANGE_EXPLAINS = ("champion_fit", "suspicious_share")  # a changed world explains these
OFF_POLICY = "off_policy_auc_gain"
DRIFT = "top_feature_drift"


def _holdout_size(ev: Evidence, policy: GateConfig) -> Outcome:
    """Decisions rest on the rarer outcome: count it, whichever of won or lost it is."""
    need = policy.min_holdout_minority
    lost = ev.holdout_rows - ev.holdout_positives
    minority, name = min((ev.holdout_positives, "won"), (lost, "lost"))
    ok = minority >= need
    detail = (
        f"The holdout has {minority} {name} leads of {ev.holdout_rows} (the rarer outcome), "
        f"enough to decide (at least {need})."
        if ok
        else f"Cannot decide: the holdout has only {minority} {name} leads of "
        f"{ev.holdout_rows} (the rarer outcome; at least {need} are needed), so any difference "
        "could be chance."
    )
    return Outcome(minority, need, ok, detail)


def _feature_policy(ev: Evidence, _policy: GateConfig) -> Outcome:
    """The champion is judged under today's feature policy: no column today's run excludes."""
    conflicts = ev.policy_conflicts
    if not conflicts:
        detail = "The champion uses only columns that today's feature policy allows."
        return Outcome(0.0, 0.0, True, detail)
    named = "; ".join(f"'{name}' ({why})" for name, why in sorted(conflicts.items()))
    detail = (
        f"The champion uses column(s) that today's run excludes: {named}. Its scores cannot be "
        "trusted or kept silently. If the challenger is right, make it the champion with "
        '`leadloop promote VERSION --reason "..."` (VERSION: this run\'s challenger); the '
        "override is recorded."
    )
    return Outcome(float(len(conflicts)), 0.0, False, detail)


def _label_check(name: str) -> Callable[[Evidence, GateConfig], Outcome]:
    """The label-quality check ``name`` as the gate sees it (see ``label_quality``)."""

    def evaluate(ev: Evidence, policy: GateConfig) -> Outcome:
        if ev.label_quality is None:
            return Outcome(None, None, None, "Not run: the labels were not assessed.")
        c = ev.label_quality.check(name)
        passed, detail = c.passed, c.detail
        if passed is False and name in CHANGE_EXPLAINS and _world_changed(ev, policy):
            passed = True
            detail = (
                f"Explained by a changed world, not wrong labels: {detail} The challenger, "
                "trained on the new labels, ranks them clearly better."
            )
        return Outcome(c.value, c.threshold, passed, detail, c.null_lower, c.null_upper)

    return evaluate


def _world_changed(ev: Evidence, policy: GateConfig) -> bool:
    """New labels disagree with the champion but a challenger trained on them ranks them
    clearly better, and they carry signal: the world changed, the labels are not wrong."""
    quality = ev.label_quality
    has_signal = quality is not None and quality.check("no_signal").passed is True
    return ev.auc.lower > policy.min_auc_gain and has_signal


def _drift_check(ev: Evidence, policy: GateConfig) -> Outcome:
    """Severe drift in one of the champion's top features (ranked by mean |contribution|, as
    in the report) blocks unless the labels of the drifted leads speak for a model; severe drift
    anywhere is named, never hidden.

    Drift is a warning sign for a champion whose labels are not in yet; here the holdout is the
    newest labelled period, the very population that moved, so its labels decide. A challenger
    whose gain is proven there explains the drift (a changed market, named in the reasons). A
    champion that still ranks those labels as its own probabilities predict (``champion_fit``
    passed against its null) has not been hurt by the drift: the verdict is then up to the
    improvement checks, with the drift named. Only without either (no gain proven, and the
    champion's fit failed or not assessed) does it block for review.
    """
    if ev.drift is None:
        detail = "Not run: the champion stores no drift reference, or there are no new leads."
        return Outcome(None, 0.0, None, detail)
    top = ev.top_features[: policy.top_features]
    severe = ev.drift.severe()
    in_top = [name for name in severe if name in top]
    elsewhere = [name for name in severe if name not in top]
    proven = _world_changed(ev, policy)
    holds = ev.label_quality is not None and ev.label_quality.check("champion_fit").passed is True
    ok = not in_top or not policy.block_on_drift or proven or holds
    ranked = f"the champion's top {len(top)} features by mean |contribution|: {', '.join(top)}"
    if in_top and proven:
        detail = (
            f"Explained by a changed world: severe drift in top feature(s) {', '.join(in_top)} "
            f"({ranked}); the challenger, judged on these newest leads, ranks them clearly "
            "better."
        )
    elif in_top and holds:
        detail = (
            f"Severe drift in top feature(s) {', '.join(in_top)} ({ranked}), but the champion "
            "still ranks the drifted leads' outcomes as its own probabilities predict (see "
            "champion_fit): the drift has not hurt it."
        )
    elif in_top:
        detail = (
            f"Severe drift in top feature(s) {', '.join(in_top)} ({ranked}): the newest leads no "
            "longer look like the champion's training data and the challenger has not proven "
            "itself on them; review before promoting."
        )
    else:
        detail = f"No severe drift in {ranked}."
    if elsewhere:
        detail += f" Severe drift outside them: {', '.join(elsewhere)}."
    return Outcome(float(len(in_top)), 0.0, ok, detail)


def _decidable_off_policy(ev: Evidence, policy: GateConfig) -> bool:
    """Whether the weighted comparison holds enough effective leads of the rarer outcome."""
    found = ev.off_policy
    return found is not None and found.effective_minority >= policy.min_holdout_minority


def _auc_gain(ev: Evidence, policy: GateConfig) -> Outcome:
    """The ranking gain on the labelled (worked) leads; a decidable off-policy one replaces it."""
    auc = ev.auc
    ok = auc.lower > policy.min_auc_gain
    if _decidable_off_policy(ev, policy):
        detail = (
            f"Not used: the off-policy comparison decides. Unweighted, on the worked leads "
            f"only, AUC {ev.challenger_auc:.3f} vs {ev.champion_auc:.3f} "
            f"({auc.difference:+.3f}, interval {auc.lower:+.3f} to {auc.upper:+.3f})."
        )
        return Outcome(auc.lower, policy.min_auc_gain, None, detail)
    level = f"{auc.confidence:.0%}"
    detail = (
        f"The challenger ranks better: AUC {ev.challenger_auc:.3f} vs {ev.champion_auc:.3f} "
        f"(+{auc.difference:.3f}, {level} interval {auc.lower:+.3f} to {auc.upper:+.3f}, "
        f"above the margin {policy.min_auc_gain:.3f})."
        if ok
        else f"No proven ranking gain: AUC {ev.challenger_auc:.3f} vs {ev.champion_auc:.3f} "
        f"({auc.difference:+.3f}; {level} interval {auc.lower:+.3f} to {auc.upper:+.3f} "
        f"does not clear the margin {policy.min_auc_gain:.3f}). {_detectable(auc, policy)}"
    )
    return Outcome(auc.lower, policy.min_auc_gain, ok, detail)


def _detectable(auc: PairedDifference, policy: GateConfig) -> str:
    """The smallest gain this holdout can prove, from the DeLong standard error."""
    z = float(norm.isf((1 - auc.confidence) / 2))
    se = (auc.upper - auc.lower) / (2 * z)
    proven = policy.min_auc_gain + z * se
    likely = policy.min_auc_gain + (z + float(norm.isf(0.2))) * se
    return (
        f"This holdout can prove a gain only when the measured gain exceeds {proven:+.3f} "
        f"(standard error {se:.3f}); a true gain needs to be about {likely:+.3f} to be proven "
        "4 times in 5."
    )


def _recall(ev: Evidence, policy: GateConfig) -> Outcome:
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
    return Outcome(diff, -policy.max_recall_drop, ok, detail)


def _calibration(ev: Evidence, policy: GateConfig) -> Outcome:
    """Within the absolute limit, no worse than the champion beyond the tolerance, or within
    what a holdout of this size can resolve. The text names which of the three set the bound:
    only an error within the absolute limit is called calibrated."""
    relative = ev.champion_ece + policy.ece_tolerance
    bound = max(policy.max_ece, relative, ev.ece_noise)
    ok = ev.challenger_ece <= bound
    if bound == policy.max_ece:
        source = "the policy's limit"
    elif bound == relative:
        source = (
            f"the champion's {ev.champion_ece:.3f} plus the tolerance {policy.ece_tolerance:.3f}"
        )
    else:
        source = "the error a perfectly calibrated model shows by chance on a holdout this size"
    within = (
        f"ECE {ev.challenger_ece:.3f}, limit {bound:.3f}: {source}; champion {ev.champion_ece:.3f}"
    )
    if not ok:
        detail = f"The challenger's probabilities are off: expected calibration error {within}."
    elif ev.challenger_ece <= policy.max_ece:
        detail = f"The challenger's probabilities are calibrated ({within})."
    else:
        detail = (
            f"The challenger's calibration error is above the policy's {policy.max_ece:.3f} but "
            f"within its bound ({within}); it is not proven calibrated."
        )
    return Outcome(ev.challenger_ece, bound, ok, detail)


def _off_policy_gain(ev: Evidence, policy: GateConfig) -> Outcome:
    """The AUC gain on all leads, each worked lead weighted by 1 / propensity. With too few
    effective leads of the rarer outcome (Kish, under gate.min_holdout_minority) it does not
    run, says so, and the unweighted gain decides alone, as without exploration."""
    found = ev.off_policy
    if found is None:
        from leadloop.influence import NO_PROPENSITIES

        return Outcome(None, policy.min_auc_gain, None, NO_PROPENSITIES)
    if not _decidable_off_policy(ev, policy):
        need = policy.min_holdout_minority
        detail = (
            f"Too small to decide off-policy: the holdout's weights leave an effective "
            f"{found.effective_minority:.1f} leads of the rarer outcome (Kish), under the "
            f"{need} gate.min_holdout_minority asks, so the gain is judged on the worked "
            "leads alone (unweighted), as without exploration; explore more (policy.epsilon) "
            "or wait for more outcomes."
        )
        return Outcome(found.effective_minority, float(need), None, detail)
    diff = found.difference
    ok = diff.lower > policy.min_auc_gain
    figures = (
        f"AUC {found.challenger_auc:.3f} vs {found.champion_auc:.3f} weighted by 1 / "
        f"propensity ({diff.difference:+.3f}, {diff.confidence:.0%} interval {diff.lower:+.3f} "
        f"to {diff.upper:+.3f}; unweighted {found.naive_difference:+.3f}; effective size "
        f"{found.effective_size:.0f})"
    )
    detail = (
        f"The challenger ranks better on all leads, not only the worked ones: {figures}."
        if ok
        else f"No proven gain on all leads: {figures} does not clear {policy.min_auc_gain:.3f}."
    )
    return Outcome(diff.lower, policy.min_auc_gain, ok, detail)


CHECKS: tuple[GateCheck, ...] = (
    GateCheck("holdout_minority", True, _holdout_size),
    GateCheck("champion_feature_policy", True, _feature_policy),
    *(GateCheck(name, True, _label_check(name)) for name in CHECK_NAMES),
    GateCheck(DRIFT, True, _drift_check),
    GateCheck("auc_gain", False, _auc_gain),
    GateCheck(OFF_POLICY, False, _off_policy_gain),
    GateCheck("recall_at_capacity", False, _recall),
    GateCheck("calibration", False, _calibration),
)
