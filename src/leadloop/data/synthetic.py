"""Synthetic B2B leads with a known true conversion probability: the demo data and test oracle.

``generate`` draws leads over a span of months, a true probability from a fixed nonlinear
function of their features, an outcome from it, and CRM events (won/lost after realistic delays;
some leads still open at ``as_of``, some lost leads never recorded). Knobs add label noise,
covariate drift, concept drift and a base-rate shift from a chosen month on. The truth is kept in
its own frame and is never a feature. Deterministic by seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

SOURCES = np.array(["web", "referral", "event", "paid_search", "outbound", "partner"])
SOURCE_P = np.array([0.32, 0.12, 0.1, 0.2, 0.18, 0.08])
INDUSTRIES = np.array(
    ["software", "finance", "retail", "health", "manufacturing", "education", "logistics", "media"]
)
COUNTRIES = np.array(["US", "GB", "DE", "FR", "NL", "ES", "CA", "AU", "SE", "BR"])
COUNTRY_P = np.array([0.38, 0.14, 0.11, 0.08, 0.06, 0.05, 0.07, 0.05, 0.03, 0.03])
LEVELS = np.array(["c_level", "vp", "director", "manager", "individual"])
LEVEL_P = np.array([0.06, 0.1, 0.2, 0.32, 0.32])
SIGNAL = 1.25  # scales the true logit: sets how well an oracle can rank leads

SOURCE_EFFECT = {
    "web": 0.0,
    "referral": 0.9,
    "event": 0.4,
    "paid_search": -0.3,
    "outbound": -0.6,
    "partner": 0.6,
}
INDUSTRY_EFFECT = {
    "software": 0.4,
    "finance": 0.2,
    "retail": -0.3,
    "health": 0.1,
    "manufacturing": -0.1,
    "education": -0.4,
    "logistics": 0.0,
    "media": -0.2,
}
LEVEL_EFFECT = {"c_level": 0.5, "vp": 0.6, "director": 0.4, "manager": 0.0, "individual": -0.5}
# After concept drift: sources and industries matter differently.
SOURCE_EFFECT_LATE = {
    "web": 0.3,
    "referral": 0.1,
    "event": -0.2,
    "paid_search": 0.5,
    "outbound": -0.2,
    "partner": 0.0,
}
INDUSTRY_EFFECT_LATE = {
    "software": -0.3,
    "finance": 0.1,
    "retail": 0.5,
    "health": 0.3,
    "manufacturing": 0.2,
    "education": -0.1,
    "logistics": 0.3,
    "media": 0.0,
}


@dataclass(frozen=True)
class SyntheticSpec:
    """What to generate; every knob is off by default."""

    n_leads: int = 20_000
    months: int = 18
    start: str = "2025-01-01"
    seed: int = 7
    base_rate: float = 0.12
    label_noise: float = 0.0
    covariate_drift: float = 0.0
    concept_drift: float = 0.0
    base_rate_shift: float = 0.0
    drift_start_month: int | None = None
    missing_rate: float = 0.05

    @property
    def drift_month(self) -> int:
        """First month (0-based) affected by drift; by default the last third."""
        return (
            self.drift_start_month if self.drift_start_month is not None else (self.months * 2 // 3)
        )


@dataclass(frozen=True)
class SyntheticData:
    """Leads (features only), CRM events, the truth per lead, and the data's "now"."""

    leads: pd.DataFrame
    outcomes: pd.DataFrame
    truth: pd.DataFrame
    as_of: pd.Timestamp


def generate(spec: SyntheticSpec) -> SyntheticData:
    """Draw a lead base, its true probabilities, outcomes and CRM events."""
    rng = np.random.default_rng(spec.seed)
    start = pd.Timestamp(spec.start)
    as_of = start + pd.DateOffset(months=spec.months)
    created = _created_at(rng, spec, start, as_of)
    late = _month_index(created, start) >= spec.drift_month
    leads = _features(rng, spec.n_leads, late=late, drift=spec.covariate_drift)
    leads.insert(0, "created_at", created)
    leads.insert(0, "lead_id", [f"L{i:07d}" for i in range(1, spec.n_leads + 1)])
    _punch_missing(rng, leads, spec.missing_rate)
    proba = true_probability(leads, spec=spec)
    converted = rng.uniform(size=spec.n_leads) < proba
    outcomes = _events(rng, leads, converted, spec=spec, as_of=as_of)
    truth = pd.DataFrame(
        {"lead_id": leads["lead_id"], "true_probability": proba, "converted": converted}
    )
    return SyntheticData(leads, outcomes, truth, as_of)


