"""Research at scale: parameter sweeps, Optuna studies and walk-forward tests of any
strategy, run on the local cores or on a Ray cluster, with honest statistics.

Modules: `space` (the parameters to try), `data` (market data loaded once),
`runs` (one backtest as a shippable job and its result), `pools` (local process pool,
in-process, Ray), `sweep` (grid and Optuna), `walkforward`, `stats` (objectives, spread,
deflated Sharpe ratio), `study` (Optuna's storage beside our database), `plots`.
Nothing here is imported by `drift-engine --help`.
"""
