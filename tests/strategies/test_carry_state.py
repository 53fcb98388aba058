"""The carry strategies' persisted state and config stay as they were written before
their common part moved to `strategies/carry.py`: the same JSON (field names and
order), the same JSON schema, and old saved state loads back to the same JSON. The
literals below were dumped by the code before that move."""

from __future__ import annotations

import hashlib
import json

import pytest
from pydantic import BaseModel, ValidationError

from drift_engine.strategies import (
    DeltaNeutralConfig,
    DeltaNeutralState,
    DeltaNeutralStrategy,
    FundingSpreadConfig,
    FundingSpreadState,
    FundingSpreadStrategy,
)

DN_SAVED = (
    '{"side":"long_carry","below_exit_since":7,"entered_at":5,"last_action_ts":9,'
    '"last_action":"enter long_carry","entries":1,"exits":2,"rebalances":3,"fills":4,'
    '"funding_earned":-11,"fees_paid":12,"residual_since":13,"residual_action":"hedge",'
    '"hedges":14,"unwinds":15,"rejections":16,"last_settle_ts":17}'
)
FS_SAVED = (
    '{"side":"long_a","below_exit_since":7,"entered_at":5,"last_action_ts":9,'
    '"last_action":"enter long_a","entries":1,"exits":2,"rebalances":3,"fills":4,'
    '"funding_earned":-11,"fees_paid":12}'
)
DN_FRESH = (
    '{"side":"flat","below_exit_since":null,"entered_at":null,"last_action_ts":null,'
    '"last_action":"","entries":0,"exits":0,"rebalances":0,"fills":0,"funding_earned":0,'
    '"fees_paid":0,"residual_since":null,"residual_action":"","hedges":0,"unwinds":0,'
    '"rejections":0,"last_settle_ts":null}'
)
FS_FRESH = (
    '{"side":"flat","below_exit_since":null,"entered_at":null,"last_action_ts":null,'
    '"last_action":"","entries":0,"exits":0,"rebalances":0,"fills":0,"funding_earned":0,'
    '"fees_paid":0}'
)
DN_CONFIG = (
    '{"market":"SOL-PERP","sub_account_id":0,"entry_apr":0.05,"exit_apr":0.0,'
    '"exit_window_hours":24,"lookback_hours":24,"target_leverage":0.9,"rebalance_band":0.02,'
    '"min_health":20,"allow_borrow":false,"borrow_buffer_apr":0.0,"retry_after_s":300,'
    '"hedge_timeout_s":600,"settle_every_s":3600}'
)
FS_CONFIG = (
    '{"market":"SOL-PERP","other_market":"BTC-PERP","sub_account_id":0,"entry_apr":0.1,'
    '"exit_apr":0.02,"exit_window_hours":12,"lookback_hours":24,"target_leverage":0.5,'
    '"rebalance_band":0.05,"min_health":30,"retry_after_s":300}'
)
#: sha256 of json.dumps(model.model_json_schema()) (key order kept), before the move.
SCHEMA_SHA256 = {
    DeltaNeutralState: "590b3188bb1a9506463eca721c2359720bdc7c6d07ea363a5f31c1cfb1c41a52",
    FundingSpreadState: "72dcd3079dcc43b09463e0e109b6d36569e6591d77a8fa818fd09265a1f2c2fd",
    DeltaNeutralConfig: "1f4ca844049a60a8db12be2c4d26cc5841ffef3699a5fc50846e7af57adbfa3b",
    FundingSpreadConfig: "b55a89d8c17d24a82c258c07f101dd4e1fb01b9f5aa076e5b8cef8afb7f85019",
}


@pytest.mark.parametrize(
    ("strategy", "saved", "fresh", "config"),
    [
        (DeltaNeutralStrategy, DN_SAVED, DN_FRESH, DN_CONFIG),
        (FundingSpreadStrategy, FS_SAVED, FS_FRESH, FS_CONFIG),
    ],
    ids=["delta-neutral", "funding-spread"],
)
def test_state_and_config_json_unchanged(strategy, saved, fresh, config):
    s = strategy(strategy.config_model())
    assert s.dump_state() == fresh
    assert s.config.model_dump_json() == config
    s.load_state(saved)  # state saved by the code before the move loads ...
    assert s.dump_state() == saved  # ... and dumps to the same bytes
    s.load_state(json.loads(saved))
    assert s.state.model_dump_json() == saved


@pytest.mark.parametrize("model", list(SCHEMA_SHA256), ids=lambda m: m.__name__)
def test_json_schema_unchanged(model: type[BaseModel]):
    schema = json.dumps(model.model_json_schema())
    assert hashlib.sha256(schema.encode()).hexdigest() == SCHEMA_SHA256[model]


def test_each_state_keeps_its_own_sides():
    """`side` is narrowed per strategy, in place: the other strategy's sides are refused."""
    assert list(FundingSpreadState.model_fields)[0] == "side"
    with pytest.raises(ValidationError):
        DeltaNeutralState(side="short_a")
    with pytest.raises(ValidationError):
        FundingSpreadState(side="long_carry")
    st = FundingSpreadState()
    with pytest.raises(ValidationError):
        st.side = "long_carry"
