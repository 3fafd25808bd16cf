"""A second ground-truth lead generator, built independently of ``leadloop.data.synthetic``.

Used by ``benchmarks/gate.py`` so the gate is not judged only on the data it was developed on.
Different feature kinds (log-normal revenue, Poisson visit counts, a 25-level Zipf region, an
ordinal plan with missing values, a cyclic tenure effect, pure-noise columns), a different
nonlinear truth, and two dials the bundled generator lacks: the achievable (oracle) AUC and the
base rate, each reached by bisection on a reference sample. A concept change redraws the
categorical effects and reverses the engagement effects from ``drift_month`` on, at the same
base rate. Outcome events
use other delays, other outcome words, and a share of lost deals that are never recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

REGIONS = np.array([f"R{i:02d}" for i in range(1, 26)])
CHANNELS = np.array(["organic", "ads", "partner", "cold_call", "trade_show", "content", "review"])
PLANS = np.array(["basic", "pro", "enterprise"])


@dataclass(frozen=True)
class CrmSpec:
    """What to draw; ``auc`` is the oracle's AUC on the early world, ``flip`` the share of
    recorded outcome events whose value is wrong."""

    n_leads: int = 20_000
    months: int = 18
    base_rate: float = 0.12
    auc: float = 0.80
    seed: int = 0
    start: str = "2022-01-01"  # + at most 36 months: the whole history lies in the past
    drift_month: int = 12
    concept: float = 0.0
    flip: float = 0.0


@dataclass(frozen=True)
class CrmData:
    leads: pd.DataFrame
    outcomes: pd.DataFrame


def generate(spec: CrmSpec) -> CrmData:
    """Leads over ``months`` months and their CRM events as of the end of the span."""
    rng = np.random.default_rng(spec.seed)
    start = pd.Timestamp(spec.start)
    end = start + pd.DateOffset(months=spec.months)
    span = (end - start).total_seconds()
    offsets = np.sort(rng.uniform(0, 1, spec.n_leads) ** 0.8) * (span - 1)
    created = pd.Series(start + pd.to_timedelta(offsets, unit="s")).dt.floor("s")
    leads = _features(rng, spec.n_leads)
    leads.insert(0, "created_at", created)
    leads.insert(0, "lead_id", [f"C{spec.seed:03d}-{i:07d}" for i in range(spec.n_leads)])
    converted = rng.uniform(size=spec.n_leads) < true_probability(leads, spec)
    return CrmData(leads, _events(rng, leads, converted, spec=spec, end=end))


def true_probability(leads: pd.DataFrame, spec: CrmSpec) -> np.ndarray:
    """Each lead's true chance to convert, with the concept change blended in by month."""
    scale, intercept = _dials(spec.auc, spec.base_rate)
    start = pd.Timestamp(spec.start)
    stamps = pd.DatetimeIndex(leads["created_at"])
    month = (stamps.year - start.year) * 12 + (stamps.month - start.month)
    blend = spec.concept * (np.asarray(month) >= spec.drift_month)
    mean, sd = _moments()
    early = (_score(leads, world=0) - mean) / sd
    late = (_score(leads, world=1) - mean) / sd
    # A concept change moves the ranking, not the base rate: the late world's log-odds are
    # shifted so that its won rate is the early one's (a base-rate change is its own scenario).
    late_intercept = _late_intercept(spec.auc, spec.base_rate, spec.concept)
    z = scale * ((1 - blend) * early + blend * late) + (1 - blend) * intercept
    z = z + blend * late_intercept
    return np.asarray(1 / (1 + np.exp(-z)), dtype=np.float64)


def _features(rng: np.random.Generator, n: int) -> pd.DataFrame:
    revenue = np.exp(rng.normal(13.5, 1.4, n))
    employees = np.maximum(1, np.round(revenue / np.exp(rng.normal(11.8, 0.5, n))))
    zipf = 1 / np.arange(1, len(REGIONS) + 1) ** 1.1
    plan = rng.choice(PLANS, n, p=[0.55, 0.33, 0.12]).astype(object)
    plan[rng.uniform(size=n) < 0.15] = None
    revenue[rng.uniform(size=n) < 0.08] = np.nan
    return pd.DataFrame(
        {
            "annual_revenue": np.round(revenue, -2),
            "employees": employees,
            "web_visits_30d": rng.poisson(np.exp(rng.normal(1.0, 0.9, n))).astype(float),
            "email_clicks": rng.binomial(12, rng.beta(1.2, 6.0, n)).astype(float),
            "trial_started": rng.uniform(size=n) < 0.25,
            "region": rng.choice(REGIONS, n, p=zipf / zipf.sum()),
            "acquisition_channel": rng.choice(CHANNELS, n),
            "plan_interest": plan,
            "tenure_days": np.round(rng.uniform(0, 720, n)),
            "noise_a": rng.normal(0, 1, n),
            "noise_b": rng.choice(np.array(["x", "y", "z"]), n),
        }
    )


