"""The loop and the commands around it, wired from the pure stages.

- ``loop``: ``run_loop``, the whole loop in one process (read, label, split, train, evaluate,
  check, decide, publish);
- ``inputs``: reading, validating and labelling the leads and outcomes;
- ``models``: which champion and challenger a run compares;
- ``record``: the typed run record; ``publish``: staging, MLflow, aliases, reports, as one
  transaction; ``recovery``: checks before a run, and settling what a killed run left;
- ``inspection``: ``leadloop inspect``; ``commands``: report, promote, rollback;
- ``history``: ``leadloop history``, every version on one holdout and the estimates checked.
"""

from __future__ import annotations

from leadloop.pipeline.commands import (
    nothing_new,
    promote,
    rerender_report,
    rollback,
    write_record,
)
from leadloop.pipeline.history import history
from leadloop.pipeline.inputs import (
    Inputs,
    ensure_data,
    label_inputs,
    load_inputs,
    resolve_cutoff,
    write_synthetic,
)
from leadloop.pipeline.inspection import inspect_table
from leadloop.pipeline.loop import STAGES, LoopResult, run_loop
from leadloop.pipeline.publish import LATEST, PUBLISH_STEPS, REPORT_FILE
from leadloop.pipeline.record import RunRecord
from leadloop.pipeline.recovery import prepare_run

__all__ = [
    "LATEST",
    "PUBLISH_STEPS",
    "REPORT_FILE",
    "STAGES",
    "Inputs",
    "LoopResult",
    "RunRecord",
    "ensure_data",
    "history",
    "inspect_table",
    "label_inputs",
    "load_inputs",
    "nothing_new",
    "prepare_run",
    "promote",
    "rerender_report",
    "resolve_cutoff",
    "rollback",
    "run_loop",
    "write_record",
    "write_synthetic",
]
