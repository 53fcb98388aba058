"""`drift-engine vaults ...`: list, inspect, create and fund engine vaults.

Amounts are typed in USDC ("12.5") and converted exactly to micro-USDC; anything that
would need rounding is refused. Usage errors (a bad amount, a bad setting) exit with code
2, refused operations (unknown vault, overdraw, missing keypair) with code 1, each as one
line (commands/errors.py). `list` and `show` only read: they never create a database.

A VIRTUAL vault that powers a paper engine mirrors the engine's simulated sub-account, so
a deposit, withdrawal or transfer on it is not booked here: it is queued for the engine's
runner (`engine.commands`), which applies it to the sub-account at a tick boundary and
books it in the same transaction (`engine.capital`), or refuses it (e.g. a withdrawal the
sub-account could only pay by borrowing). When a runner holds the engine, the command
waits up to `--wait` seconds for the outcome; otherwise the next `drift-engine run`
applies it. `vaults show` lists the moves still waiting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from drift_engine.commands.errors import fail, usage
from drift_engine.config import ConfigError, Settings, load_settings
from drift_engine.settings_quick import demo_database_url
from drift_engine.storage import Database
from drift_engine.vaults import (
    EngineBoundVaultError,
    EngineVault,
    LedgerEntry,
    LiveTransfers,
    VaultError,
    VaultRef,
    VaultRegistry,
    VaultSummary,
    VaultType,
    format_usdc,
    parse_positive_usdc,
)
from drift_engine.vaults.errors import InvalidAmountError

T = TypeVar("T")

app = typer.Typer(
    name="vaults",
    help="Engine vaults: paper (VIRTUAL) and Drift sub-account (ON_CHAIN) capital.",
    no_args_is_help=True,
)

ACTIVE_BADGE = "⚡ ACTIVE"
# Lets "-5" reach the amount check (and its clear message) instead of being an option.
_AMOUNT_COMMAND = {"ignore_unknown_options": True}

_out = Console()


def live_transfers(settings: Settings) -> LiveTransfers | None:
    """The live Drift path for ON_CHAIN moves (`live.capital`): with a keypair and an RPC
    (DRIFT_ENGINE_KEYPAIR_PATH, DRIFT_ENGINE_RPC_URL) moves land on chain and are booked
    from the confirmed transaction; without them they are refused clearly."""
    if settings.keypair_path is None or settings.rpc_url is None:
        return None
    from drift_engine.live.capital import chain_transfers

    return chain_transfers(settings.rpc_url, settings.keypair_path, env=settings.network)


_options: dict[str, str | None] = {"database_url": None}


@app.callback()
def _main(
    database_url: str | None = typer.Option(
        None,
        "--database-url",
        metavar="URL",
        help="SQLAlchemy URL (default: from the environment; the demo uses <data_dir>/demo.db).",
    ),
    demo: bool = typer.Option(False, "--demo", help="The vaults of `drift-engine demo`."),
) -> None:
    if demo and database_url is not None:
        usage("--demo and --database-url name two databases; give one", "--demo")
    if demo:
        try:
            database_url = demo_database_url(load_settings().data_dir)
        except ConfigError as exc:
            usage(exc)
    _options["database_url"] = database_url


@contextmanager
def _registry(*, create: bool = True) -> Iterator[tuple[VaultRegistry, Settings]]:
    """The registry over the configured database; `create=False` for commands that only
    read (a missing database is then an error, not a new file)."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        usage(exc)
    db = Database.open(
        _options["database_url"] or settings.resolved_database_url,
        busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        create=create,
    )
    try:
        yield VaultRegistry(db, live=live_transfers(settings)), settings
    finally:
        db.dispose()


def _fail(message: str, code: int = 1) -> NoReturn:
    fail(message, code=code)


def _run(action: Callable[[], T]) -> T:
    """Run a vault operation; its refusals become a one-line error and exit code 1."""
    try:
        return action()
    except EngineBoundVaultError:
        raise  # the caller queues the move for the engine's runner
    except VaultError as exc:
        _fail(str(exc))


def _vault_ref(text: str) -> VaultRef:
    """A vault id ("3") or name ("carry-paper"); names are never all digits. An id no
    database column can hold stays text, so it is simply not found."""
    return int(text) if text.isascii() and text.isdigit() and int(text) < 2**63 else text


