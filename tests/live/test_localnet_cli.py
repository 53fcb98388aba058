"""`drift-engine localnet` as a real process: serves seeded markets until Ctrl-C."""

from __future__ import annotations

import asyncio
import base64
import os
import re
import signal
import subprocess
import sys
import time

import httpx
from driftpy.constants.config import DRIFT_PROGRAM_ID

from drift_engine.core.program import account_name_of, decode_account
from drift_engine.core.types import MarketType, OrderIntent
from drift_engine.live.client import DriftClient
from drift_engine.localnet.seed import bundled_prices
from tests.childproc import stop_child
from tests.live.conftest import USDC, fast_config


def _wait_healthy(url: str, proc: subprocess.Popen) -> None:
    for _ in range(600):
        if proc.poll() is not None:
            raise AssertionError(f"localnet exited early: {proc.stdout.read()}")
        try:
            r = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "getHealth"}, timeout=1)
            if r.json().get("result") == "ok":
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("localnet did not come up")


def _announced_url(proc: subprocess.Popen) -> tuple[str, str]:
    """The URL the server printed once it had bound its port (it binds port 0 itself, so
    no other process can take the port between choosing and binding it)."""
    for _ in range(1_000):
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"localnet exited before announcing its URL: {proc.poll()}")
        match = re.search(r"drift-engine localnet: (http://127\.0\.0\.1:\d+)", line)
        if match:
            return match.group(1), line
    raise AssertionError("localnet never announced its URL")


def test_localnet_serves_seeded_markets_and_trades(keypair, keypair_file):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "drift_engine.cli",
            "localnet",
            "--port",
            "0",
            "--fund",
            str(keypair.pubkey()),
            "--usdc",
            "1000",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    announced = ""
    try:
        url, announced = _announced_url(proc)
        _wait_healthy(url, proc)
        res = httpx.post(
            url,
            json={
                "jsonrpc": "2.0",
                "id": 1,
                "method": "getProgramAccounts",
                "params": [str(DRIFT_PROGRAM_ID), {"encoding": "base64"}],
            },
            timeout=10,
        ).json()["result"]
        by_name: dict[str, list] = {}
        for item in res:
            data = base64.b64decode(item["account"]["data"][0])
            by_name.setdefault(account_name_of(data), []).append(decode_account(data))
        perps = {m.market_index: m for m in by_name["PerpMarket"]}
        spots = {m.market_index: m for m in by_name["SpotMarket"]}
        assert sorted(perps) == [0, 1, 2]  # SOL-PERP, BTC-PERP, ETH-PERP
        assert sorted(spots) == [0, 1, 3, 4]  # USDC, SOL, wBTC, wETH
        prices = bundled_prices()
        assert perps[2].amm.historical_oracle_data.last_oracle_price == prices["ETH-PERP"]

        async def trade():
            async with DriftClient.from_keypair_file(fast_config(url), keypair_file) as client:
                await client.initialize_user()
                await client.deposit(1_000 * USDC, 0)
                await client.place_orders(
                    [
                        OrderIntent(4, MarketType.SPOT, "long", 10**7, user_order_id=1),
                        OrderIntent(2, MarketType.PERP, "short", 10**8, user_order_id=2),
                    ]
                )
                # the legs rest in their auctions; the keeper fills them over the next
                # slots (400 ms each on the localnet's wall clock)
                for _ in range(150):
                    state = await client.refresh()
                    if not state.open_orders:
                        break
                    await asyncio.sleep(0.2)
                assert state.spot_balance(4) == 10**7  # 0.1 wETH (8 decimals)
                assert state.position(MarketType.PERP, 2).base_asset_amount == -(10**8)
                assert state.margin.health > 90
                assert state.margin.risk_level.value == "healthy"

        asyncio.run(trade())
    finally:
        out, _ = stop_child(proc, signal.SIGINT)
    out = announced + out
    assert proc.returncode == 0, out
    assert f"drift-engine localnet: {url}" in out
    assert "localnet stopped." in out
