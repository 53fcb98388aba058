"""`drift-engine account create|list`: the Drift sub-accounts of the keypair's wallet.

`create` initializes the next sub-account on chain (Drift creates sub-account ids in
sequence: 0, 1, 2, ...; the program refuses any other with `InvalidUserSubAccountId`,
so a wrong `--sub-account` is refused here first, naming the next id), optionally
deposits USDC into it from the wallet, and prints its address. `list` reads every
sub-account of a wallet in batched reads and shows its USDC, positions and open orders.

The RPC and keypair come from the settings (DRIFT_ENGINE_RPC_URL,
DRIFT_ENGINE_KEYPAIR_PATH, DRIFT_ENGINE_NETWORK); errors are one line (commands/errors.py).
"""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from drift_engine.commands.errors import fail, usage
from drift_engine.config import ConfigError, Settings, load_settings

app = typer.Typer(
    name="account",
    help="Drift sub-accounts of the keypair's wallet: create, list.",
    no_args_is_help=True,
)
_out = Console()


def _settings(*, keypair: bool) -> Settings:
    try:
        settings = load_settings()
    except ConfigError as exc:
        usage(exc)
    if settings.rpc_url is None:
        usage("no RPC configured (set DRIFT_ENGINE_RPC_URL)", "DRIFT_ENGINE_RPC_URL")
    if keypair and settings.keypair_path is None:
        usage(
            "creating a sub-account needs a keypair (set DRIFT_ENGINE_KEYPAIR_PATH)",
            "DRIFT_ENGINE_KEYPAIR_PATH",
        )
    return settings


def _client(settings: Settings, sub_account_id: int = 0, authority: str | None = None) -> Any:
    from drift_engine.live.client import DriftClient, DriftClientConfig, DriftClientError

    config = DriftClientConfig(
        rpc_url=str(settings.rpc_url),
        sub_account_id=sub_account_id,
        env="devnet" if settings.network == "devnet" else "mainnet",
    )
    try:
        if authority is not None:
            return DriftClient.read_only(config, authority)
        return DriftClient.from_keypair_file(config, str(settings.keypair_path))
    except DriftClientError as exc:
        fail(exc, "DRIFT_ENGINE_KEYPAIR_PATH")
    except ValueError:
        usage(f"{authority!r} is not a base58 pubkey", "--authority")


@app.command("create")
def create(
    sub_account: int | None = typer.Option(
        None, "--sub-account", min=0, max=65535, help="Sub-account id (default: the next one)."
    ),
    deposit: str | None = typer.Option(
        None, "--deposit", help="USDC to deposit from the wallet, e.g. 250 or 12.5."
    ),
    name: str | None = typer.Option(None, "--name", help="Account name (max 32 bytes)."),
) -> None:
    """Create the wallet's next Drift sub-account (and fund it with --deposit)."""
    from drift_engine.live.client import DriftClientError
    from drift_engine.vaults import format_usdc, parse_positive_usdc
    from drift_engine.vaults.errors import InvalidAmountError

    amount = None
    if deposit is not None:
        try:
            amount = parse_positive_usdc(deposit)
        except InvalidAmountError as exc:
            usage(str(exc).removeprefix("amount: "), "--deposit")
    if name is not None and len(name.encode()) > 32:
        usage("at most 32 bytes", "--name")
    settings = _settings(keypair=True)
    probe = _client(settings)
    try:
        stats = probe.run(_connect_and(probe, probe.read_user_stats()))
        next_id = 0 if stats is None else stats.number_of_sub_accounts_created
        sub = next_id if sub_account is None else sub_account
        if sub != next_id:
            fail(
                f"Drift creates sub-accounts in sequence: the next id of "
                f"{probe.authority} is {next_id}, not {sub}",
                "--sub-account",
            )
    except DriftClientError as exc:
        fail(f"cannot read the wallet's accounts: {exc}", "DRIFT_ENGINE_RPC_URL")
    finally:
        probe.close_blocking()
    client = _client(settings, sub)
    try:
        client.run(client.connect())
        outcome = client.run(client.initialize_user(name))
        _out.print(
            f"Created sub-account {sub} of {client.authority}: {client.user_pubkey} "
            f"(transaction {outcome.signature or outcome.signatures[0]})"
        )
        if amount is not None:
            dep = client.run(client.deposit(amount, 0))
            _out.print(
                f"Deposited {format_usdc(amount)} USDC "
                f"(transaction {dep.signature or dep.signatures[0]})"
            )
    except DriftClientError as exc:
        fail(f"account create failed: {exc}")
    finally:
        client.close_blocking()


async def _connect_and(client: Any, coro: Any) -> Any:
    await client.connect()
    return await coro


@app.command("list")
def list_accounts(
    authority: str | None = typer.Option(
        None, "--authority", help="Wallet pubkey (default: the keypair's)."
    ),
) -> None:
    """The wallet's sub-accounts: address, USDC, perp positions, open orders."""
    from drift_engine.core.types import open_orders_from_user
    from drift_engine.live.client import DriftClientError
    from drift_engine.vaults import format_usdc

    settings = _settings(keypair=authority is None)
    client = _client(settings, 0, authority)
    try:
        client.run(client.connect())
        stats = client.run(client.read_user_stats())
        count = 0 if stats is None else stats.number_of_sub_accounts_created
        _slot, users = client.run(client.read_sub_accounts(list(range(count))))
        state = client.last_state
    except DriftClientError as exc:
        fail(f"cannot read the wallet's accounts: {exc}", "DRIFT_ENGINE_RPC_URL")
    finally:
        client.close_blocking()
    table = Table(title=f"Drift sub-accounts of {client.authority}")
    for col in ("id", "name", "address", "USDC", "perp positions", "open orders"):
        table.add_column(col)
    from driftpy.addresses import get_user_account_public_key

    from drift_engine.core.program import program_id

    for sub, user in users.items():
        if user is None:
            continue  # deleted
        usdc = _usdc_of(user, state)
        perps = sum(1 for p in user.perp_positions if p.base_asset_amount != 0)
        table.add_row(
            str(sub),
            bytes(user.name).decode(errors="replace").rstrip(" \x00"),
            str(get_user_account_public_key(program_id(), client.authority, sub)),
            format_usdc(usdc),
            str(perps),
            str(len(open_orders_from_user(user))),
        )
    if not table.row_count:
        _out.print(f"{client.authority} has no Drift sub-account (drift-engine account create)")
        return
    _out.print(table)


def _usdc_of(user: Any, state: Any) -> int:
    """The USDC token amount of a sub-account (negative: a borrow), driftpy's math."""
    from driftpy.math.spot_balance import get_token_amount

    market = None if state is None else state.spot_markets.get(0)
    for sp in user.spot_positions:
        if sp.market_index == 0 and sp.scaled_balance != 0 and market is not None:
            amount = get_token_amount(sp.scaled_balance, market, sp.balance_type)
            return amount if type(sp.balance_type).__name__ == "Deposit" else -amount
    return 0


__all__ = ["app"]