def _effects(world: int) -> tuple[dict[str, float], dict[str, float]]:
    """Per-category effects of region and channel; the late world draws them anew."""
    rng = np.random.default_rng(1000 + world)
    regions = dict(zip(REGIONS, rng.normal(0, 0.6, len(REGIONS)), strict=True))
    channels = dict(zip(CHANNELS, rng.normal(0, 0.7, len(CHANNELS)), strict=True))
    return regions, channels


def _score(leads: pd.DataFrame, *, world: int) -> np.ndarray:
    """The unscaled true log-odds: saturation, interaction, a cycle, a step and missingness."""
    regions, channels = _effects(world)
    sign = 1.0 if world == 0 else -0.6
    revenue = np.log(leads["annual_revenue"].to_numpy(dtype=float))
    visits = np.log1p(leads["web_visits_30d"].to_numpy(dtype=float))
    trial = leads["trial_started"].to_numpy(dtype=float)
    plan = leads["plan_interest"]
    score: np.ndarray = (
        np.nan_to_num(np.tanh((revenue - 13.5) / 1.0), nan=-0.4)
        + sign * 0.7 * visits * (1 + 1.2 * trial)
        + 0.15 * np.minimum(leads["email_clicks"].to_numpy(dtype=float), 6)
        + leads["region"].map(regions).to_numpy(dtype=float)
        + leads["acquisition_channel"].map(channels).to_numpy(dtype=float)
        + 0.6 * (plan == "enterprise").to_numpy()
        - 0.5 * plan.isna().to_numpy()
        + 0.5 * np.sin(leads["tenure_days"].to_numpy(dtype=float) / 115.0)
        + 0.4 * (leads["employees"].to_numpy(dtype=float) > 40)
    )
    return score


@lru_cache(maxsize=1)
def _reference() -> pd.DataFrame:
    return _features(np.random.default_rng(4242), 40_000)


@lru_cache(maxsize=1)
def _moments() -> tuple[float, float]:
    score = _score(_reference(), world=0)
    return float(score.mean()), float(score.std())


@lru_cache(maxsize=64)
def _dials(auc: float, base_rate: float) -> tuple[float, float]:
    """Scale and intercept giving the oracle ``auc`` and ``base_rate`` on the reference."""
    mean, sd = _moments()
    z = (_score(_reference(), world=0) - mean) / sd
    low, high = 0.01, 20.0
    for _ in range(40):
        scale = (low + high) / 2
        intercept = _intercept(scale * z, base_rate)
        got = _expected_auc(scale * z + intercept)
        low, high = (scale, high) if got < auc else (low, scale)
    scale = (low + high) / 2
    return scale, _intercept(scale * z, base_rate)


@lru_cache(maxsize=64)
def _late_intercept(auc: float, base_rate: float, concept: float) -> float:
    """The intercept that gives the fully changed world (at ``concept``) the same base rate."""
    scale, _ = _dials(auc, base_rate)
    mean, sd = _moments()
    early = (_score(_reference(), world=0) - mean) / sd
    late = (_score(_reference(), world=1) - mean) / sd
    return _intercept(scale * ((1 - concept) * early + concept * late), base_rate)


def _intercept(z: np.ndarray, base_rate: float) -> float:
    low, high = -30.0, 30.0
    for _ in range(50):
        mid = (low + high) / 2
        low, high = (mid, high) if (1 / (1 + np.exp(-(z + mid)))).mean() < base_rate else (low, mid)
    return (low + high) / 2


def _expected_auc(z: np.ndarray) -> float:
    """The AUC the true probabilities reach in expectation over outcomes."""
    p = 1 / (1 + np.exp(-np.sort(z)))
    below = np.cumsum(1 - p) - (1 - p)
    pairs = p.sum() * (1 - p).sum() - (p * (1 - p)).sum()
    return float((p * below).sum() / pairs)


def _events(
    rng: np.random.Generator,
    leads: pd.DataFrame,
    converted: np.ndarray,
    *,
    spec: CrmSpec,
    end: pd.Timestamp,
) -> pd.DataFrame:
    n = len(leads)
    delay = np.where(converted, rng.lognormal(3.2, 0.6, n), rng.lognormal(3.6, 0.5, n))
    recorded = converted | (rng.uniform(size=n) < 0.5)
    occurred = leads["created_at"] + pd.to_timedelta(np.round(delay * 86400), unit="s")
    keep = recorded & (occurred < end).to_numpy()
    won = converted ^ (rng.uniform(size=n) < spec.flip)
    return pd.DataFrame(
        {
            "event_id": [f"E{spec.seed:03d}-{i:07d}" for i in range(int(keep.sum()))],
            "lead_id": leads["lead_id"].to_numpy()[keep],
            "outcome": np.where(won, "won", "lost")[keep],
            "occurred_at": occurred.to_numpy()[keep],
            "amount": np.round(rng.lognormal(8.5, 0.7, n), 0)[keep],
        }
    )
