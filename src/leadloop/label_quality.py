"""Can the new CRM labels be trusted? Each statistic judged against its own null distribution.

The checks look at the shared out-of-time holdout, where the models being judged (champion and
challenger, each with exactly its own features after every exclusion) scored leads neither was
trained on. A statistic alarms only when it lies beyond what chance gives on these very rows:

- Null by parametric bootstrap: labels are drawn from the champion's calibrated probabilities,
  shifted on the log-odds scale so their mean is today's won rate (the base rate may change;
  the ranking may not), and the statistic is recomputed per draw. Where a model is calibrated,
  its (score, label) pairs have the same joint law under its own draws as under the truth, so
  clean labels of any base rate, achievable AUC or size sit inside the null. Covariate drift is
  absorbed because the draws are on the same rows. No model is refitted per draw: the models
  under judgement are fixed, so refitting would test a different question and cost 200 fits.
- The alarm bound is mean + z * sd of the draws (normal tail: 200 draws estimate a centre and a
  spread well, not a one-in-a-thousand quantile), with z for a one-sided level of
  ``false_alarm_rate`` split evenly (Bonferroni) over the alarm checks that ran.
- ``no_signal``: the best holdout AUC of the two models against labels independent of every
  score (exact Mann-Whitney null, N(0.5, (m + n + 1) / 12mn)), at the gate's confidence.
- ``champion_fit``: the champion's holdout AUC vs its own null (noise and misjoins lower it).
- ``suspicious_share``: confident learning with the champion's probabilities: labels that
  contradict a confident prediction, counted per lead of the minority class.
- ``history_agreement``: Cohen's kappa between CRM outcome and a historical label of the same
  leads. Two records of one outcome should agree almost perfectly (kappa 0.81 or more on Landis
  and Koch's scale); the null is a table with that kappa and the observed margins, resampled.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm, rankdata

from leadloop.columns import LABEL, LEAD_ID
from leadloop.config import GateConfig, LabelQualityConfig
from leadloop.label_null import auc_of_draws, null_draws, sample_rows

MIN_OVERLAP = 30
ALARM_CHECKS = ("champion_fit", "suspicious_share", "history_agreement")
CHECK_NAMES = ("no_signal", *ALARM_CHECKS)


@dataclass(frozen=True)
class LabelPolicy:
    """The configured label checks (``label_quality``), the gate's confidence and a seed."""

    checks: LabelQualityConfig = field(default_factory=LabelQualityConfig)
    confidence: float = GateConfig().confidence
    seed: int = 0

    @property
    def false_alarm_rate(self) -> float:
        return self.checks.false_alarm_rate

    @property
    def min_history_kappa(self) -> float:
        return self.checks.min_history_kappa

    @property
    def draws(self) -> int:
        return self.checks.null_draws


@dataclass(frozen=True)
class LabelCheck:
    """One check: its statistic, the null interval, the alarm bound, and whether it ran.

    ``passed`` is None when the check could not be computed (``detail`` says why).
    """

    name: str
    value: float | None
    threshold: float | None
    passed: bool | None
    detail: str
    null_lower: float | None = None
    null_upper: float | None = None

    @property
    def ran(self) -> bool:
        return self.passed is not None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ran": self.ran}


@dataclass(frozen=True)
class LabelQuality:
    """All checks and the records that most contradict the champion."""

    checks: list[LabelCheck]
    rows_assessed: int
    minority: str
    suspicious: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def passed(self) -> bool:
        return all(c.passed is not False for c in self.checks)

    def check(self, name: str) -> LabelCheck:
        return next(c for c in self.checks if c.name == name)

    def failures(self) -> list[LabelCheck]:
        return [c for c in self.checks if c.passed is False]

    def to_dict(self) -> dict[str, Any]:
        records = self.suspicious.astype(object).where(self.suspicious.notna(), None)
        return {
            "checks": [c.to_dict() for c in self.checks],
            "rows_assessed": self.rows_assessed,
            "minority": self.minority,
            "suspicious": records.to_dict(orient="records"),
        }


@dataclass(frozen=True)
class Null:
    """A statistic's null distribution, summarised."""

    mean: float
    sd: float
    lower: float
    upper: float


