"""`/metrics` of a LIVE `drift-engine run` against the unkind local chain (issue 17): the
live metrics are checked against independent readings, never against the metrics code.

The engine idles, then a carry appears; a congested node accepts its entry's transaction
without ever landing it, then refuses every request for 120 s of chain time (HTTP 429),
and loses two account reads' answers. Then:

* RPC calls and errors by method: between a consistent cut before the carry and one
  after (a scrape with the engine's `rpc_in_flight` at zero, the server's counts the
  same before and after it, see `cut`), each method's counter moved exactly as much as
  the requests the local server received (`RpcStats.calls`, plus the ones it refused
  unprocessed, from its log), and each error counter as much as the errors the server's
  log says it answered.
* send/confirm latency: one send-latency observation per sendTransaction the server
  received; one "confirmed" confirm-latency observation per transaction of the engine's
  key that landed on chain, and one "unconfirmed" for the send lost in the blackout.
* priority fee paid, with the engine's label: what the chain charged the engine's key
  beyond the base fee, over its landed transactions.
* UNKNOWN orders, with the engine's label: the engine's rows of the `engine_orders`
  table with status `unknown` (read before and after the scrape), while the blackout
  leaves the entry's outcome unknown and once the chain has resolved it.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from solders.transaction import VersionedTransaction
from sqlalchemy import create_engine, text

from tests.childproc import stop_child
from tests.live.live_helpers import HOUR, USDC

REPO = Path(__file__).resolve().parents[2]
ENGINE = "dn-live"
WAIT_S = 90.0  # a failure bound only
UNIT_PRICE = 5_000  # micro-lamports per compute unit: the priority fee the config asks

CONFIG = """
live = true
[rpc]
url = "{url}"
network = "localnet"
compute_unit_price = {price}

[heartbeat]
interval_s = 1

[[engines]]
id = "{engine}"
mode = "live"

[engines.params]
market = "SOL-PERP"
lookback_hours = 1
target_leverage = 0.5
retry_after_s = 0
"""


# --------------------------------------------------------------------------- readings


def samples(body: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(body):
        for s in family.samples:
            out.setdefault(s.name, []).append((dict(s.labels), s.value))
    return out


def by_label(found: dict, name: str, label: str) -> Counter:
    return Counter({lab[label]: v for lab, v in found.get(name, [])})


def value(found: dict, name: str, **labels: str) -> float | None:
    hits = [v for lab, v in found.get(name, []) if all(lab.get(k) == w for k, w in labels.items())]
    assert len(hits) <= 1, f"{name}{labels}: {hits}"
    return hits[0] if hits else None


class ServerErrors(logging.Handler):
    """The local server's own log of the errors it answered, counted by method; and of
    the requests it refused with HTTP 429 before processing them (which its
    `RpcStats.calls` does not count)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.by_method: Counter = Counter()
        self.refused: Counter = Counter()
        self._lock2 = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        msg, args = str(record.msg), record.args or ()
        with self._lock2:
            if msg.startswith("local RPC: %s -> error") or msg.startswith("local RPC: %s failed"):
                self.by_method[str(args[0])] += 1
            elif msg.startswith(("local RPC fault: response to", "local RPC fault: HTTP 429")):
                for name in args[0]:
                    self.by_method[str(name)] += 1
                    if "HTTP 429" in msg:
                        self.refused[str(name)] += 1

    def snapshot(self) -> tuple[Counter, Counter]:
        with self._lock2:
            return Counter(self.by_method), Counter(self.refused)


def unknown_rows(db_url: str) -> int:
    engine = create_engine(db_url)
    try:
        with engine.connect() as c:
            return c.execute(
                text(
                    "SELECT count(*) FROM engine_orders WHERE engine_id = :e AND status = 'unknown'"
                ),
                {"e": ENGINE},
            ).scalar_one()
    finally:
        engine.dispose()


def engine_transactions(world) -> dict[str, int]:
    """signature -> priority fee (lamports the chain charged beyond the base fee) of every
    transaction the engine's key paid for that landed."""
    me = world.keypair.pubkey()
    per_signature = world.chain.config.lamports_per_signature
    with world.chain._lock:
        records = list(world.chain.signatures.items())
    out = {}
    for sig, rec in records:
        if not rec.raw or rec.account_keys[0] != me:
            continue
        tx = VersionedTransaction.from_bytes(rec.raw)
        out[str(sig)] = rec.fee - per_signature * tx.message.header.num_required_signatures
    return out


def _perp_base(world) -> int:
    with world.chain._lock:
        pos = world.sim.perp_position(world.key, "SOL-PERP")
    return 0 if pos is None else pos.base_asset_amount


def _until(what: str, check, out: list[str]) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}:\n" + "".join(out)[-3000:])


# --------------------------------------------------------------------------- the test


