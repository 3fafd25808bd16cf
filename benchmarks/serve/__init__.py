"""The scoring service and batch scoring under load, on loopback: latency, throughput, ingestion.

Usage: python benchmarks/serve.py (or python -m benchmarks.serve, from the repository root)
       [--quick] [--workers 1,2] [--rows N] [--client raw|httpx]
                                  [--pg-url URL] [--big-source generate|repeat] [--keep]

Setup: 20k synthetic leads in a temp dir; `leadloop run` registers the champion there. For each
worker count the service runs under uvicorn in a subprocess, with one extra route, POST /bare, a
FastAPI endpoint that reads the body and does nothing else: the ceiling of what FastAPI and the
service's middleware serve on this machine. With several workers PROMETHEUS_MULTIPROC_DIR is set,
as `leadloop serve` sets it.

1. Single-lead scoring. Open loop: requests sent at a fixed 200/s whatever the answers do, each
   latency taken from the request's scheduled send time (a stalled client or server cannot hide
   its stall). Closed loop: 16 clients send as fast as they get answers, on /v1/score and on
   /bare with the same body (one real lead).
2. Feedback ingestion: 8 senders post signed batches of 50 events, about 20% of the batches
   re-sends of batches already acknowledged. Afterwards the store must hold every event once and
   no event may have been reported stored twice. SQLite, and PostgreSQL when it is reachable.
3. Batch file scoring of 1M generated leads against reading the file plus the bare model.

The load client is a minimal keep-alive HTTP/1.1 client on asyncio streams (about 0.1 ms of CPU
a request); httpx.AsyncClient (--client httpx) costs 1-2 ms of CPU a request, so on a small
machine it, not the server, sets the closed-loop figures and the bare ceiling. The raw client
spreads its keep-alive connections evenly over the workers (the kernel alone may give them all
to one); the conns/worker columns show the spread. Either way the client shares the machine's
cores with the server: throughputs are lower bounds.

Prints tables (with the CPU the client and the server used); never asserts on time.
Targets: single-lead p99 under 10 ms at 200 req/s; scoring throughput at least a quarter of bare
with reasons and half without; zero lost or duplicated events; file scoring within 2x of read +
raw predict.

Modules: ``client`` (the HTTP load clients), ``load`` (the load generators: open and closed
loop scoring, signed feedback senders), ``ledger`` (the exactly-once ledger of feedback),
``server`` (the service under uvicorn in a subprocess, CPU meters), ``postgres`` (a database
of its own), ``batch`` (file scoring), ``printing`` (tables), ``run`` (the run, wired).
"""