def assess_labels(
    y: np.ndarray,
    *,
    champion: np.ndarray,
    challenger: np.ndarray | None = None,
    lead_ids: np.ndarray | None = None,
    history: tuple[np.ndarray, np.ndarray] | None = None,
    offsets: dict[str, float] | None = None,
    policy: LabelPolicy | None = None,
) -> LabelQuality:
    """Judge labels ``y`` against the probabilities both models gave the same rows.

    ``champion`` is the champion booster's own probability (its logistic output, which the
    null draws from); ``history`` is (CRM label, historical label) for the leads that have
    both; ``offsets`` is the champion's ``null_offsets`` from its calibration slice.
    """
    rules = policy or LabelPolicy()
    y = np.asarray(y, dtype=np.float64)
    rows = sample_rows(len(y), seed=rules.seed)
    y = y[rows]
    champ = np.asarray(champion, dtype=np.float64)[rows]
    models = [champ] + (
        [np.asarray(challenger, dtype=np.float64)[rows]] if challenger is not None else []
    )
    ids = np.asarray(lead_ids)[rows] if lead_ids is not None else rows
    minority = "won" if y.mean() <= 0.5 else "lost"
    if len(np.unique(y)) < 2:
        why = "the labels hold only one class"
        checks = [_not_run(n, why) for n in CHECK_NAMES]
        return LabelQuality(checks, len(y), minority)
    z = _alarm_z(rules, ran=len(ALARM_CHECKS) - (history is None))
    fit, flagged, count = _champion_null(y, champ, rules, z=z, offsets=offsets or {})
    checks = [
        _signal_check(y, models, rules),
        fit,
        count,
        _history_check(history, rules, z=z),
    ]
    return LabelQuality(checks, len(y), minority, _most_suspicious(ids, y, champ, flagged))


def _alarm_z(rules: LabelPolicy, *, ran: int) -> float:
    return float(norm.isf(rules.false_alarm_rate / max(ran, 1)))


def _summary(
    values: np.ndarray, *, confidence: float, z: float, upper_tail: bool, extra_sd: float = 0.0
) -> tuple[Null, float]:
    """The null's central interval at ``confidence`` and the one-sided alarm bound; ``extra_sd``
    is added in quadrature (the uncertainty of the offset the values were moved by)."""
    mean = float(values.mean())
    sd = float(np.hypot(values.std(ddof=1), extra_sd))
    tail = (1 - confidence) / 2 * 100
    lower, upper = np.percentile(values, [tail, 100 - tail])
    bound = mean + z * sd if upper_tail else mean - z * sd
    return Null(mean, sd, float(lower), float(upper)), bound


def _champion_null(
    y: np.ndarray, champion: np.ndarray, rules: LabelPolicy, *, z: float, offsets: dict[str, float]
) -> tuple[LabelCheck, np.ndarray, LabelCheck]:
    """Champion AUC and confident-learning count, each against labels drawn from the champion."""
    got = null_draws(y, champion, draws=rules.draws, seed=rules.seed)
    auc_null, auc_bound = _summary(
        got["null_auc"] - offsets.get("auc", 0.0),
        confidence=rules.confidence,
        z=z,
        upper_tail=False,
        extra_sd=offsets.get("auc_sd", 0.0),
    )
    share_null, share_bound = _summary(
        got["null_share"] + offsets.get("share", 0.0),
        confidence=rules.confidence,
        z=z,
        upper_tail=True,
        extra_sd=offsets.get("share_sd", 0.0),
    )
    auc, share, observed_flags, minority = got["auc"], got["share"], got["flags"], got["minority"]
    fit = _fit_check(auc, auc_null, auc_bound)
    count = _share_check(share, share_null, share_bound, minority=minority, y=y)
    return fit, observed_flags, count


def _fit_check(auc: float, null: Null, bound: float) -> LabelCheck:
    ok = auc >= bound
    detail = (
        f"The champion ranks the new labels at AUC {auc:.3f}, as expected if they followed its "
        f"own probabilities ({null.lower:.3f} to {null.upper:.3f}; alarm below {bound:.3f})."
        if ok
        else f"The new labels disagree with the champion beyond chance: it ranks them at AUC "
        f"{auc:.3f}, where labels drawn from its own probabilities give {null.lower:.3f} to "
        f"{null.upper:.3f} (alarm below {bound:.3f}): wrong or misjoined labels, or a changed "
        "world."
    )
    return LabelCheck("champion_fit", auc, bound, ok, detail, null.lower, null.upper)


def _share_check(
    share: float, null: Null, bound: float, *, minority: int, y: np.ndarray
) -> LabelCheck:
    name = "won" if y.mean() <= 0.5 else "lost"
    ok = share <= bound
    found = round(share * minority)
    chance = f"{null.lower * minority:.0f} to {null.upper * minority:.0f}"
    detail = (
        f"{found:,} labels contradict a confident champion prediction ({share:.0%} of the "
        f"{minority:,} {name} leads, the minority class); chance alone gives {chance} "
        f"(alarm above {bound * minority:.0f})."
    )
    if not ok:
        excess = max(found - null.mean * minority, 0)
        detail = (
            f"About {excess:,.0f} labels look wrong beyond chance ({excess / minority:.0%} of the "
            f"{minority:,} {name} leads, the minority class): {found:,} contradict a confident "
            f"champion prediction where chance gives {chance} (alarm above "
            f"{bound * minority:.0f})."
        )
    return LabelCheck("suspicious_share", share, bound, ok, detail, null.lower, null.upper)


