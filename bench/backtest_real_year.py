"""The default backtest on the real hourly year, per market: what it earned, where the PnL
came from (the parts add up to the net PnL exactly, checked), and how long it took.

    .venv/bin/python bench/backtest_real_year.py                 # SOL-PERP and BTC-PERP
    .venv/bin/python bench/backtest_real_year.py --bridge 60     # with a 1-minute bridge

Prints, per market: funding hours booked (and how many passed quietly, without a real
engine step: ADR-0020), the PnL parts, wall and CPU seconds, events/s.
Exits 1 if the parts do not add up. Figures depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import sys
import time

from backtest_speed import counting_quiet_hours  # (bench/: the script's own folder)

from drift_engine.backtest import parse_date, run_backtest
from drift_engine.data.pipeline import real_span

WINDOWS = {"SOL-PERP": ("2025-04-14", "2026-04-01"), "BTC-PERP": ("2025-04-14", "2026-02-03")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--market", choices=sorted(WINDOWS), action="append")
    ap.add_argument("--bridge", type=int, default=0, help="intra-hour bridge seconds (0: none)")
    args = ap.parse_args()
    ok = True
    for market in args.market or sorted(WINDOWS, reverse=True):
        start, end = (parse_date(d) for d in WINDOWS[market])
        assert real_span(market)[0] <= start and end <= real_span(market)[1]
        cpu0, wall0 = time.process_time(), time.perf_counter()
        with counting_quiet_hours() as quiet:
            r = run_backtest("delta-neutral", market, start, end, bridge_s=args.bridge)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        parts = r.attribution
        adds_up = parts["total"] == r.net_pnl and r.funding == r.ledger_funding
        ok &= adds_up
        print(
            f"{market} {WINDOWS[market][0]} -> {WINDOWS[market][1]} ({r.data_label}): "
            f"{r.funding_hours:,} funding hours ({quiet[0]:,} passed quietly), "
            f"{r.funding_payments:,} paid to the account; "
            f"net {r.net_pnl / 1e6:+,.2f} = funding {r.funding / 1e6:+,.2f} "
            f"+ interest {r.interest / 1e6:+,.2f} + fees {r.fees / 1e6:+,.2f} "
            f"+ slippage {r.slippage / 1e6:+,.2f} + price/basis {r.price_basis / 1e6:+,.6f} "
            f"USDC ({'adds up' if adds_up else 'DOES NOT ADD UP'}); "
            f"{r.events:,} events, {wall:.1f} s wall, {cpu:.1f} s CPU, "
            f"{r.events / wall:,.0f} events/s",
            flush=True,
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
