"""The promotion gate on a grid of generated scenarios, judged against the truth.

Usage: python benchmarks/gate.py [--quick]

Each scenario: a lead base over 12 months from the synthetic generator. Run 1 sees the world as
of month 9 (leads and outcomes before then, clean) and sets a champion. Run 2 sees all 12 months,
with the scenario's knob applied (label noise in the CRM outcomes, shuffled outcomes, covariate,
concept or base-rate drift from month 9, or a tiny lead base), and the gate decides.

The truth: a fresh sample from the true distribution of the latest months (another seed, outcomes
drawn from the true probabilities) scores the champion and the challenger. The challenger is
truly better when its fresh AUC beats the champion's by more than 0.005, truly worse when it
trails by more than 0.005.

Right answers: a scenario with a cause that must stop the loop must block: shuffled outcomes,
10% or 30% of CRM outcome events flipped (a CRM feed that wrong is a fault a person must fix),
strong covariate drift, and a holdout with fewer won leads than the policy needs to decide.
Otherwise promote is right when the challenger is truly better (fresh AUC gain above 0.005);
keep is right unless the challenger was clearly better (gain above 0.02: a missed improvement;
the gate is meant to be conservative); block is a false block.
A promotion of a truly worse challenger is a false promotion. Prints a row per scenario and the
shares; never asserts. Target (issue 3): at least 95% right, no false promotion.
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from leadloop.config import Settings, load_settings
from leadloop.data import io
from leadloop.data.synthetic import SyntheticData, SyntheticSpec, generate, true_probability
from leadloop.pipeline import run_loop
from leadloop.tracking import Tracker

DRIFT_MONTH = 9


@dataclass(frozen=True)
class Scenario:
    name: str
    spec: SyntheticSpec
    shuffle: bool = False
    must_block: bool = False


def grid(quick: bool) -> list[Scenario]:
    seeds = [1, 2] if quick else [1, 2, 3]
    out: list[Scenario] = []
    for seed in seeds:
        base = SyntheticSpec(n_leads=12_000, months=12, seed=seed, drift_start_month=DRIFT_MONTH)
        out += [
            Scenario(f"clean s{seed}", base),
            Scenario(f"clean 30k s{seed}", replace(base, n_leads=30_000)),
            Scenario(f"noise 0.1 s{seed}", replace(base, label_noise=0.1), must_block=True),
            Scenario(f"noise 0.3 s{seed}", replace(base, label_noise=0.3), must_block=True),
            Scenario(f"shuffled s{seed}", base, shuffle=True, must_block=True),
            Scenario(f"concept 1.0 s{seed}", replace(base, concept_drift=1.0)),
            Scenario(f"base rate +0.8 s{seed}", replace(base, base_rate_shift=0.8)),
            Scenario(f"covariate 0.3 s{seed}", replace(base, covariate_drift=0.3)),
            Scenario(f"covariate 1.0 s{seed}", replace(base, covariate_drift=1.0), must_block=True),
            Scenario(f"tiny 1k s{seed}", replace(base, n_leads=1_000)),
            Scenario(f"tiny 2.5k s{seed}", replace(base, n_leads=2_500)),
        ]
    return out


def _settings(root: Path) -> Settings:
    return load_settings(
        environ={
            "LEADLOOP_LEADS__PATH": "data/leads.parquet",
            "LEADLOOP_OUTCOMES__PATH": "data/outcomes.parquet",
            "LEADLOOP_MODEL__NUM_THREADS": "2",
        },
        base_dir=root,
    )


def _write(root: Path, leads: pd.DataFrame, outcomes: pd.DataFrame) -> None:
    io.write_table(leads, root / "data" / "leads.parquet")
    io.write_table(outcomes, root / "data" / "outcomes.parquet")


def _outcomes(scenario: Scenario, data: SyntheticData) -> pd.DataFrame:
    outcomes = data.outcomes.copy()
    if scenario.shuffle:
        rng = np.random.default_rng(scenario.spec.seed)
        outcomes["lead_id"] = rng.permutation(outcomes["lead_id"].to_numpy())
    return outcomes


def _fresh_auc(
    settings: Settings, spec: SyntheticSpec, versions: dict[str, str]
) -> dict[str, float]:
    """Both models' AUC on a fresh sample of the latest months, outcomes drawn from the truth."""
    fresh = generate(
        replace(spec, n_leads=max(40_000, spec.n_leads), seed=spec.seed + 1000, label_noise=0.0)
    )
    boundary = pd.Timestamp(spec.start) + pd.DateOffset(months=DRIFT_MONTH)
    leads = fresh.leads[fresh.leads["created_at"] >= boundary].reset_index(drop=True)
    proba = true_probability(leads, spec=spec)
    y = np.random.default_rng(spec.seed + 7).uniform(size=len(proba)) < proba
    tracker = Tracker(settings)
    return {
        role: float(roc_auc_score(y, tracker.load(v).model.predict_proba(leads)))
        for role, v in versions.items()
    }


