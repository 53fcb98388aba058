"""The live path: what a trading engine needs from a real Solana RPC and a real keypair.

`live.fees` prices a transaction (priority fee from recent fees, compute-unit limit from
simulation). The client (`core.client`), startup reconciliation (`live_start`) and the
venue (`venues.live`) use it; see docs/live.md and ADR 0021.
"""