def test_live_metrics_equal_the_chain_and_the_orders_table(
    world, make_client, keypair_file, tmp_path
):
    client = make_client(world.server)
    client.run(client.connect())
    client.run(client.initialize_user())
    client.run(client.deposit(5_000 * USDC, 0))
    client.close_blocking()
    setup_txs = set(engine_transactions(world))

    db_url = f"sqlite:///{tmp_path / 'live.db'}"
    config = tmp_path / "live.toml"
    config.write_text(CONFIG.format(url=world.server.url, price=UNIT_PRICE, engine=ENGINE))
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith("DRIFT_ENGINE") and k != "DATABASE_URL"
    }
    env.update(
        DATABASE_URL=db_url,
        DRIFT_ENGINE_KEYPAIR_PATH=str(keypair_file),
        PYTHONPATH=os.pathsep.join(p for p in (env.get("PYTHONPATH"), str(REPO)) if p),
    )
    rpc_log = logging.getLogger("drift_engine.localnet.rpc")
    errors = ServerErrors()
    level = rpc_log.level
    rpc_log.addHandler(errors)
    rpc_log.setLevel(logging.INFO)
    stats = world.server.stats
    faults = world.server.faults

    def server() -> tuple[Counter, Counter]:
        """(requests received by method, errors answered by method)."""
        failed, refused = errors.snapshot()
        return Counter(stats.calls) + refused, failed

    out: list[str] = []
    ticking = world.ticking()  # the runner waits in real time: chain time runs by itself
    ticking.__enter__()
    proc = subprocess.Popen(
        [sys.executable, "-m", "drift_engine.cli", "run", "-c", str(config), "--hours", "1"]
        + ["--metrics-port", "0"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    reader = threading.Thread(target=lambda: out.extend(proc.stdout), daemon=True)
    reader.start()
    try:
        _until(
            "the metrics address",
            lambda: re.search(r"metrics: (http://\S+?)/metrics", "".join(out)),
            out,
        )
        url = re.search(r"metrics: (http://\S+?)/metrics", "".join(out)).group(1)
        http = httpx.Client(base_url=url, timeout=30)

        def scrape() -> dict:
            return samples(http.get("/metrics").text)

        order = ("rpc_calls_total", "rpc_in_flight", "rpc_errors_total")

        def cut() -> tuple[dict, tuple[Counter, Counter]]:
            """The engine's metrics and the server's counts at one moment: the server's
            reading, a scrape, the server's reading again. The engine raises its
            in-flight gauge before it counts a call and lowers it after it counted the
            call's error; a scrape reads the call counters, then the gauge, then the
            error counters. When the gauge reads zero, every call the scrape counted has
            had its answer, so the server counted it (and logged its error or refusal)
            before, and the error counters read after the gauge include its error. When
            the two readings of the server agree, no call reached it while the engine
            was read: none the scrape missed (started after its call counters were
            read) and no error of one. Then the scrape's calls and errors are exactly
            the server's. No quiet window is needed: a scrape between two calls does."""
            deadline = time.monotonic() + WAIT_S
            while time.monotonic() < deadline:
                first = server()
                text = http.get("/metrics").text
                then = server()
                heads = [text.index(f"# HELP drift_engine_{n} ") for n in order]
                assert heads == sorted(heads), f"a scrape must read {', '.join(order)} in turn"
                found = samples(text)
                if first == then and value(found, "drift_engine_rpc_in_flight") == 0:
                    return found, then
                time.sleep(0.05)
            raise AssertionError("no scrape of the engine fell between two RPC calls")

        # the engine idles (no funding to carry) with its RPC traffic metered
        _until("a tick", lambda: (value(scrape(), "drift_engine_ticks_total") or 0) >= 2, out)
        m1, (calls1, errors1) = cut()
        before = engine_transactions(world)
        # then a carry appears. Its entry's transaction is accepted by a congested node
        # and never lands (its priority fee is below the floor), and from then on the
        # node refuses every request for 120 s of chain time (HTTP 429): the client
        # cannot learn the send's outcome, so the engine's orders go UNKNOWN. When the
        # node answers again (congestion over) they resolve — the entry never landed —
        # and the entry is sent again. Two account reads lose their answers on the way.
        blackout: list[int] = []  # when it ends (chain ms)

        def on_fire(kind: str, method: str) -> None:
            if kind == "lost_confirmation" and not blackout:  # the entry's first send
                blackout.append(world.clock.now_ms() + 120_000)
                faults.congest(2 * UNIT_PRICE, seconds=120)
                faults.arm_for("http_429", 120)

        faults.on_fire = on_fire
        faults.congest(2 * UNIT_PRICE)
        faults.arm("lost_confirmation")  # the trigger (the entry never lands anyway)
        faults.arm("drop_response", "getMultipleAccounts", count=2)
        with world.chain._lock:
            world.sim.update_funding("SOL-PERP", ts=world.sim.now + HOUR, funding_rate=2_000_000)

        # while the orders are UNKNOWN: the gauge equals the table (read before and after)
        seen_unknown: list[tuple[float, int]] = []

        def unknown_agrees() -> bool:
            rows = unknown_rows(db_url)
            gauge = value(scrape(), "drift_engine_unknown_orders", engine=ENGINE)
            if rows > 0 and rows == unknown_rows(db_url) and gauge is not None:
                seen_unknown.append((gauge, rows))
                return gauge == rows
            return False

        _until("UNKNOWN orders in the table and the gauge", unknown_agrees, out)
        _until("the short perp", lambda: _perp_base(world) < 0, out)
        _until("the blackout's end", lambda: world.clock.now_ms() > blackout[0], out)
        _until("the lost reads", lambda: faults.pending == 0, out)
        _until("no order UNKNOWN", lambda: unknown_rows(db_url) == 0, out)
        # the engine counts a landed transaction's outcome after the status poll that
        # saw it returns: a cut can fall between the two. Cut again until every
        # transaction of its key that landed has its outcome counted; an engine that
        # never counts one runs out the time and fails the outcome assertions below
        deadline = time.monotonic() + WAIT_S
        while True:
            m2, (calls2, errors2) = cut()
            landed = {s: fee for s, fee in engine_transactions(world).items() if s not in before}
            counted = by_label(m2, "drift_engine_tx_confirm_seconds_count", "outcome")
            counted -= by_label(m1, "drift_engine_tx_confirm_seconds_count", "outcome")
            if counted["confirmed"] + counted["already_landed"] >= len(landed) or (
                time.monotonic() > deadline
            ):
                break
            time.sleep(0.1)
        unknown_after = unknown_rows(db_url)
        fee_paid = sum(engine_transactions(world).values())
        http.close()
    finally:
        try:
            stop_child(proc, signal.SIGINT, output=lambda: "".join(out))
        finally:
            reader.join(timeout=10)
        ticking.__exit__(None, None, None)
        rpc_log.removeHandler(errors)
        rpc_log.setLevel(level)
    assert proc.returncode == 0, "".join(out)[-3000:]
    assert blackout and faults.fired["drop_response"] >= 2 and faults.fired["http_429"] > 2
    assert faults.fired["lost_confirmation"] == 1

    # RPC calls and errors by method: the metered deltas are the server's deltas
    def delta(found_a, found_b, name):
        return by_label(found_b, name, "method") - by_label(found_a, name, "method")

    called = delta(m1, m2, "drift_engine_rpc_calls_total")
    failed = delta(m1, m2, "drift_engine_rpc_errors_total")
    assert called == Counter(calls2 - calls1), (called, calls2 - calls1)
    assert failed == Counter(errors2 - errors1), (failed, errors2 - errors1)
    assert called["sendTransaction"] >= 2 and called["getMultipleAccounts"] > 0
    # the lost reads, and the status polls the blackout refused
    assert failed["getMultipleAccounts"] >= 2 and failed["getSignatureStatuses"] >= 1
    # one duration per round trip and method: history's getTransaction calls go out as one
    # JSON-RPC batch (one round trip, one observation); every other call is its own trip
    durations = delta(m1, m2, "drift_engine_rpc_duration_seconds_count")
    assert set(durations) == set(called)
    assert all(1 <= durations[m] <= called[m] for m in called), (durations, called)
    assert all(durations[m] == called[m] for m in called if m != "getTransaction")

    # send latency: one observation per sendTransaction the server received
    sends = value(m2, "drift_engine_tx_send_seconds_count") - (
        value(m1, "drift_engine_tx_send_seconds_count") or 0
    )
    assert sends == called["sendTransaction"] and value(m2, "drift_engine_tx_send_seconds_sum") > 0
    # confirm latency: the blacked-out send ended unconfirmed; one confirmed observation
    # per transaction of the engine's key that landed on chain
    outcomes = by_label(m2, "drift_engine_tx_confirm_seconds_count", "outcome") - by_label(
        m1, "drift_engine_tx_confirm_seconds_count", "outcome"
    )
    assert landed and outcomes["confirmed"] + outcomes["already_landed"] == len(landed), (
        outcomes,
        landed,
    )
    assert outcomes["unconfirmed"] == 1, outcomes
    assert value(m2, "drift_engine_tx_confirm_seconds_sum", outcome="confirmed") > 0

    # priority fee paid, by engine: what the chain charged the engine's key beyond the
    # base fee, over all its landed transactions (the setup's own paid none)
    assert fee_paid > 0 and all(fee == 0 for s, fee in before.items() if s in setup_txs)
    assert value(m2, "drift_engine_priority_fee_lamports_total", engine=ENGINE) == fee_paid

    # UNKNOWN orders, by engine: the engine_orders table, during the blackout and after
    assert seen_unknown[-1][0] == seen_unknown[-1][1] > 0
    assert value(m2, "drift_engine_unknown_orders", engine=ENGINE) == unknown_after == 0
