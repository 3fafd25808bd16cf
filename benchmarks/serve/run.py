"""The run, wired: setup, each worker count, the tables."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from . import __doc__ as PACKAGE_DOC
from .batch import batch_section
from .ledger import tally
from .load import check_score, closed_loop, feedback_load, open_loop, sample_lead
from .plan import PG_URL, PLAIN, SYNTHETIC_LEADS, Plan, Results
from .postgres import Unavailable, own_database
from .printing import cores, feedback_row, ms, print_service, print_targets
from .server import BENCH_APP, Server, leadloop_cli, load_average, serving, stop


def scoring_runs(server: Server, body: bytes, plan: Plan, results: Results) -> None:
    w = server.workers
    lat = asyncio.run(open_loop(server, body, plan))
    results.p99[w] = (lat["p99"], lat["lag"])
    results.latency.append(
        [
            f"{w} worker{'s' if w > 1 else ''}",
            lat["conns"],
            f"{lat['sent']:,.0f}",
            f"{lat['errors']:.0f}",
            ms(lat["p50"]),
            ms(lat["p99"]),
            ms(lat["max"]),
            f"{lat['rate']:.1f}",
            ms(lat["lag"]),
            cores(lat["client"]),
            cores(lat["server"]),
        ]
    )
    figures = {}
    for path in ("/v1/score", PLAIN, "/bare"):
        figures[path] = asyncio.run(closed_loop(server, path, body, plan))
        got = figures[path]
        results.throughput.append(
            [
                f"{w} worker{'s' if w > 1 else ''}",
                path,
                got["conns"],
                f"{got['rps']:,.0f}",
                f"{got['ok']:,.0f}",
                f"{got['errors']:.0f}",
                cores(got["client"]),
                cores(got["server"]),
                f"{got['client_us']:,.0f}",
                f"{got['server_us']:,.0f}",
            ]
        )
    results.ratio[w] = figures["/v1/score"]["rps"] / figures["/bare"]["rps"]
    results.ratio_plain[w] = figures[PLAIN]["rps"] / figures["/bare"]["rps"]
    results.bare_client[w] = figures["/bare"]["client"]


def feedback_run(server: Server, label: str, leads: list[str], plan: Plan, out: Results) -> None:
    ledger, meter, conns = asyncio.run(feedback_load(server, leads, plan))
    stop(server.proc)  # read the store only once every worker has finished writing
    found = tally(ledger, server.store_url)
    row = feedback_row(label, conns, ledger, meter, found)
    out.feedback.append(row)
    out.wrong_events += found.wrong


def worker_runs(
    root: Path, w: int, plan: Plan, lead: bytes, leads: list[str], out: Results
) -> None:
    store = f"sqlite:///{root / f'fb-{w}w.db'}"
    with serving(root, w, store) as server:
        print(f"  {w} worker(s) up at {server.url}; {check_score(server, lead)}", flush=True)
        scoring_runs(server, lead, plan, out)
        feedback_run(server, f"sqlite, {w}w", leads, plan, out)
    try:
        with own_database(plan.pg_url) as url:
            where = sa.make_url(url).render_as_string(hide_password=True)
            out.pg_note = f"PostgreSQL: in a database of its own ({where}), dropped afterwards"
            with serving(root, w, url) as server:
                feedback_run(server, f"postgresql, {w}w", leads, plan, out)
    except Unavailable as err:
        out.pg_note = f"PostgreSQL at {plan.pg_url}: skipped ({err})"


def precompile(root: Path) -> str:
    """Fill the compiled-trees cache the service loads the champion's from (it would compile
    them in the background after starting); the engine the service will score with."""
    from leadloop.batch import load_scorer, use_compiled_trees
    from leadloop.config import load_settings

    settings = load_settings(None, environ={}, base_dir=root)
    scorer = load_scorer(settings, reasons=0)
    use_compiled_trees(scorer, settings)
    return scorer.model.forest.engine


def setup(root: Path) -> tuple[bytes, list[str]]:
    print(f"setup in {root}", flush=True)
    made = leadloop_cli(
        root, "generate", "-o", "data", "--n-leads", str(SYNTHETIC_LEADS), "--months", "12"
    )
    trained = leadloop_cli(root, "run", "-q")
    engine = precompile(root)
    (root / "bench_app.py").write_text(BENCH_APP, encoding="utf-8")
    lead = sample_lead(root)
    leads = pd.read_csv(root / "data" / "leads.csv", usecols=["lead_id"])["lead_id"].tolist()
    print(f"  generate {SYNTHETIC_LEADS:,} leads: {made:.1f} s; leadloop run -q: {trained:.1f} s")
    print(f"  the champion's trees: {engine} (compiled before serving, so no run measures it)")
    print(f"  lead sent to /v1/score and /bare: {lead.decode()}")
    return lead, leads


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(PACKAGE_DOC or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Shorter runs (about 3 s each).")
    parser.add_argument("--workers", default="1,2", help="Worker counts, comma-separated.")
    parser.add_argument("--rows", type=int, default=1_000_000, help="Rows for file scoring.")
    parser.add_argument(
        "--pg-url",
        default=PG_URL,
        help="A PostgreSQL server (any database on it): the feedback store is a database "
        "the benchmark creates there and drops afterwards.",
    )
    parser.add_argument(
        "--big-source",
        choices=["generate", "repeat"],
        default="generate",
        help="Make the big file with `leadloop generate`, or by repeating data/leads.csv.",
    )
    parser.add_argument(
        "--client",
        choices=["raw", "httpx"],
        default="raw",
        help="Load client: a minimal keep-alive HTTP/1.1 client (default) or httpx.AsyncClient.",
    )
    parser.add_argument("--skip-batch", action="store_true", help="No batch file scoring.")
    parser.add_argument("--keep", action="store_true", help="Keep the temp dir.")
    return parser.parse_args(argv)


def make_plan(args: argparse.Namespace) -> Plan:
    quick = args.quick
    return Plan(
        open_s=3.0 if quick else 10.0,
        closed_s=3.0 if quick else 8.0,
        feedback_s=3.0 if quick else 10.0,
        rows=args.rows,
        shap_rows=10_000 if quick else 50_000,
        workers=tuple(int(w) for w in args.workers.split(",") if w.strip()),
        pg_url=args.pg_url,
        big_source=args.big_source,
        client=args.client,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = make_plan(args)
    root = Path(tempfile.mkdtemp(prefix="leadloop-serve-bench-"))
    print(
        f"leadloop service benchmark on 127.0.0.1: {os.cpu_count()} cores shared by client and "
        f"server; python {sys.version.split()[0]}; load client: {plan.client}; "
        f"{'quick' if args.quick else 'full'} durations"
    )
    print(f"load average before the start: {load_average()} (other work on the machine skews it)")
    try:
        lead, leads = setup(root)
        out = Results()
        for w in plan.workers:
            worker_runs(root, w, plan, lead, leads, out)
        print_service(out, plan)
        batch = None if args.skip_batch else batch_section(root, plan)
        print_targets(out, batch)
        print(f"load average at the end: {load_average()}")
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
