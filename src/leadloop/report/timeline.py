"""What the model history page shows: every version on one common holdout, and every decision,
human override and rollback on one timeline. Pure: facts in, the page's context out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from leadloop.report import fmt
from leadloop.report.charts import Figure
from leadloop.report.svg import Axis, Line, Marker, line_chart, ticks

AUTOMATIC = ("policy", "first run")
EVENT_COLOURS = {
    "promote": "#2e7d32",
    "keep": "#1565c0",
    "block": "#c62828",
    "override": "#6a1b9a",
    "rollback": "#8d6e63",
}
ROLE_COLOURS = {"champion": "#4c72b0", "challenger": "#dd8452"}


@dataclass(frozen=True)
class Event:
    """One thing that happened to the registry or a decision that was made."""

    at: pd.Timestamp
    kind: str  # promote, keep, block (a run's verdict), override, rollback
    label: str
    detail: str


def stamp(value: Any) -> pd.Timestamp | None:
    """A timestamp as naive UTC (registry tags carry an offset, run names none)."""
    if value is None or value == "":
        return None
    try:
        found = pd.Timestamp(value)
    except ValueError:
        return None
    return found.tz_convert("UTC").tz_localize(None) if found.tzinfo else found


def run_time(name: str) -> pd.Timestamp | None:
    """When a run started, from its name (``%Y%m%dT%H%M%S-xxxxxx``)."""
    return stamp(name.split("-")[0]) if name[:8].isdigit() else None


def events(
    versions: Sequence[Mapping[str, Any]], decisions: Sequence[Mapping[str, Any]]
) -> list[Event]:
    """Decisions of runs, and the registry's human overrides and rollbacks, oldest first."""
    found = []
    for d in decisions:
        at = run_time(str(d["run"]))
        if at is not None:
            reasons = " ".join(d.get("reasons") or [])
            found.append(Event(at, d["verdict"], d["verdict"], f"run {d['run']}: {reasons}"))
    for v in versions:
        promoted = stamp(v.get("promoted_at"))
        if promoted is not None and v.get("promoted_by") not in AUTOMATIC:
            why = v.get("promotion_reason") or ""
            found.append(
                Event(
                    promoted,
                    "override",
                    f"override v{v['version']}",
                    f"v{v['version']} made champion by {v.get('promoted_by')}: {why}",
                )
            )
        rolled = stamp(v.get("rolled_back_at"))
        if rolled is not None:
            why = v.get("rollback_reason") or ""
            found.append(
                Event(
                    rolled,
                    "rollback",
                    f"rollback v{v['version']}",
                    f"champion v{v['version']} rolled back: {why}",
                )
            )
    return sorted(found, key=lambda e: e.at)


def trend(
    versions: Sequence[Mapping[str, Any]],
    scored: Mapping[str, Mapping[str, Any]],
    found: Sequence[Event],
    population: str,
) -> Figure | None:
    """AUC on the common holdout of every version by creation time, with the events."""
    points: list[tuple[pd.Timestamp, Mapping[str, Any]]] = []
    for v in versions:
        at = stamp(v["created"])
        if at is not None and v["version"] in scored:
            points.append((at, v))
    if not points:
        return None
    times = [at for at, _ in points] + [e.at for e in found]
    start = min(times)
    span = max((max(times) - start).total_seconds(), 60.0)
    lines = []
    for role in ("champion", "challenger"):
        mine = sorted(
            ((at, v) for at, v in points if (v.get("trained_as") or "challenger") == role),
            key=lambda item: item[0],
        )
        if mine:
            lines.append(_role_line(role, mine, scored, start))
    low = min(s["lower"] for s in scored.values())
    high = max(s["upper"] for s in scored.values())
    pad = max((high - low) * 0.15, 0.01)
    y = Axis("ROC AUC on the common holdout", low - pad, high + pad, ticks(low - pad, high + pad))
    x = Axis("time", -span * 0.03, span * 1.03, _time_ticks(start, span))
    markers = [
        Marker((e.at - start).total_seconds(), e.label, EVENT_COLOURS[e.kind], e.detail)
        for e in found
    ]
    svg = line_chart("fig-history", lines, x=x, y=y, markers=markers, width=760, height=340)
    return Figure(
        "fig-history", "Every version on one holdout, with decisions and overrides", population, svg
    )


def _role_line(
    role: str,
    mine: list[tuple[pd.Timestamp, Mapping[str, Any]]],
    scored: Mapping[str, Mapping[str, Any]],
    start: pd.Timestamp,
) -> Line:
    figures = [scored[v["version"]] for _, v in mine]
    return Line(
        f"trained as {role}",
        [(at - start).total_seconds() for at, _ in mine],
        [s["roc_auc"] for s in figures],
        ROLE_COLOURS[role],
        tips=[_tip(v, s) for (_, v), s in zip(mine, figures, strict=True)],
        lower=[s["lower"] for s in figures],
        upper=[s["upper"] for s in figures],
    )


def _tip(version: Mapping[str, Any], score: Mapping[str, Any]) -> str:
    who = f", made champion by {version['promoted_by']}" if version.get("promoted_by") else ""
    return (
        f"v{version['version']} ({version.get('trained_as') or 'challenger'}{who}): AUC "
        f"{fmt.number(score['roc_auc'])} ({fmt.interval(score['lower'], score['upper'])})"
    )


def _time_ticks(start: pd.Timestamp, span: float) -> list[tuple[float, str]]:
    if span > 3 * 86400:
        layout = "%Y-%m-%d"
    elif span > 2 * 3600:
        layout = "%m-%d %H:%M"
    else:
        layout = "%H:%M:%S"
    return [
        (value, (start + pd.Timedelta(seconds=value)).strftime(layout))
        for value, _ in ticks(0.0, span, count=4)
    ]


def page_context(
    *,
    versions: Sequence[Mapping[str, Any]],
    decisions: Sequence[Mapping[str, Any]],
    records: Mapping[str, Mapping[str, Any]],
    common: Mapping[str, Any],
    checks: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """Everything the history page shows."""
    scored = common.get("scores", {})
    population = _population(common)
    found = events(versions, decisions)
    rows = [
        {
            **v,
            "common": scored.get(v["version"]),
            "optimistic": v["version"] in common.get("optimistic", []),
        }
        for v in versions
    ]
    return {
        "versions": rows,
        "common": {**common, "population": population},
        "trend": trend(versions, scored, found, population) if scored else None,
        "events": [
            {
                "at": e.at.isoformat(sep=" ", timespec="seconds"),
                "kind": e.kind,
                "label": e.label,
                "detail": e.detail,
            }
            for e in found
        ],
        "decisions": list(decisions),
        "checks": [{**c, "run_record": records.get(c["run"]) is not None} for c in checks],
    }


def _population(common: Mapping[str, Any]) -> str:
    if "run" not in common:
        return ""
    period = ""
    if common.get("start"):
        period = f", created {str(common['start'])[:10]} to {str(common['end'])[:10]}"
    missing = (
        f" ({fmt.count(common['missing'])} of its leads are no longer in the leads file)"
        if common.get("missing")
        else ""
    )
    return (
        f"The holdout of the newest run, {common['run']}: {fmt.count(common['leads'])} leads"
        f"{period}, {fmt.count(common['won'])} won{missing}."
    )
