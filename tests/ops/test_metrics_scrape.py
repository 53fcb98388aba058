"""`/metrics` during a paper run: each per-engine metric carries the engine's label and
the value the API answers at the same moment; the runner's heartbeat metrics are there.

The runner serves its dashboard (`run --port 0`) and its own `--metrics-port 0`; the test
reads the API, scrapes, reads the API again, and compares only when the two API reads
agree (nothing was written between them) — while the run is still going.
"""

from __future__ import annotations

import re
import signal
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.childproc import stop_child
from tests.engine.run_helpers import clean_env, popen_cmd, run_cmd, write_config

ENGINE = "dn-sol"


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((dict(s.labels), s.value))
    return out


def one(found: dict, name: str, **labels: str) -> float:
    hits = [v for lab, v in found.get(name, []) if all(lab.get(k) == w for k, w in labels.items())]
    assert len(hits) == 1, f"{name}{labels}: {hits} in {found.get(name) or sorted(found)}"
    return hits[0]


def api_state(client: httpx.Client) -> dict[str, Any]:
    detail = client.get(f"/api/engines/{ENGINE}").json()
    vault = next(v for v in detail["vaults"] if v["active"])
    page = client.get(f"/api/vaults/{vault['id']}/ledger", params={"limit": 500}).json()
    assert page["next_before"] is None  # one page holds them all
    entries = page["entries"]
    # wall-clock ages grow between two reads of a still engine: not part of its state
    detail = {k: v for k, v in detail.items() if k not in ("last_tick_age_seconds", "liveness")}
    return {"detail": detail, "vault": vault, "kinds": [e["kind"] for e in entries]}


def wait_for_line(proc: Any, pattern: str, lines: list[str]) -> re.Match:
    for line in proc.stdout:
        lines.append(line)
        m = re.search(pattern, line)
        if m:
            return m
    raise AssertionError("".join(lines)[-3000:] + proc.stderr.read()[-3000:])


def test_metrics_during_a_paper_run_equal_the_api(database_url, tmp_path):
    config = write_config(tmp_path)
    env = clean_env(database_url)
    # the SOL engine enters its carry about 18 simulated hours in
    first = run_cmd(env, "run", "--config", str(config), "--hours", "24")
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    # then it carries on at a 5-minute tick every 5 wall seconds, serving its dashboard
    proc = popen_cmd(
        env,
        *("run", "--config", str(config), "--hours", "2", "--speed", "60"),
        *("--port", "0", "--metrics-port", "0"),
    )
    lines: list[str] = []
    try:
        metrics_url = wait_for_line(proc, r"metrics: (http://\S+?)/?metrics", lines).group(1)
        dash_url = wait_for_line(proc, r"dashboard: (http://\S+?)/?\s*$", lines).group(1)
        compared = None
        with httpx.Client(base_url=dash_url, timeout=30) as client:
            while compared is None and proc.poll() is None:
                before = api_state(client)
                scraped = client.get("/metrics")
                after = api_state(client)
                found = samples(scraped.text)
                ticked = found.get("drift_engine_ticks_total", [({}, 0)])[0][1] > 0
                if before == after and ticked and proc.poll() is None:
                    compared = (after, found)
        assert compared is not None, "the API never stood still during the run"
        runner_text = httpx.get(f"{metrics_url}/metrics", timeout=30).text
        health = httpx.get(f"{metrics_url}/healthz", timeout=30)
        ready = httpx.get(f"{metrics_url}/readyz", timeout=30)
    finally:
        out, err = stop_child(proc, signal.SIGINT)
    assert proc.returncode == 0, "".join(lines)[-2000:] + out[-2000:] + err[-2000:]
    assert "interrupted" in out or "done" in out

    api, found = compared
    detail, vault, margin = api["detail"], api["vault"], api["detail"]["margin"]
    e = {"engine": ENGINE}
    v = {"engine": ENGINE, "vault": vault["name"], "type": "VIRTUAL", "active": "true"}
    # state (one series per state, 1 for the engine's), and who holds it
    assert one(found, "drift_engine_engine_state", **e, state=detail["state"].lower()) == 1
    states = [val for lab, val in found["drift_engine_engine_state"] if lab["engine"] == ENGINE]
    assert sorted(states) == [0, 0, 0, 0, 1]
    runner = detail["runner"]
    assert runner is not None
    info = [lab for lab, _ in found["drift_engine_engine_info"] if lab["engine"] == ENGINE]
    assert info[0]["runner"].endswith(f":{runner['pid']}") and info[0]["mode"] == "paper"
    # money: the vault's figures, micro-USDC / 1e6
    for metric, key in (
        ("vault_equity_usdc", "equity"),
        ("vault_pnl_usdc", "pnl"),
        ("vault_funding_usdc", "funding"),
        ("vault_fees_usdc", "fees"),
        ("vault_balance_usdc", "balance"),
    ):
        assert one(found, f"drift_engine_{metric}", **v) == vault[key]["micro"] / 1e6, metric
    assert vault["funding"]["micro"] != 0 and vault["fees"]["micro"] > 0  # a real carry
    # margin: health, leverage, liquidation distance
    assert margin["health"] is not None and margin["leverage"] is not None
    assert one(found, "drift_engine_health", **e) == margin["health"]
    assert one(found, "drift_engine_leverage", **e) == margin["leverage"]
    assert margin["liquidation_distance_pct"] is not None
    assert (
        one(found, "drift_engine_liquidation_distance_pct", **e)
        == (margin["liquidation_distance_pct"])
    )
    # orders and the hedge (the engine's order book; no unhedged leg is 0)
    orders = detail["orders"]
    assert isinstance(orders.get("working"), int)
    assert one(found, "drift_engine_open_orders", **e) == orders["working"]
    assert one(found, "drift_engine_unknown_orders", **e) == orders["by_status"].get("unknown", 0)
    unhedged = detail["unhedged"]
    expected_unhedged = 0 if unhedged is None else abs(unhedged["notional"]["micro"]) / 1e6
    assert one(found, "drift_engine_unhedged_exposure_usdc", **e) == expected_unhedged
    # ledger entries by kind
    kinds = {k: api["kinds"].count(k) for k in set(api["kinds"])}
    assert {"transfer_in", "fill", "funding"} <= set(kinds)  # capital in, a carry
    for kind, count in kinds.items():
        assert (
            one(found, "drift_engine_ledger_entries_total", **e, vault=vault["name"], kind=kind)
            == count
        )
    # the heartbeat (the runner serving this dashboard adds its own metrics)
    ticks = one(found, "drift_engine_ticks_total")
    assert ticks > 0 and one(found, "drift_engine_tick_duration_seconds_count") == ticks
    assert one(found, "drift_engine_tick_events_total") > 0
    assert one(found, "drift_engine_tick_errors_total") == 0
    assert one(found, "drift_engine_tick_lag_seconds") >= 0
    assert one(found, "drift_engine_database_up") == 1

    # the headless endpoint: the same engine, the runner's own view of it
    runner_found = samples(runner_text)
    assert one(runner_found, "drift_engine_engine_state", **e, state="running") == 1
    assert one(runner_found, "drift_engine_ticks_total") >= ticks
    assert health.status_code == 200 and ready.status_code == 200
