"""Prometheus metrics (ADR-0019): engine and vault figures, the heartbeat, RPC traffic.

* `metrics.figures` — the names and labels both sources share;
* `metrics.runner` — a runner's own metrics, from memory (`run --metrics-port`);
* `metrics.fleet` — every engine and vault of the database (the dashboard's `/metrics`);
* `metrics.server` — the headless runner's HTTP server (`/metrics`, `/healthz`, `/readyz`);
* `metrics.rpc` — counting and timing the Solana JSON-RPC calls of the live path.
"""
