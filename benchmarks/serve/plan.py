"""What the benchmark sends, for how long, and what it measured."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

SECRET = "benchmark-webhook-secret"
API_KEY = "benchmark-api-key"  # the service refuses to start without one
RATE = 200.0  # open-loop requests per second
PLAIN = "/v1/score?reasons=0"  # scores without reasons (no TreeSHAP)
CLIENTS = 16  # closed-loop concurrent clients
SENDERS = 8  # concurrent webhook senders
BATCH_EVENTS = 50
RESEND_SHARE = 0.2
SYNTHETIC_LEADS = 20_000
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"  # where own_database creates one
JSON_HEADERS = {"content-type": "application/json", "authorization": f"Bearer {API_KEY}"}
TIMEOUT_S = 30.0
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"  # set by `leadloop serve` when workers > 1
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class Plan:
    """How long and how much."""

    open_s: float
    closed_s: float
    feedback_s: float
    rows: int
    shap_rows: int
    workers: tuple[int, ...]
    pg_url: str
    big_source: str
    client: str


@dataclass
class Results:
    latency: list[list[str]] = field(default_factory=list)
    throughput: list[list[str]] = field(default_factory=list)
    feedback: list[list[str]] = field(default_factory=list)
    p99: dict[int, tuple[float, float]] = field(default_factory=dict)  # p99, max send lag
    ratio: dict[int, float] = field(default_factory=dict)
    ratio_plain: dict[int, float] = field(default_factory=dict)  # scores without reasons
    bare_client: dict[int, float] = field(default_factory=dict)
    wrong_events: int = 0
    pg_note: str = ""