def _amount(text: str) -> int:
    try:
        return parse_positive_usdc(text)
    except InvalidAmountError as exc:
        raise typer.BadParameter(str(exc).removeprefix("amount: "), param_hint="AMOUNT") from None


def _require_keypair(
    settings: Settings, vault: EngineVault, action: str, db: Database | None = None
) -> None:
    if vault.is_on_chain and settings.keypair_path is None:
        _fail(
            f"vault {vault.name!r} is ON_CHAIN: {action} needs a keypair "
            "(set DRIFT_ENGINE_KEYPAIR_PATH to a Solana keypair file)"
        )
    if vault.is_on_chain and settings.rpc_url is None:
        _fail(
            f"vault {vault.name!r} is ON_CHAIN: {action} needs an RPC "
            "(set DRIFT_ENGINE_RPC_URL, e.g. https://api.devnet.solana.com)"
        )
    if vault.is_on_chain and vault.network != settings.network:
        _fail(
            f"vault {vault.name!r} is on {vault.network}; the RPC is configured for "
            f"{settings.network} (set DRIFT_ENGINE_NETWORK={vault.network})"
        )
    if vault.is_on_chain and db is not None:
        _refuse_while_a_runner_holds(db, vault)


def _refuse_while_a_runner_holds(db: Database, vault: EngineVault) -> None:
    """An ON_CHAIN vault whose live engine is running: its vault sync reconciles the
    sub-account while the move lands, and could book it a second time as a sync
    adjustment. Moves wait until the engine's runner is stopped."""
    from drift_engine.engine.lease import engine_lease, live_holder

    holder = live_holder(db, engine_lease(vault.engine_id))
    if holder is not None:
        _fail(
            f"vault {vault.name!r} powers live engine {vault.engine_id!r}, held by "
            f"{holder.holder.describe()}: stop its runner before moving capital on chain"
        )


VaultArg = typer.Argument(..., help="Vault name or id.", show_default=False)
AmountArg = typer.Argument(..., help="Amount in USDC, e.g. 250 or 12.5 (max 6 decimals).")
KeyOption = typer.Option(
    None, "--key", help="Idempotency key: repeating the command with it books nothing new."
)


@app.command("list")
def list_vaults(
    engine: str | None = typer.Option(None, "--engine", help="Only this engine's vaults."),
) -> None:
    """List vaults with their derived balance and equity."""
    with _registry(create=False) as (registry, _settings):
        summaries = registry.summaries(engine_id=engine)
    table = Table(title="Engine vaults")
    table.add_column("ID")
    table.add_column("Name", no_wrap=True)
    for column in ("Engine", "Type", "Status"):
        table.add_column(column, overflow="fold")
    for column in ("Balance USDC", "Equity USDC"):
        table.add_column(column, justify="right", no_wrap=True)
    for s in summaries:
        v = s.vault
        table.add_row(
            str(v.id),
            f"{v.name} {ACTIVE_BADGE}" if v.is_active else v.name,
            v.engine_id,
            v.vault_type.name,
            v.status.value,
            format_usdc(s.balance),
            format_usdc(s.equity),
        )
    _out.print(table)


@app.command("show")
def show(
    vault: str = VaultArg,
    entries: int = typer.Option(
        20, "--entries", min=0, max=10_000, help="How many recent entries to show."
    ),
) -> None:
    """Show one vault: identity, derived money figures and recent ledger entries."""
    from drift_engine.engine.commands import CommandQueue

    ref = _vault_ref(vault)
    with _registry(create=False) as (registry, _settings):
        summary = _run(lambda: registry.summary(ref))
        recent = registry.ledger.entries(ref, limit=entries, newest_first=True)
        waiting = CommandQueue(registry.db).pending_capital(summary.vault.name)
    _out.print(_summary_table(summary))
    for c in waiting:
        _out.print(f"waiting for engine {c.engine_id!r}'s runner: #{c.id} {c.describe()}")
    _out.print(_entries_table(summary.vault, recent))