def _signal_check(y: np.ndarray, models: list[np.ndarray], rules: LabelPolicy) -> LabelCheck:
    """Labels carry signal when some model ranks them better than independent labels could."""
    won, lost = float(y.sum()), float(len(y) - y.sum())
    sd = math.sqrt((won + lost + 1) / (12 * won * lost))
    level = (1 - rules.confidence) / 2 / len(models)
    bound = 0.5 + float(norm.isf(level)) * sd
    tail = float(norm.isf((1 - rules.confidence) / 2)) * sd
    best = max(float(auc_of_draws(y[None, :], rankdata(p))[0]) for p in models)
    ok = best > bound
    detail = (
        f"The CRM labels carry signal: the best model ranks them at AUC {best:.3f}, above "
        f"what labels unrelated to the leads reach ({0.5 - tail:.3f} to {0.5 + tail:.3f}; "
        f"bound {bound:.3f})."
        if ok
        else f"The CRM labels carry no signal: the best model ranks them at AUC {best:.3f}, "
        f"no better than labels unrelated to the leads ({0.5 - tail:.3f} to {0.5 + tail:.3f}; "
        f"bound {bound:.3f}); check how outcomes are exported and joined."
    )
    return LabelCheck("no_signal", best, bound, ok, detail, 0.5 - tail, 0.5 + tail)


def cohen_kappa(table: np.ndarray) -> np.ndarray:
    """Cohen's kappa of 2x2 tables given as rows of counts (a, b, c, d) = (1/1, 1/0, 0/1, 0/0)."""
    table = np.atleast_2d(np.asarray(table, dtype=np.float64))
    total = table.sum(axis=1)
    observed = (table[:, 0] + table[:, 3]) / total
    first, second = (table[:, 0] + table[:, 1]) / total, (table[:, 0] + table[:, 2]) / total
    chance = first * second + (1 - first) * (1 - second)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray((observed - chance) / (1 - chance), dtype=np.float64)


def _history_check(
    history: tuple[np.ndarray, np.ndarray] | None, rules: LabelPolicy, *, z: float
) -> LabelCheck:
    if history is None:
        return _not_run("history_agreement", "no historical label column is configured")
    crm, old = (np.asarray(a, dtype=np.float64) for a in history)
    both = ~np.isnan(crm) & ~np.isnan(old)
    if both.sum() < MIN_OVERLAP:
        why = f"only {int(both.sum())} leads have both a CRM outcome and a historical label"
        return _not_run("history_agreement", why + f" (at least {MIN_OVERLAP} needed)")
    a, b = crm[both] == 1, old[both] == 1
    counts = np.array([(a & b).sum(), (a & ~b).sum(), (~a & b).sum(), (~a & ~b).sum()])
    kappa = float(cohen_kappa(counts)[0])
    if not np.isfinite(kappa):
        return _not_run("history_agreement", "one of the two labels holds a single class")
    null = _kappa_null(counts, rules)
    spread = null - rules.min_history_kappa
    lower, upper = np.percentile(
        null, [(1 - rules.confidence) / 2 * 100, (1 + rules.confidence) / 2 * 100]
    )
    bound = rules.min_history_kappa - z * float(spread.std(ddof=1))
    ok = kappa >= bound
    agree = float((a == b).mean())
    detail = (
        f"CRM outcomes and the historical label agree on {agree:.1%} of {int(both.sum()):,} "
        f"leads: kappa {kappa:.2f} beyond chance agreement (two records of one outcome give "
        f"{lower:.2f} to {upper:.2f}; alarm below {bound:.2f})."
    )
    if not ok:
        detail = (
            "The CRM outcomes disagree with the historical label: " + detail[0].lower() + detail[1:]
        )
    return LabelCheck("history_agreement", kappa, bound, ok, detail, float(lower), float(upper))


def _kappa_null(counts: np.ndarray, rules: LabelPolicy) -> np.ndarray:
    """Kappa of tables drawn like the observed one, but with kappa ``min_history_kappa``:
    the observed margins, agreement set to the minimum, resampled multinomially."""
    total = counts.sum()
    p1, p2 = (counts[0] + counts[1]) / total, (counts[0] + counts[2]) / total
    chance = p1 * p2 + (1 - p1) * (1 - p2)
    agree = rules.min_history_kappa * (1 - chance) + chance
    both_won = (agree - 1 + p1 + p2) / 2
    cells = np.clip([both_won, p1 - both_won, p2 - both_won, 1 - p1 - p2 + both_won], 0, None)
    rng = np.random.default_rng(rules.seed)
    tables = rng.multinomial(int(total), cells / cells.sum(), size=rules.draws)
    values = cohen_kappa(tables)
    return np.asarray(values[np.isfinite(values)], dtype=np.float64)


def _not_run(name: str, why: str) -> LabelCheck:
    return LabelCheck(name, None, None, None, f"Not run: {why}.")


def _most_suspicious(
    ids: np.ndarray, y: np.ndarray, champion: np.ndarray, flags: np.ndarray
) -> pd.DataFrame:
    margin = np.where(y == 1, 1 - champion, champion)
    top = np.argsort(-np.where(flags, margin, -1.0))[:20]
    top = top[flags[top]]
    return pd.DataFrame(
        {
            LEAD_ID: ids[top],
            LABEL: y[top],
            "champion_probability": champion[top],
            "margin": margin[top],
        }
    )