def true_probability(leads: pd.DataFrame, *, spec: SyntheticSpec) -> np.ndarray:
    """The known true conversion probability of each lead (drift applied by creation month)."""
    start = pd.Timestamp(spec.start)
    late = (_month_index(leads["created_at"], start) >= spec.drift_month).astype(float)
    early_logit = SIGNAL * _logit(leads, SOURCE_EFFECT, INDUSTRY_EFFECT)
    drifted = SIGNAL * _logit(leads, SOURCE_EFFECT_LATE, INDUSTRY_EFFECT_LATE)
    blend = spec.concept_drift * late
    z = (1 - blend) * early_logit + blend * drifted + spec.base_rate_shift * late
    return _sigmoid(z + _intercept(spec.base_rate))


@lru_cache(maxsize=16)
def _intercept(base_rate: float) -> float:
    """The constant that gives ``base_rate`` on a fixed reference population (by bisection)."""
    reference = _features(np.random.default_rng(12345), 50_000, late=np.zeros(50_000), drift=0.0)
    z = SIGNAL * _logit(reference, SOURCE_EFFECT, INDUSTRY_EFFECT)
    low, high = -30.0, 30.0
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if _sigmoid(z + mid).mean() < base_rate else (low, mid)
    return (low + high) / 2


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float64)


def _logit(
    leads: pd.DataFrame, sources: dict[str, float], industries: dict[str, float]
) -> np.ndarray:
    """A nonlinear score: interactions, saturation, thresholds and recency decay."""
    src = leads["lead_source"].map(sources).fillna(0.0).to_numpy(dtype=float)
    ind = leads["industry"].map(industries).fillna(0.0).to_numpy(dtype=float)
    lvl = leads["job_level"].map(LEVEL_EFFECT).fillna(0.0).to_numpy(dtype=float)
    size = np.log1p(leads["company_size"].fillna(50).to_numpy(dtype=float))
    pages = leads["pages_viewed"].fillna(0).to_numpy(dtype=float)
    emails = leads["emails_opened"].fillna(0).to_numpy(dtype=float)
    touch = leads["days_since_last_touch"].fillna(30).to_numpy(dtype=float)
    demo = leads["demo_requested"].to_numpy(dtype=float)
    webinar = leads["webinar_attended"].to_numpy(dtype=float)
    referral = (leads["lead_source"] == "referral").to_numpy(dtype=float)
    logit: np.ndarray = (
        src
        + ind
        + lvl
        + 1.2 * np.tanh((size - 4.0) / 2.0)
        + 0.9 * np.log1p(pages)
        - 0.08 * np.maximum(pages - 15, 0)
        + 0.15 * np.minimum(emails, 8)
        + 1.1 * demo
        + 0.8 * demo * referral
        + 0.4 * webinar
        + 1.0 * np.exp(-touch / 14.0)
        - 0.4 * (touch > 60)
    )
    return logit


def _created_at(
    rng: np.random.Generator, spec: SyntheticSpec, start: pd.Timestamp, as_of: pd.Timestamp
) -> pd.Series:
    """Creation times with mild growth over the span, sorted."""
    span = (as_of - start).total_seconds()
    u = np.sort(np.sqrt(rng.uniform(0.15, 1.0, spec.n_leads)) - np.sqrt(0.15))
    u = u / u.max() if u.max() > 0 else u
    seconds = np.minimum(u * span, span - 1)
    return pd.Series(start + pd.to_timedelta(seconds, unit="s")).dt.floor("s")


