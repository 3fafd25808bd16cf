"""The leak guard on clean data (no column may be flagged), a generated export with every kind of
leak, and the UCI bank-marketing set (whose `duration` is known only after the call).

Usage: python benchmarks/leak_guard.py [BANK_FULL_CSV]

Prints, per data set, what the guard flags and, for the dominance check, every column's own
out-of-fold AUC and its share of the all-feature model's lift, so the margins to the thresholds
(alone >= 0.714 and >= 2/3 of the lift) can be read. Never asserts.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the generated leaky export lives with the tests

from leadloop import dominance, leaks  # noqa: E402
from leadloop.data import io  # noqa: E402
from leadloop.data.labels import YoungLeads, young_leads  # noqa: E402
from leadloop.features import FeatureEncoder  # noqa: E402
from tests.leaky import labelled, leaky_export  # noqa: E402

BANK = ROOT.parent / "shared" / "datasets" / "bank-marketing" / "bank-full.csv"


def _report(
    name: str,
    frame: pd.DataFrame,
    y: np.ndarray,
    *,
    young: YoungLeads | None = None,
    exclude: tuple[str, ...] = (),
) -> None:
    started = time.perf_counter()
    encoder = FeatureEncoder(exclude=exclude).fit(frame, y, young=young)
    seconds = time.perf_counter() - started
    flagged = {f.column: f.check for f in encoder.findings_}
    print(f"\n{name}: {len(y):,} labelled rows, {y.mean():.1%} won, guard {seconds:.1f} s")
    print(f"  flagged: {flagged or 'nothing'}")
    encoded = dominance.Encoded(
        encoder.transform(frame), encoder.feature_names_, encoder.categorical_indices_, y
    )
    table = dominance.dominance(encoded)
    top = sorted(table.items(), key=lambda kv: -kv[1]["auc_alone"])[:4]
    for column, fig in top:
        print(
            f"  kept {column:<24} alone AUC {fig['auc_alone']:.3f}  all {fig['auc_all']:.3f}  "
            f"share {fig['lift_share']:.2f}"
        )
    if young is not None:
        print(f"  largest decided/undecided share ratio of a kept state: {_ratio(young, encoder)}")
    for finding in encoder.findings_:
        print(f"  - {finding.column}: {finding.evidence[:160]}")


def _ratio(young: YoungLeads, encoder: FeatureEncoder) -> str:
    """The kept state (on >= 1% of decided recent leads) most over-represented among them."""
    decided = np.asarray(young.decided, dtype=bool)
    best = (0.0, "")
    for name in encoder.feature_names_:
        values = young.frame[name]
        _, _, edges = leaks.value_states(values[decided])
        codes, names, _ = leaks.value_states(values, edges=edges if len(edges) else None)
        k_d = np.bincount(codes[decided], minlength=len(names)) / decided.sum()
        k_u = np.bincount(codes[~decided], minlength=len(names)) / (~decided).sum()
        for i in np.flatnonzero(k_d >= leaks.MATERIAL):
            ratio = k_d[i] / max(k_u[i], 1e-9)
            if ratio > best[0]:
                best = (ratio, f"{name} {names[i]}: {k_d[i]:.1%} vs {k_u[i]:.1%}")
    return f"{best[0]:.1f}x ({best[1]}; flagged at 10x)"


def clean() -> None:
    for n in (600, 4000, 20_000):
        for seed in (1, 2, 3):
            export = leaky_export(n=n, seed=seed)
            frame, y = labelled(export)
            honest = frame.drop(columns=["Lead Number", "lead_score", "Tags", "Lead Quality"])
            young = young_leads(export.leads, export.labels)
            _report(f"clean synthetic n={n} seed={seed}", honest, y, young=young)


def leaky() -> None:
    export = leaky_export()
    frame, y = labelled(export)
    _report("export with every leak", frame, y, young=young_leads(export.leads, export.labels))


def bank(source: Path) -> None:
    sys.path.insert(0, str(ROOT / "examples" / "bank-marketing"))
    from prepare import prepare  # type: ignore[import-not-found]

    with tempfile.TemporaryDirectory() as tmp:
        leads_path, outcomes_path = prepare(source, Path(tmp))
        leads = io.read_table(leads_path, missing=("", "unknown"))
        won = io.read_table(outcomes_path)["outcome"].eq("won").to_numpy(dtype=float)
    frame = leads.drop(columns=["lead_id"])
    frame["created_at"] = pd.to_datetime(frame["created_at"])
    _report("bank-marketing, all rows", frame, won, exclude=("day", "month"))
    cut = int(len(won) * 0.8)
    _report("bank-marketing, oldest 80%", frame.iloc[:cut], won[:cut], exclude=("day", "month"))
    small = np.arange(0, len(won), 150)
    _report(
        "bank-marketing, every 150th row", frame.iloc[small], won[small], exclude=("day", "month")
    )


if __name__ == "__main__":
    clean()
    leaky()
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else BANK
    if path.is_file():
        bank(path)
