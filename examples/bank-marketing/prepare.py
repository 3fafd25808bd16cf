"""Turn the UCI bank-marketing export into leadloop's two inputs.

Usage: python prepare.py [BANK_FULL_CSV] [OUT_DIR]

The source (semicolon-separated, one row per client contacted, ordered by contact date) has no
id, no year and no outcome time. This step:
- gives each row an id (B00001...), since the file has none;
- rebuilds the contact date: the year starts at 2008 and goes up each time the month wraps;
- writes leads.csv (every column but the outcome `y`) and outcomes.csv (one event per client:
  won if `y` is yes, lost otherwise, dated 7 days after the contact).
`duration` (the call's length) is only known after the call and leaks the outcome: it stays in
leads.csv so the example shows leadloop's leak guard finding and excluding such a column.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from leadloop.data import io

MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE.parents[2] / "shared" / "datasets" / "bank-marketing" / "bank-full.csv"
OUTCOME_DELAY = pd.Timedelta(days=7)


def contact_dates(month: pd.Series, day: pd.Series, *, first_year: int = 2008) -> pd.Series:
    """Dates from month names and days in file order, the year rising when the month wraps."""
    number = month.str.lower().map({m: i + 1 for i, m in enumerate(MONTHS)})
    if number.isna().any():
        bad = month[number.isna()].iloc[0]
        raise ValueError(f"unknown month '{bad}'")
    wraps = (number.diff() < 0).cumsum()
    year = first_year + wraps
    return pd.to_datetime(pd.DataFrame({"year": year, "month": number, "day": day}))


def prepare(source: Path, out: Path) -> tuple[Path, Path]:
    """Write leads.csv and outcomes.csv for the loop; returns their paths."""
    raw = io.read_table(source, missing=())
    created = contact_dates(raw["month"], raw["day"])
    ids = [f"B{i:05d}" for i in range(1, len(raw) + 1)]
    leads = raw.drop(columns=["y"]).assign(lead_id=ids, created_at=created)
    leads = leads[["lead_id", "created_at", *[c for c in raw.columns if c != "y"]]]
    won = raw["y"].str.lower().eq("yes").to_numpy()
    outcomes = pd.DataFrame(
        {
            "event_id": [f"E{i:05d}" for i in range(1, len(raw) + 1)],
            "lead_id": ids,
            "outcome": np.where(won, "won", "lost"),
            "occurred_at": created + OUTCOME_DELAY,
        }
    )
    paths = out / "leads.csv", out / "outcomes.csv"
    io.write_table(leads, paths[0])
    io.write_table(outcomes, paths[1])
    return paths


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SOURCE
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else HERE / "data"
    for path in prepare(source, out):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