def _month_index(created: pd.Series, start: pd.Timestamp) -> np.ndarray:
    stamps = pd.DatetimeIndex(created)
    return np.asarray((stamps.year - start.year) * 12 + (stamps.month - start.month))


def _features(rng: np.random.Generator, n: int, *, late: np.ndarray, drift: float) -> pd.DataFrame:
    """Feature columns; covariate drift shifts sources, engagement and size for late leads."""
    shift = drift * late
    source_p = np.where(rng.uniform(size=n) < 0.5 * shift, 3, -1)
    sources = rng.choice(SOURCES, n, p=SOURCE_P)
    sources = np.where(source_p == 3, "paid_search", sources)
    size = np.round(np.exp(rng.normal(4.0 + 1.0 * shift, 1.4, n))).astype(int) + 1
    revenue = size * np.exp(rng.normal(11.5, 0.6, n))
    pages = rng.negative_binomial(2, 0.25 / (1 + shift), n).astype(float)
    pages = np.round(pages * (1 - 0.5 * shift))
    return pd.DataFrame(
        {
            "lead_source": sources,
            "industry": rng.choice(INDUSTRIES, n),
            "country": rng.choice(COUNTRIES, n, p=COUNTRY_P),
            "company_size": size.astype(float),
            "annual_revenue": np.round(revenue, 2),
            "pages_viewed": pages,
            "emails_opened": rng.poisson(3.0, n).astype(float),
            "demo_requested": rng.uniform(size=n) < 0.15,
            "webinar_attended": rng.uniform(size=n) < 0.2,
            "days_since_last_touch": np.round(rng.exponential(25.0, n), 1),
            "job_level": rng.choice(LEVELS, n, p=LEVEL_P),
        }
    )


def _punch_missing(rng: np.random.Generator, leads: pd.DataFrame, rate: float) -> None:
    """Blank out values in several columns; revenue is missing more often."""
    for column, factor in (
        ("industry", 1.0),
        ("country", 0.5),
        ("company_size", 1.0),
        ("annual_revenue", 4.0),
        ("pages_viewed", 0.6),
        ("days_since_last_touch", 1.0),
        ("job_level", 1.0),
    ):
        mask = rng.uniform(size=len(leads)) < min(rate * factor, 0.9)
        if leads[column].dtype == object or pd.api.types.is_string_dtype(leads[column]):
            leads[column] = leads[column].astype(object).where(~mask, None)
        else:
            leads.loc[mask, column] = np.nan


def _events(
    rng: np.random.Generator,
    leads: pd.DataFrame,
    converted: np.ndarray,
    *,
    spec: SyntheticSpec,
    as_of: pd.Timestamp,
) -> pd.DataFrame:
    """Won events for converted leads, lost events for ~60% of the others, delays, noise."""
    n = len(leads)
    won_delay = rng.gamma(2.0, 15.0, n)
    lost_delay = rng.gamma(2.5, 18.0, n)
    recorded = converted | (rng.uniform(size=n) < 0.6)
    delay = np.where(converted, won_delay, lost_delay) + 0.5
    occurred = leads["created_at"] + pd.to_timedelta(delay * 86400, unit="s").floor("s")
    keep = recorded & (occurred < as_of).to_numpy()
    outcome = np.where(converted, "Closed Won", "Closed Lost")
    flip = rng.uniform(size=n) < spec.label_noise
    outcome = np.where(flip, np.where(converted, "Closed Lost", "Closed Won"), outcome)
    size = leads["company_size"].fillna(50).to_numpy(dtype=float)
    amount = np.round(np.exp(rng.normal(8.5, 0.7, n)) * np.sqrt(size) / 3, 2)
    events = (
        pd.DataFrame(
            {
                "lead_id": leads["lead_id"].to_numpy()[keep],
                "outcome": outcome[keep],
                "occurred_at": occurred.to_numpy()[keep],
                "amount": np.where(outcome == "Closed Won", amount, np.nan)[keep],
            }
        )
        .sort_values(["occurred_at", "lead_id"], kind="stable")
        .reset_index(drop=True)
    )
    events.insert(0, "event_id", [f"E{i:07d}" for i in range(1, len(events) + 1)])
    return events
