"""Batch file scoring of a large generated file against reading it plus the bare model."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from .plan import Plan
from .printing import table
from .server import leadloop_cli


def big_file(root: Path, rows: int, source: str) -> tuple[Path, str, float]:
    """A parquet file of ``rows`` leads: generated, or data/leads.csv repeated with new ids."""
    started = time.perf_counter()
    if source == "generate":
        leadloop_cli(
            root, *f"generate -o big --n-leads {rows} --months 12 --format parquet".split()
        )
        return root / "big" / "leads.parquet", "leadloop generate", time.perf_counter() - started
    base = pd.read_csv(root / "data" / "leads.csv").convert_dtypes()
    frame = pd.concat([base] * -(-rows // len(base)), ignore_index=True).head(rows)
    frame["lead_id"] = [f"B{i:09d}" for i in range(rows)]
    target = root / "big" / "leads.parquet"
    target.parent.mkdir(exist_ok=True)
    frame.to_parquet(target, index=False)
    return target, "data/leads.csv repeated", time.perf_counter() - started


def batch_section(root: Path, plan: Plan) -> dict[str, float]:
    from leadloop.batch import load_scorer, score_file
    from leadloop.config import load_settings

    big, how, made_s = big_file(root, plan.rows, plan.big_source)
    settings = load_settings(None, environ={}, base_dir=root)
    scorer = load_scorer(settings, "champion", reasons=0)
    started = time.perf_counter()
    frame = pd.read_parquet(big)
    read_s = time.perf_counter() - started
    started = time.perf_counter()
    matrix = scorer.model.encoder.transform(frame)
    scorer.model.booster.predict(matrix, raw_score=True)
    predict_s = time.perf_counter() - started
    rows = len(frame)
    shap_rows = min(plan.shap_rows, rows)
    part = root / "big" / "slice.parquet"
    frame.head(shap_rows).to_parquet(part, index=False)
    del frame, matrix
    plain = score_file(settings, big, root / "big" / "scored.parquet", scorer=scorer)
    explainer = load_scorer(settings, "champion", reasons=3)
    shap = score_file(settings, part, root / "big" / "scored-reasons.parquet", scorer=explainer)
    shap_rate = shap.rows / shap.seconds
    ratio = plain.seconds / (read_s + predict_s)
    per_s = f"{rows:,} rows"
    table(
        f"Batch file scoring: {rows:,} leads in parquet ({how}, {made_s:.1f} s to make)",
        ["step", "seconds", "rows/s"],
        [
            ["read parquet (pandas.read_parquet)", f"{read_s:.2f}", f"{rows / read_s:,.0f}"],
            [
                "raw predict (encoder.transform + booster, raw_score)",
                f"{predict_s:.2f}",
                f"{rows / predict_s:,.0f}",
            ],
            [
                "read + raw predict",
                f"{read_s + predict_s:.2f}",
                f"{rows / (read_s + predict_s):,.0f}",
            ],
            [
                f"score_file, reasons=0 ({per_s})",
                f"{plain.seconds:.2f}",
                f"{plain.rows / plain.seconds:,.0f}",
            ],
            [
                f"score_file, reasons=3 (measured on {shap.rows:,} rows)",
                f"{shap.seconds:.2f}",
                f"{shap_rate:,.0f}",
            ],
            [
                f"score_file, reasons=3 EXTRAPOLATED to {per_s}",
                f"{rows / shap_rate:.0f}",
                f"{shap_rate:,.0f}",
            ],
        ],
    )
    print(f"score_file(reasons=0) / (read + raw predict) = {ratio:.2f}x  (target: within 2x)")
    return {"ratio": ratio}
