"""A local, Drift-compatible Solana chain for testing the live path offline.

`chain.LocalChain` holds what a validator would: accounts (Drift's served from a
`DriftProgram` implementation, encoded with the IDL on every read), token accounts,
slots and blockhashes, signature statuses; it verifies and executes transactions.
`drift_engine.localnet.rpc` puts a JSON-RPC 2.0 server in front of it; `faults` injects
the failures a real RPC shows.
"""