@app.command("create")
def create(
    name: str = typer.Argument(..., help="Unique vault name (letters, digits, _ . -)."),
    engine: str = typer.Option(..., "--engine", help="Engine this vault belongs to."),
    vault_type: VaultType = typer.Option(VaultType.VIRTUAL, "--type", help="Paper or on-chain."),
    network: str | None = typer.Option(
        None, "--network", help="ON_CHAIN: mainnet, devnet or localnet."
    ),
    authority: str | None = typer.Option(None, "--authority", help="ON_CHAIN: wallet pubkey."),
    sub_account: int | None = typer.Option(
        None, "--sub-account", min=0, max=65535, help="ON_CHAIN: sub-account id (0-65535)."
    ),
    activate: bool = typer.Option(False, "--activate", help="Make it the engine's active vault."),
) -> None:
    """Create a vault for an engine."""
    if vault_type is VaultType.ON_CHAIN:
        missing = [
            flag
            for flag, value in (
                ("--network", network),
                ("--authority", authority),
                ("--sub-account", sub_account),
            )
            if value is None
        ]
        if missing:
            usage(
                "an ON_CHAIN vault is a Drift sub-account: give "
                + ", ".join(missing)
                + " (network: mainnet, devnet or localnet; authority: the wallet's pubkey; "
                "sub-account: 0-65535)",
                missing[0],
            )
    with _registry() as (registry, _settings):
        created = _run(
            lambda: registry.create_vault(
                name,
                engine,
                vault_type=vault_type,
                network=network,
                authority=authority,
                sub_account_id=sub_account,
                active=activate,
            )
        )
    badge = f" {ACTIVE_BADGE}" if created.is_active else ""
    _out.print(f"Created {created.vault_type.name} vault {created.name!r} (id {created.id}){badge}")


@app.command("activate")
def activate(vault: str = VaultArg) -> None:
    """Mark a vault as the one powering its engine. Refused when the engine already books
    into another vault: the ⚡ ACTIVE badge, `engines list` and the bookings must name the
    same vault (the engine's config picks its vault; capital moves with `transfer`)."""
    with _registry() as (registry, _settings):
        target = _run(lambda: registry.get(_vault_ref(vault)))
        refusal = _activation_refusal(registry, target)
        if refusal is not None:
            _fail(refusal)
        active = _run(lambda: registry.set_active(target.id))
    _out.print(f"{active.name!r} now powers engine {active.engine_id!r} {ACTIVE_BADGE}")


def _activation_refusal(registry: VaultRegistry, target: EngineVault) -> str | None:
    """Why `target` cannot become its engine's active vault: the engine has run and books
    into another vault (its record), so the badge would name a vault nothing books into."""
    from sqlalchemy import select

    from drift_engine.storage.models import EngineRow, VaultRow

    with registry.db.read() as s:
        row = s.get(EngineRow, target.engine_id)
        if row is None:
            return None  # no engine has run with these vaults yet
        booking = next(
            (
                v
                for v in s.scalars(select(VaultRow).where(VaultRow.engine_id == target.engine_id))
                if row.vault_id in (str(v.id), v.name)
            ),
            None,
        )
    if booking is None or booking.id == target.id:
        return None
    here = registry.summary(booking.id)
    there = registry.summary(target.id)
    empty = " (it is empty)" if there.equity == 0 else f" ({format_usdc(there.equity)} USDC)"
    return (
        f"vault {target.name!r}{empty} cannot power engine {target.engine_id!r}: the engine "
        f"({row.state.upper()}) books into {booking.name!r} ({format_usdc(here.equity)} USDC "
        "equity, its positions and cash). An engine's vault is set by its config (`vault = "
        f'"{target.name}"` in its [[engines]] entry, used from the next `drift-engine run` '
        f"with the engine stopped and flat); move capital with `drift-engine vaults transfer "
        f"{booking.name} {target.name} AMOUNT`"
    )


WaitOption = typer.Option(
    30.0,
    "--wait",
    min=0,
    help="For a vault powering a paper engine: seconds to wait for its runner to apply the "
    "move (0: just queue it).",
)


