"""The tables the benchmark prints."""

from __future__ import annotations

import os

from .ledger import Ledger, Tally
from .plan import BATCH_EVENTS, CLIENTS, RATE, RESEND_SHARE, SENDERS, Plan, Results
from .server import Meter


def table(title: str, header: list[str], rows: list[list[str]]) -> None:
    """Print a titled table; the first column left-aligned, the others right-aligned."""
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    print(f"\n{title}")
    print(line(header))
    print(line(["-" * w for w in widths]))
    for row in rows:
        print(line(row))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def cores(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def print_service(out: Results, plan: Plan) -> None:
    table(
        f"Single-lead scoring, open loop at {RATE:.0f} req/s for {plan.open_s:.0f} s "
        "(latency in ms from each request's scheduled send time)",
        [
            "server",
            "conns/worker",
            "sent",
            "errors",
            "p50 ms",
            "p99 ms",
            "max ms",
            "achieved/s",
            "max send lag ms",
            "client cores",
            "server cores",
        ],
        out.latency,
    )
    table(
        f"Single-lead throughput, closed loop: {CLIENTS} clients for {plan.closed_s:.0f} s",
        [
            "server",
            "endpoint",
            "conns/worker",
            "req/s",
            "answered",
            "errors",
            "client cores",
            "server cores",
            "client CPU us/req",
            "server CPU us/req",
        ],
        out.throughput,
    )
    for w, ratio in out.ratio.items():
        print(
            f"/v1/score over /bare at {w} worker(s): {ratio:.2f} with reasons, "
            f"{out.ratio_plain[w]:.2f} without (?reasons=0)"
        )
    print(
        f"caveat: the load client ({plan.client}) runs on this machine and shares its "
        f"{os.cpu_count()} cores with the server (on /bare it used "
        + ", ".join(f"{c:.2f} at {w}w" for w, c in out.bare_client.items())
        + "): throughputs are lower bounds, the bare ceiling most of all."
    )
    table(
        f"Feedback ingestion: {SENDERS} senders, signed batches of {BATCH_EVENTS} events, "
        f"~{RESEND_SHARE:.0%} re-sends, {plan.feedback_s:.0f} s",
        FEEDBACK_HEADER,
        out.feedback,
    )
    print(
        "lost = acknowledged events missing from the store; duplicated = events reported "
        "'stored' more than once; other wrong = store rows never sent or not reported, re-sent "
        "events not reported as duplicates, rejected events."
    )
    print(out.pg_note)


def print_targets(out: Results, batch: dict[str, float] | None) -> None:
    rows = []
    for w, (p99, lag) in out.p99.items():
        stall = f" (client stalled up to {ms(lag)} ms)" if lag > 0.005 else ""
        rows.append(
            [
                f"single-lead p99 under 10 ms at 200 req/s ({w}w)",
                f"p99 {ms(p99)} ms{stall}",
                "met" if p99 < 0.010 else "missed",
            ]
        )
    for w, ratio in out.ratio.items():
        # The targets: a quarter of bare with reasons (TreeSHAP per lead), half without.
        for label, value, share, words in (
            ("with reasons", ratio, 0.25, "a quarter"),
            ("?reasons=0", out.ratio_plain[w], 0.5, "half"),
        ):
            rows.append(
                [
                    f"scoring throughput >= {words} of bare ({w}w, {label})",
                    f"{value:.2f} of bare",
                    "met" if value >= share else "missed",
                ]
            )
    rows.append(
        [
            "zero lost or duplicated events",
            f"{out.wrong_events} wrong in {len(out.feedback)} runs",
            "met" if out.wrong_events == 0 and out.feedback else "missed",
        ]
    )
    if batch is not None:
        rows.append(
            [
                "file scoring within 2x of read + raw predict",
                f"{batch['ratio']:.2f}x",
                "met" if batch["ratio"] <= 2 else "missed",
            ]
        )
    table("Targets", ["target", "measured", "result"], rows)


def feedback_row(label: str, conns: str, ledger: Ledger, meter: Meter, found: Tally) -> list[str]:
    """One row of the feedback table."""
    failures = ", ".join(f"{k} x{v}" for k, v in ledger.failures.items()) or "0"
    return [
        label,
        conns,
        f"{ledger.new_batches}+{ledger.resends}",
        f"{ledger.delivered / meter.wall:,.0f}",
        f"{len(set(ledger.stored)) / meter.wall:,.0f}",
        f"{len(ledger.sent_ids):,}",
        f"{found.count:,}",
        str(found.lost),
        str(found.duplicated),
        str(found.other_wrong),
        failures,
        cores(meter.client),
        cores(meter.server),
    ]


FEEDBACK_HEADER = [
    "store",
    "conns/worker",
    "batches new+resent",
    "delivered ev/s",
    "stored ev/s",
    "unique sent",
    "store count",
    "lost",
    "duplicated",
    "other wrong",
    "failed posts",
    "client cores",
    "server cores",
]
