"""What the chain holds, computed independently of the production code.

The accounts are read with a raw JSON-RPC request (httpx, not our client), the User with
driftpy's own byte decoder (`driftpy.decode.user.decode_user`), the USDC spot market
with an anchorpy coder built here from driftpy's IDL file, and the token amount with
the program's integer rule (`math/spot_balance.rs::get_token_amount`: scaled balance x
cumulative interest / 10^(19 - decimals), deposits rounded down, borrows up), checked
against driftpy's own (float) `get_token_amount` within one unit. Nothing of
`drift_engine` is imported: the ledger is compared with this, not with itself.
"""

from __future__ import annotations

import base64
import json
import os
from functools import cache
from typing import Any

import driftpy
import httpx
from anchorpy import AccountsCoder, Idl
from driftpy.addresses import get_spot_market_public_key, get_user_account_public_key
from driftpy.constants.config import DRIFT_PROGRAM_ID
from driftpy.decode.user import decode_user
from driftpy.math.spot_market import get_token_amount


@cache
def _coder() -> AccountsCoder:
    path = os.path.join(os.path.dirname(driftpy.__file__), "idl", "drift.json")
    with open(path) as f:
        return AccountsCoder(Idl.from_json(f.read()))


def _accounts(url: str, keys: list[Any], commitment: str) -> tuple[int, list[bytes | None]]:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "getMultipleAccounts",
        "params": [[str(k) for k in keys], {"encoding": "base64", "commitment": commitment}],
    }
    res = httpx.post(url, content=json.dumps(body), timeout=10).json()["result"]
    out = [None if v is None else base64.b64decode(v["data"][0]) for v in res["value"]]
    return res["context"]["slot"], out


def _token_amount(scaled: int, market: Any, deposit: bool) -> int:
    precision_decrease = 10 ** (19 - market.decimals)
    if deposit:
        return scaled * market.cumulative_deposit_interest // precision_decrease
    return -(-scaled * market.cumulative_borrow_interest // precision_decrease)


def chain_cash(
    url: str, authority: Any, sub_account_id: int = 0, commitment: str = "confirmed"
) -> dict[str, int]:
    """{"slot", "usdc", "unsettled", "cash"} of a sub-account, from its raw bytes at
    `commitment`: the USDC balance (signed) and, per perp position, quote_asset_amount -
    quote_entry_amount (realized PnL, fees and settled funding not yet in USDC)."""
    user_key = get_user_account_public_key(DRIFT_PROGRAM_ID, authority, sub_account_id)
    usdc_key = get_spot_market_public_key(DRIFT_PROGRAM_ID, 0)
    slot, (user_bytes, usdc_bytes) = _accounts(url, [user_key, usdc_key], commitment)
    user = decode_user(user_bytes)
    usdc_market = _coder().decode(usdc_bytes)
    usdc = 0
    for sp in user.spot_positions:
        if sp.market_index != 0 or sp.scaled_balance == 0:
            continue
        deposit = type(sp.balance_type).__name__ == "Deposit"
        ours = _token_amount(sp.scaled_balance, usdc_market, deposit)
        theirs = get_token_amount(sp.scaled_balance, usdc_market, sp.balance_type)
        assert abs(ours - theirs) <= 1, (ours, theirs)
        usdc += ours if deposit else -ours
    unsettled = sum(
        pp.quote_asset_amount - pp.quote_entry_amount
        for pp in user.perp_positions
        if pp.base_asset_amount != 0 or pp.quote_asset_amount != 0 or pp.open_orders != 0
    )
    return {"slot": slot, "usdc": usdc, "unsettled": unsettled, "cash": usdc + unsettled}


def order_records(chain: Any, user: Any) -> list[Any]:
    """Every `OrderRecord` the program logged for `user`, decoded with an anchorpy event
    coder over driftpy's IDL (the placements, each with its user order id and order id)."""
    from anchorpy import EventCoder

    path = os.path.join(os.path.dirname(driftpy.__file__), "idl", "drift.json")
    with open(path) as f:
        coder = EventCoder(Idl.from_json(f.read()))
    out = []
    for rec in chain.signatures.values():
        for line in rec.logs:
            if not line.startswith("Program data: "):
                continue
            event = coder.parse(base64.b64decode(line[len("Program data: ") :]))
            if event is not None and event.name == "OrderRecord" and event.data.user == user:
                out.append(event.data.order)
    return out