@app.command("deposit", context_settings=_AMOUNT_COMMAND)
def deposit(
    vault: str = VaultArg,
    amount: str = AmountArg,
    key: str | None = KeyOption,
    wait: float = WaitOption,
) -> None:
    """Add capital to a vault (paper: a DEPOSIT entry; a paper engine's vault: into its
    simulated sub-account, by the engine's runner)."""
    micro = _amount(amount)
    with _registry() as (registry, settings):
        target = _run(lambda: registry.get(_vault_ref(vault)))
        _require_keypair(settings, target, "depositing", registry.db)
        try:
            entry = _run(lambda: registry.deposit(target.id, micro, key=key))
        except EngineBoundVaultError as exc:
            _queue_move(registry, exc.engine_id, "deposit", micro, target.name, None, key, wait)
            return
        _after_chain_move(registry, target)
        balance = registry.ledger.balance(target.id)
    _report(f"Deposited into {target.name!r}", entry, balance)


@app.command("withdraw", context_settings=_AMOUNT_COMMAND)
def withdraw(
    vault: str = VaultArg,
    amount: str = AmountArg,
    key: str | None = KeyOption,
    wait: float = WaitOption,
) -> None:
    """Take capital out of a vault (paper: refused beyond its balance; a paper engine's
    vault: refused beyond what its sub-account can pay without borrowing)."""
    micro = _amount(amount)
    with _registry() as (registry, settings):
        target = _run(lambda: registry.get(_vault_ref(vault)))
        _require_keypair(settings, target, "withdrawing", registry.db)
        try:
            entry = _run(lambda: registry.withdraw(target.id, micro, key=key))
        except EngineBoundVaultError as exc:
            _check_cash(registry, target.name, micro)
            _queue_move(registry, exc.engine_id, "withdraw", micro, target.name, None, key, wait)
            return
        _after_chain_move(registry, target)
        balance = registry.ledger.balance(target.id)
    _report(f"Withdrew from {target.name!r}", entry, balance)


@app.command("transfer", context_settings=_AMOUNT_COMMAND)
def transfer(
    source: str = typer.Argument(..., help="Vault to take from (name or id)."),
    destination: str = typer.Argument(..., help="Vault to give to (name or id)."),
    amount: str = AmountArg,
    key: str | None = KeyOption,
    wait: float = WaitOption,
) -> None:
    """Move capital between two vaults of the same type, atomically."""
    micro = _amount(amount)
    with _registry() as (registry, settings):
        src = _run(lambda: registry.get(_vault_ref(source)))
        dst = _run(lambda: registry.get(_vault_ref(destination)))
        _require_keypair(settings, src, "transferring", registry.db)
        try:
            moved = _run(lambda: registry.transfer(src.id, dst.id, micro, key=key))
        except EngineBoundVaultError:
            _check_cash(registry, src.name, micro)
            src_engine = registry.bound_engine(src.id)
            if src_engine is not None:
                _queue_move(
                    registry, src_engine, "transfer_out", micro, src.name, dst.name, key, wait
                )
            else:
                dst_engine = registry.bound_engine(dst.id)
                assert dst_engine is not None
                _queue_move(
                    registry, dst_engine, "transfer_in", micro, dst.name, src.name, key, wait
                )
            return
        _after_chain_move(registry, src, dst)
    _out.print(
        f"Transferred {format_usdc(moved.amount)} USDC from {src.name!r} to {dst.name!r} "
        f"(key {moved.in_entry.key})"
    )


def _after_chain_move(registry: VaultRegistry, *vaults: EngineVault) -> None:
    """After an ON_CHAIN move: reconcile the vaults with the chain (live.capital)."""
    on_chain = [v for v in vaults if v.is_on_chain]
    if not on_chain:
        return
    from drift_engine.live.capital import reconcile_vaults

    try:
        reconcile_vaults(registry, on_chain)
    except Exception as exc:  # noqa: BLE001 - the move is booked; the next sync catches up
        _out.print(f"[yellow]booked; reconciling with the chain failed[/] ({exc})")


def _check_cash(registry: VaultRegistry, vault: str, amount: int) -> None:
    """Refuse at once what the vault's ledger cannot pay (its runner would refuse too)."""
    balance = registry.ledger.balance(vault)
    if amount > balance:
        _fail(
            f"vault {vault!r} holds {format_usdc(balance)} USDC; "
            f"cannot take {format_usdc(amount)} USDC"
        )


