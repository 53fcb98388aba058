"""CPU per quiet funding hour of fast stepping's planning and glue (issue 14, ADR-0020).

    .venv/bin/python bench/quiet_hour_glue.py --days 365
    /work/main/.venv/bin/python bench/quiet_hour_glue.py --days 365   # main, for A/B

Runs `bench/backtest_speed.py`'s year (synthetic SOL-PERP minutes, hourly funding, one
short held) through the fast replay and splits the CPU seconds of `fastforward.forward`
(the quiet stretches) with `process_time` around four parts:

- the heartbeat's tick inside the stretch (`quiet_step`: booking, record save, the
  backtest's hourly sample; other code's),
- the market sinks' `apply` of the hour's events (the simulator: funding, interest,
  the liquidation check; the PnL attribution; other code's),
- the market board's `apply` (other code's),
- the rest: planning the skip, applying it, pulling the hour tick's events, deciding
  `passes_hour` (bands, equity terms) and carrying the quiet state: the glue.

The glue per quiet hour is (forward - tick - sinks - board) / quiet hours.
The timers cost about a microsecond per wrapped call, the same on both sides of an
A/B. Figures depend on the machine's load; nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import backtest_speed  # noqa: E402


def _timed(owner: Any, name: str, acc: list[float], depth: list[int]) -> Any:
    original = getattr(owner, name)

    def wrapper(*args: Any, **kw: Any) -> Any:
        if depth[0]:  # counted by the outer timer already
            return original(*args, **kw)
        depth[0] += 1
        c0 = time.process_time()
        try:
            return original(*args, **kw)
        finally:
            acc[0] += time.process_time() - c0
            depth[0] -= 1

    setattr(owner, name, wrapper)
    return original


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    import drift_engine.engine.quiet as quiet
    import drift_engine.fastforward as fastforward
    from drift_engine.backtest.runner import run_backtest
    from drift_engine.heartbeat import HeartbeatDataCollector

    prepared, label, start, end, _ = backtest_speed.prepare_data(args.days, args.seed)
    parts: dict[str, list[float]] = {"tick": [0.0], "sinks": [0.0], "board": [0.0]}
    seen = {k: 0.0 for k in parts}
    fwd, hours = [0.0], [0]
    depth = [0]
    wrapped: set[int] = set()
    original_forward = fastforward.forward
    original_tick = _timed(HeartbeatDataCollector, "tick", parts["tick"], depth)

    def forward(hb: Any, until: Any, wakes: Any) -> None:
        if id(hb) not in wrapped:  # the market sinks of this heartbeat, once
            wrapped.add(id(hb))
            for m in hb.markets:
                _timed(m, "apply", parts["sinks"], depth)
            _timed(hb.board, "apply", parts["board"], depth)
        before = {k: parts[k][0] for k in parts}
        c0 = time.process_time()
        try:
            original_forward(hb, until, wakes)
        finally:
            fwd[0] += time.process_time() - c0
            for k in parts:
                seen[k] += parts[k][0] - before[k]

    fastforward.forward = forward
    light_step = quiet.quiet_step

    def counted(engine: Any, ts: int, *a: Any) -> None:
        hours[0] += 1
        light_step(engine, ts, *a)

    quiet.quiet_step = counted
    c0 = time.process_time()
    report = run_backtest(
        backtest_speed.hold_short_strategy(),
        "SOL-PERP",
        start,
        end,
        data=(prepared, label),
        stepping="fast",
    )
    total = time.process_time() - c0
    HeartbeatDataCollector.tick = original_tick  # type: ignore[method-assign]
    fastforward.forward = original_forward
    quiet.quiet_step = light_step
    h = max(hours[0], 1)
    glue = fwd[0] - seen["tick"] - seen["sinks"] - seen["board"]
    print(f"days {args.days}: quiet hours {hours[0]}, fills {report.fills}, ticks {report.ticks}")
    print(f"run_backtest CPU {total:.3f} s; forward {fwd[0]:.3f} s")
    for k in ("tick", "sinks", "board"):
        print(f"  {k:6s} {seen[k]:.3f} s  {seen[k] / h * 1e6:7.1f} us/hour")
    print(f"  glue   {glue:.3f} s  {glue / h * 1e6:7.1f} us/hour")


if __name__ == "__main__":
    main()