def run_scenario(scenario: Scenario) -> dict[str, object]:
    data = generate(scenario.spec)
    clean = generate(replace(scenario.spec, label_noise=0.0))
    boundary = pd.Timestamp(scenario.spec.start) + pd.DateOffset(months=DRIFT_MONTH)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        settings = _settings(root)
        early = clean.outcomes[clean.outcomes["occurred_at"] < boundary]
        _write(root, data.leads[data.leads["created_at"] < boundary], early)
        try:
            run_loop(settings)
        except Exception as err:
            return {"scenario": scenario.name, "verdict": f"run 1 failed: {err}"[:60]}
        _write(root, data.leads, _outcomes(scenario, data))
        try:
            result = run_loop(settings)
        except Exception as err:
            return {
                "scenario": scenario.name,
                "verdict": "error",
                "detail": str(err)[:80],
                "right": scenario.must_block,
                "kind": "error",
            }
        champion = Tracker(settings).alias_version("champion")
        before = (
            result.record["versions"]["champion"] if result.decision.verdict != "promote" else None
        )
        versions = {
            "champion": before or _previous(settings, champion),
            "challenger": result.challenger_version,
        }
        fresh = _fresh_auc(settings, scenario.spec, versions)
    gain = fresh["challenger"] - fresh["champion"]
    tiny = result.record["metrics"]["challenger"]["positives"] < settings.gate.min_holdout_positives
    return _judge(
        replace(scenario, must_block=scenario.must_block or tiny),
        result.decision.verdict,
        gain,
        [c.name for c in result.decision.checks if not c.passed],
    )


def _previous(settings: Settings, champion: str | None) -> str:
    client = Tracker(settings)._client()
    mv = client.get_model_version(settings.tracking.model_name, champion)
    return str(mv.tags.get("previous_champion") or champion)


def _judge(scenario: Scenario, verdict: str, gain: float, failed: list[str]) -> dict[str, object]:
    better, worse, clearly_better = gain > 0.005, gain < -0.005, gain > 0.02
    if scenario.must_block:
        right = verdict == "block"
        kind = "right" if right else "missed alarm"
    elif verdict == "promote":
        right = better
        kind = "right" if better else ("false promotion" if worse else "churn")
    elif verdict == "keep":
        right = not clearly_better
        kind = "right" if right else "missed improvement"
    else:
        right, kind = False, "false block"
    truth = "better" if better else ("worse" if worse else "same")
    return {
        "scenario": scenario.name,
        "verdict": verdict,
        "fresh_gain": round(gain, 4),
        "truth": truth,
        "must_block": scenario.must_block,
        "right": right,
        "kind": kind,
        "failed_checks": ",".join(failed),
    }


def main() -> None:
    quick = "--quick" in sys.argv
    rows = []
    started = time.perf_counter()
    for scenario in grid(quick):
        row = run_scenario(scenario)
        rows.append(row)
        print(
            " | ".join(
                f"{row.get(k, '')!s:<{w}}"
                for k, w in (
                    ("scenario", 22),
                    ("verdict", 8),
                    ("truth", 6),
                    ("fresh_gain", 8),
                    ("kind", 18),
                    ("failed_checks", 60),
                )
            ),
            flush=True,
        )
    table = pd.DataFrame(rows)
    n = len(table)
    print(f"\n{n} scenarios in {time.perf_counter() - started:.0f} s")
    print(f"right decisions: {table['right'].mean():.1%} ({int(table['right'].sum())}/{n})")
    for kind in (
        "false promotion",
        "false block",
        "missed improvement",
        "missed alarm",
        "churn",
        "error",
    ):
        count = int((table["kind"] == kind).sum())
        print(f"{kind}: {count} ({count / n:.1%})")


if __name__ == "__main__":
    main()