def _queue_move(
    registry: VaultRegistry,
    engine_id: str,
    kind: str,
    amount: int,
    vault: str,
    counterparty: str | None,
    key: str | None,
    wait_s: float,
) -> None:
    """Queue a capital move for a paper engine's runner and report what became of it."""
    import time

    from drift_engine.engine.commands import CommandError, CommandQueue
    from drift_engine.engine.lease import engine_lease, live_holder

    queue = CommandQueue(registry.db)
    try:
        command = queue.enqueue(
            engine_id, kind, amount=amount, vault=vault, counterparty=counterparty, key=key
        )
    except CommandError as exc:
        _fail(str(exc))
    holder = live_holder(registry.db, engine_lease(engine_id))
    deadline = time.monotonic() + wait_s
    while command.status == "pending" and holder is not None and time.monotonic() < deadline:
        time.sleep(0.1)
        command = queue.get(command.id) or command
    what = command.describe()
    if command.status == "refused":
        _fail(f"{what} refused by engine {engine_id!r}: {command.result}")
    if command.status == "applied":
        balance = registry.ledger.balance(vault)
        _out.print(
            f"{what}: applied by engine {engine_id!r} ({command.result}; command "
            f"#{command.id}). Balance of {vault!r}: {format_usdc(balance)} USDC"
        )
        return
    if holder is None:
        _out.print(
            f"{what}: queued as command #{command.id} for paper engine {engine_id!r}, which "
            "no runner holds now; the next `drift-engine run` applies it at its first tick"
        )
    else:
        _out.print(
            f"{what}: queued as command #{command.id}; engine {engine_id!r}'s runner "
            f"({holder.holder.describe()}) has not applied it yet — see "
            f"`drift-engine engines commands {engine_id}`"
        )


def _report(what: str, entry: LedgerEntry, balance: int) -> None:
    _out.print(
        f"{what}: {format_usdc(abs(entry.amount))} USDC (entry #{entry.id}, key {entry.key}). "
        f"Balance: {format_usdc(balance)} USDC"
    )


def _summary_table(s: VaultSummary) -> Table:
    v = s.vault
    title = f"Vault {v.name!r}" + (f"  {ACTIVE_BADGE}" if v.is_active else "")
    table = Table(title=title, show_header=False)
    table.add_column("field")
    table.add_column("value", justify="right")
    rows: list[tuple[str, str]] = [
        ("id", str(v.id)),
        ("engine", v.engine_id),
        ("type", v.vault_type.name),
        ("status", v.status.value),
    ]
    if v.is_on_chain:
        rows += [
            ("network", str(v.network)),
            ("authority", str(v.authority)),
            ("sub-account", str(v.sub_account_id)),
        ]
    rows += [
        ("balance (USDC)", format_usdc(s.balance)),
        ("equity (USDC)", format_usdc(s.equity)),
        ("net deposits (USDC)", format_usdc(s.net_deposits)),
        ("realized PnL (USDC)", format_usdc(s.realized_pnl)),
        ("unrealized PnL (USDC)", format_usdc(s.unrealized_pnl)),
        ("funding earned (USDC)", format_usdc(s.funding_earned)),
        ("interest earned (USDC)", format_usdc(s.interest_earned)),
        ("fees paid (USDC)", format_usdc(s.fees_paid)),
        ("sync adjustments (USDC)", format_usdc(s.sync_adjustments)),
        ("health", "-" if s.health is None else str(s.health)),
        ("entries", str(s.entry_count)),
    ]
    for field, value in rows:
        table.add_row(field, value)
    return table


def _entries_table(vault: EngineVault, entries: list[LedgerEntry]) -> Table:
    table = Table(title=f"Recent entries of {vault.name!r} (net = amount - fee)")
    table.add_column("#")
    table.add_column("Occurred (UTC)", overflow="fold")
    table.add_column("Kind", no_wrap=True)
    for column in ("Amount", "Fee"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("Key", overflow="fold")
    for e in entries:
        table.add_row(
            str(e.id),
            e.occurred_at.strftime("%Y-%m-%d %H:%M:%S"),
            e.kind.name,
            format_usdc(e.amount),
            format_usdc(e.fee),
            e.key,
        )
    return table
