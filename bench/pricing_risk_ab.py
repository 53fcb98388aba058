"""A/B of the entry's pricing and exposure checks alone: a base revision's
`engine/execution.py` and `risk/checks.py` (loaded from `git show REF:...`) against the
working tree's, interleaved in one process, CPU time per call (ADR 0020 point 47).

    .venv/bin/python bench/pricing_risk_ab.py [REF]        # default REF: main
"""

from __future__ import annotations

import subprocess
import sys
import time
import types
from types import MappingProxyType

from drift_engine.core.types import DriftMarginMetrics, MarketType, OrderIntent, PositionDirection
from drift_engine.engine import execution as new_exec
from drift_engine.risk import RiskLimits
from drift_engine.risk import checks as new_checks
from drift_engine.strategies.base import MarketSnapshot, StrategySnapshot, VaultSnapshot

SOL = 10**9


def load(ref: str, rel: str, name: str) -> types.ModuleType:
    src = subprocess.run(
        ["git", "show", f"{ref}:{rel}"], capture_output=True, text=True, check=True
    ).stdout
    mod = types.ModuleType(name)
    mod.__file__ = name
    sys.modules[name] = mod
    exec(compile(src, name, "exec"), mod.__dict__)  # noqa: S102 - a revision of our own file
    return mod


def ab(label: str, fa, fb, n: int = 2000, rounds: int = 40) -> None:
    ta: list[float] = []
    tb: list[float] = []
    for _ in range(rounds):
        for f, t in ((fa, ta), (fb, tb)):
            t0 = time.process_time()
            for _ in range(n):
                f()
            t.append((time.process_time() - t0) / n * 1e6)
    ta.sort()
    tb.sort()
    print(
        f"{label:34s} base min {ta[0]:6.2f} median {ta[len(ta) // 2]:6.2f} us | "
        f"tree min {tb[0]:6.2f} median {tb[len(tb) // 2]:6.2f} us"
    )


def main() -> None:
    ref = sys.argv[1] if len(sys.argv) > 1 else "main"
    old_checks = load(ref, "src/drift_engine/risk/checks.py", "base_checks")
    old_exec = load(ref, "src/drift_engine/engine/execution.py", "base_execution")
    markets = {
        f"M{i}": MarketSnapshot(
            symbol=f"M{i}",
            perp_market_index=i,
            oracle_price=150_000_000 + i,
            spot_market_index=i + 1,
            spot_oracle_price=150_000_000 + i,
            spot_decimals=9,
        )
        for i in range(3)
    }
    snap = StrategySnapshot(
        ts=0,
        markets=MappingProxyType(markets),
        vault=VaultSnapshot("v", equity=10**10, balance=10**10, high_water_mark=0),
        positions=(),
        margin=DriftMarginMetrics(0, 0, 0, 0, 0, 100, 0, 0, 0),
        orders=(),
    )
    orders = [
        OrderIntent(0, MarketType.PERP, PositionDirection.SHORT, 10 * SOL),
        OrderIntent(1, MarketType.SPOT, PositionDirection.LONG, 10 * SOL),
    ]
    lim = RiskLimits()
    ca, cb = old_checks.MaxOrderNotional(lim), old_checks.MaxLeverage(lim)
    na, nb = new_checks.MaxOrderNotional(lim), new_checks.MaxLeverage(lim)
    assert (ca.check(orders, snap), cb.check(orders, snap)) == (
        na.check(orders, snap),
        nb.check(orders, snap),
    )
    ab(
        "risk: notional+leverage checks",
        lambda: (ca.check(orders, snap), cb.check(orders, snap)),
        lambda: (na.check(orders, snap), nb.check(orders, snap)),
    )
    intent = OrderIntent(0, MarketType.PERP, PositionDirection.SHORT, 10 * SOL, tags=("entry",))
    po, pn = old_exec.OrderPricer(), new_exec.OrderPricer()
    assert po.price(intent, 150_000_000, 1000) == pn.price(intent, 150_000_000, 1000)
    ab(
        "pricing: OrderPricer.price",
        lambda: po.price(intent, 150_000_000, 1000),
        lambda: pn.price(intent, 150_000_000, 1000),
    )


if __name__ == "__main__":
    main()
