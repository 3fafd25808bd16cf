"""Render a run's report (and the model history) to one self-contained HTML page.

Pure: takes the run record and the holdout scores, returns a string; the caller writes it.
Charts are inline SVG written here (real text: searchable), styles inline, and one inline
script of our own (assets/report.js) for hover values and series toggling. A Content Security
Policy in the page forbids every network request and any other script, so the file opens
offline and stays that way.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache
from importlib import resources
from typing import Any

import jinja2
import pandas as pd
from markupsafe import Markup

from leadloop.report import fmt, sections
from leadloop.report.checks import check_rows

TITLES = {
    "verdict": "Decision",
    "data": "Data",
    "comparison": "Champion vs challenger",
    "deciles": "Deciles, lift and revenue",
    "segments": "Segments",
    "young-leads": "Leads not yet matured",
    "drift": "Drift",
    "label-quality": "Label quality",
    "explanations": "Explanations",
    "checks": "Every check",
}


@lru_cache(maxsize=1)
def _script() -> str:
    return (resources.files("leadloop.report") / "assets" / "report.js").read_text("utf-8")


def policy() -> str:
    """The page's Content Security Policy: nothing from anywhere, only our own script."""
    digest = base64.b64encode(hashlib.sha256(_script().encode("utf-8")).digest()).decode()
    return (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"
    )


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("leadloop", "report/templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(fmt.FILTERS)
    env.globals.update(interval=fmt.interval, MISSING=fmt.MISSING)
    return env


def _page(template: str, **context: Any) -> str:
    return (
        _environment()
        .get_template(template)
        .render(script=Markup(_script()), csp=policy(), **context)
    )


def render_report(
    record: dict[str, Any],
    scores: pd.DataFrame,
    *,
    importance: dict[str, dict[str, float]] | None = None,
) -> str:
    """The whole report for one run."""
    assessment = record.get("assessment") or {}
    population = sections.holdout_population(record, scores)
    context = {
        "record": record,
        "decision": record["decision"],
        "assessment": assessment,
        "population": population,
        "comparison": sections.comparison(record, scores, population),
        "deciles": sections.deciles(record, scores, population),
        "segments": sections.segments(record),
        "young": sections.young(record),
        "drift": sections.drift(assessment, population),
        "label_quality": assessment.get("label_quality"),
        "label_checks": check_rows(
            (assessment.get("label_quality") or {}).get("checks", []), assessment
        ),
        "label_drift": sections.label_drift(record),
        "importance": sections.explanations(importance, population),
        "migration": assessment.get("score_shift"),
        "checks": check_rows(record["decision"]["checks"], assessment),
        "excluded": (record.get("features") or {}).get("challenger", {}).get("excluded", {}),
    }
    shown = [key for key in TITLES if key != "explanations" or context["importance"]]
    context["toc"] = [(key, TITLES[key]) for key in shown]
    return _page("report.html.j2", **context)


def render_history(context: dict[str, Any]) -> str:
    """The model history page from its context (see ``leadloop.report.timeline``)."""
    return _page("history.html.j2", **context)


def render_simulation(context: dict[str, Any]) -> str:
    """The page of ``leadloop simulate`` (see ``leadloop.report.simulation``)."""
    return _page("simulate.html.j2", **context)
