"""The loop under its own influence: 12 months of monthly retrains in 3 synthetic worlds, three
ways (``leadloop simulate``'s arms), each through the real pipeline, registry and gate.

Usage: python benchmarks/simulate.py [--quick] [--months N] [--seeds 0,1,2] [--json PATH]
       [--svg PATH] [--no-history-propensities]

The world (``leadloop.simulation.world``, parameters chosen before any result was seen, reasons
in README "Why the loop needs exploration"): 2,000 new leads a month with the bundled
generator's features and true probabilities (the chance of converting if worked, 12% on
average); an unworked lead never converts; sales works 20% of each month's leads. A year of
history before leadloop, when sales worked a random 20% but never the education segment, whose
true log-odds if worked are +1.5 above what the features alone say. Outcomes: won about 30
days after a converted lead is first contacted, lost (60% of them recorded) about 45 days
after; nothing for a lead nobody worked. Labels follow today's rules (maturity window 90 days).
Exploration: ``policy.epsilon``'s default, 5%. The exploration arm's history is logged with
the pre-leadloop rule's propensities (``--no-history-propensities``: not), so its training is
weighted from the first month.

Measured each month on a fresh cohort, on its true probabilities (no label noise): the true AUC
of each arm's champion and the conversions it brought. Prints a row per world and arm, then the
figures the issue asks for: the naive loop's fall in true AUC (month 1 to the last month),
exploration + weighting's gap to the oracle (last month and mean over months; target: within
0.01), and the conversions given up to exploration. Never asserts.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from leadloop.pipeline.simulate import simulate_worlds, write_page
from leadloop.simulation import Simulation, World, summarise

TARGET_GAP = 0.01


def main(argv: list[str]) -> None:
    options = _options(argv)
    quick = "--quick" in argv
    months = int(options.get("--months", "3" if quick else "12"))
    seeds = [int(s) for s in options.get("--seeds", "0" if quick else "0,1,2").split(",")]
    world = World(leads_per_month=600 if quick else 2_000)
    history = "--no-history-propensities" not in argv
    spec = Simulation(world=world, months=months, history_propensities=history)
    started = time.perf_counter()
    _say(
        f"{months} months x {len(seeds)} worlds x {len(spec.arms)} arms, "
        f"{world.leads_per_month:,} leads a month, capacity {spec.capacity:.0%}, "
        f"epsilon {spec.epsilon:.0%}, history propensities {'logged' if history else 'not logged'}"
    )
    with tempfile.TemporaryDirectory(prefix="leadloop-bench-simulate-") as tmp:
        results = simulate_worlds(
            spec, seeds=seeds, workdir=Path(tmp), step=lambda what: _tick(what, started)
        )
    summary = summarise(results)
    _table(summary)
    _headline(summary)
    _say(f"wall time: {time.perf_counter() - started:,.0f} s")
    if "--json" in options:
        Path(options["--json"]).write_text(json.dumps(summary, indent=2) + "\n")
    if "--svg" in options:
        page = Path(options["--svg"]).with_suffix(".html")
        write_page(summary, page=page, chart=Path(options["--svg"]))


def _table(summary: dict[str, Any]) -> None:
    _say("")
    _say(
        f"{'seed':>4} {'arm':<8} {'AUC m1':>7} {'AUC last':>8} {'AUC mean':>8} "
        f"{'convs':>6} {'given up':>8} {'promoted':>8} {'segment':>8} {'weighted':>8}"
    )
    for world in summary["per_seed"]:
        for arm, a in world["arms"].items():
            _say(
                f"{world['seed']:>4} {arm:<8} {a['first_true_auc']:>7.3f} "
                f"{a['last_true_auc']:>8.3f} {a['mean_true_auc']:>8.3f} "
                f"{a['conversions']:>6.0f} {a['given_up']:>8.0f} {a['promotions']:>8.0f} "
                f"{a['segment_worked']:>8.0f} {a['weighted_runs']:>8.0f}"
            )
    _say("")
    _say("mean true AUC by month (naive / explore / oracle):")
    mean = summary["mean_per_month"]
    for m in range(summary["months"]):
        row = " / ".join(f"{mean[arm]['true_auc'][m]:.3f}" for arm in summary["arms"])
        _say(f"  month {m + 1:>2}: {row}")


def _headline(summary: dict[str, Any]) -> None:
    _say("")
    for world in summary["per_seed"]:
        seed = world["seed"]
        gap = world["explore_gap_last"]
        met = "met" if abs(gap) <= TARGET_GAP else "MISSED"
        _say(
            f"seed {seed}: naive true AUC fall {world['naive_fall']:+.3f} (month 1 to last); "
            f"naive below oracle by {world['naive_gap_last']:.3f} in the last month; "
            f"exploration+weighting below oracle by {gap:.3f} in the last month "
            f"({met}: target {TARGET_GAP}), {world['explore_gap_mean']:.3f} on average; "
            f"conversions given up to exploration {world['given_up']:.0f}"
        )
    arms = {arm: [w["arms"][arm] for w in summary["per_seed"]] for arm in summary["arms"]}
    total = {arm: sum(a["conversions"] for a in rows) for arm, rows in arms.items()}
    given = sum(a["given_up"] for a in arms["explore"])
    best = sum(summary["mean_best_conversions"]) * len(summary["seeds"])
    _say(
        f"conversions over all worlds: naive {total['naive']:.0f}, exploration "
        f"{total['explore']:.0f} (of which {given:.0f} given up to exploration picks), oracle "
        f"{total['oracle']:.0f}, best possible {best:.0f}"
    )


def _tick(what: str, started: float) -> None:
    sys.stderr.write(f"  {time.perf_counter() - started:7.0f} s  {what}\n")


def _options(argv: list[str]) -> dict[str, str]:
    return {a: b for a, b in zip(argv, [*argv[1:], ""], strict=True) if a.startswith("--")}


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
