"""The live path: one home for what a trading engine needs from a real Solana RPC and a
real keypair (ADR 0021).

* `client` — `DriftClient`: batched reads, sending (priority fee, compute units,
  re-broadcast until confirmed or expired), confirmation, history, resolution of
  unknown outcomes.
* `fees` — what a transaction pays (pure).
* `reads` — many sub-accounts in one batched read.
* `markets` — the market catalog from the chain's accounts.
* `runner` — `LiveRunner`: one lane per engine; the heartbeat never blocks.
* `start` — startup reconciliation (docs/reconciliation.md) and engine assembly.
* `cursor` — the persisted history cursor.
* `capital` — ON_CHAIN vault moves on chain.

The engine's `Venue` over a client is `venues.live.LiveVenue`; the local chain it is
tested against, with its JSON-RPC server, is `drift_engine.localnet`. The old module
names (`core.client`, `live_start`, `sim.rpc`) stay importable as aliases.
"""
