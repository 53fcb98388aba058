"""`drift-engine localnet`: a local Drift-compatible JSON-RPC server for live-mode testing.

Serves the simulator (SOL, BTC, ETH perp and spot markets and USDC, at the bundled
reference prices) on 127.0.0.1 until Ctrl-C. Point a live engine or driftpy at the
printed URL. `--fund PUBKEY` gives a wallet SOL for fees and USDC in its associated
token account; the fault flags make every n-th request fail the way real RPCs do. Every
argument is checked (bounds, public keys) before the chain is seeded.
"""

from __future__ import annotations

import contextlib

import typer
from solders.pubkey import Pubkey

from drift_engine.commands.errors import fail
from drift_engine.commands.params import MAX_FUND_USDC, MAX_LATENCY_MS, port_option
from drift_engine.localnet.faults import FaultPlan
from drift_engine.localnet.seed import bundled_prices, seeded_chain

LAMPORTS_PER_SOL = 1_000_000_000
#: "Every n-th request" fault flags: 0 is off; beyond a million they never fire.
MAX_EVERY = 1_000_000
#: The congestion floor's bound (micro-lamports per compute unit; mainnet's busiest
#: hours see fees of the order of 10^6).
MAX_CONGESTION_FEE = 10**9


def _every(name: str, help: str) -> object:
    return typer.Option(0, name, min=0, max=MAX_EVERY, help=f"{help} (0: never).")


def localnet(
    port: int = port_option(8899, help="TCP port (0: any free port, printed)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind (keep it local)."),
    fund: list[str] = typer.Option(
        [], "--fund", help="Wallet public key to fund with SOL and USDC (repeatable)."
    ),
    usdc: int = typer.Option(
        100_000, "--usdc", min=0, max=MAX_FUND_USDC, help="USDC per funded wallet."
    ),
    latency_ms: int = typer.Option(
        0, "--latency-ms", min=0, max=MAX_LATENCY_MS, help="Delay every response (ms)."
    ),
    http_429_every: int = _every("--429-every", "Every n-th request: HTTP 429"),
    drop_every: int = _every(
        "--drop-every", "Every n-th request is processed but its response is dropped"
    ),
    expire_every: int = _every(
        "--expire-every", "Every n-th sendTransaction finds its blockhash expired"
    ),
    lose_confirmation_every: int = _every(
        "--lose-confirmation-every",
        "Every n-th sendTransaction lands but never shows in getSignatureStatuses",
    ),
    congestion: int = typer.Option(
        0,
        "--congestion",
        min=0,
        max=MAX_CONGESTION_FEE,
        help="Drop transactions paying less than this priority fee (micro-lamports/CU; "
        "0: no congestion).",
    ),
    no_auctions: bool = typer.Option(
        False, "--no-auctions", help="Taker orders fill inside the placing transaction."
    ),
    auto_settle: bool = typer.Option(
        False, "--auto-settle", help="Settle PnL and funding by themselves (not mainnet)."
    ),
    no_fees: bool = typer.Option(False, "--no-fees", help="Charge no fees and no rent."),
    no_compute_limits: bool = typer.Option(
        False, "--no-compute-limits", help="Do not enforce compute-unit limits."
    ),
    any_sub_account: bool = typer.Option(
        False, "--any-sub-account", help="Allow sub-account ids out of sequence."
    ),
    no_account_checks: bool = typer.Option(
        False, "--no-account-checks", help="Do not check the markets and oracles passed."
    ),
) -> None:
    """Serve a local Drift-compatible Solana JSON-RPC until Ctrl-C.

    The chain is as unkind as mainnet by default (slots every 400 ms of wall time,
    auctions filled by a built-in keeper, commitment levels, fees, rent, compute limits,
    account checks, no automatic settlement); each flag switches one behaviour off."""
    from drift_engine.localnet.clock import WallChainClock
    from drift_engine.localnet.config import LocalnetConfig
    from drift_engine.localnet.rpc import LocalRpcServer

    wallets = []
    for key in fund:
        try:
            wallets.append(Pubkey.from_string(key))
        except ValueError:
            raise typer.BadParameter(
                f"{key!r} is not a base58 public key", param_hint="--fund"
            ) from None
    config = LocalnetConfig(
        auctions=not no_auctions,
        settle_automatically=auto_settle,
        fees=not no_fees,
        compute_limits=not no_compute_limits,
        sequential_sub_accounts=not any_sub_account,
        check_accounts=not no_account_checks,
    )
    clock = WallChainClock()
    seeded = seeded_chain(ts=clock.now(), clock=clock, config=config)
    faults = FaultPlan(latency_s=latency_ms / 1000)
    if congestion:
        faults.congest(congestion)
    for kind, n in (
        ("http_429", http_429_every),
        ("drop_response", drop_every),
        ("expired_blockhash", expire_every),
        ("lost_confirmation", lose_confirmation_every),
    ):
        if n:
            faults.every(kind, n)
    usdc_mint = seeded.sim.spot_markets[0].mint
    for wallet in wallets:
        seeded.chain.airdrop(wallet, 10 * LAMPORTS_PER_SOL)
        ata = seeded.chain.mint_to(wallet, usdc_mint, usdc * 1_000_000)
        typer.echo(f"funded {wallet}: 10 SOL, {usdc} USDC in {ata}")
    try:
        server = LocalRpcServer(seeded.chain, host=host, port=port, faults=faults)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}", "--port")
    prices = ", ".join(f"{s} ${p / 1_000_000:,.2f}" for s, p in sorted(bundled_prices().items()))
    typer.echo(f"drift-engine localnet: {server.url}  (markets: {prices})")
    typer.echo("Ctrl-C to stop.")
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    typer.echo("localnet stopped.")
