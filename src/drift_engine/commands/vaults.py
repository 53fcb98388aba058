"""`drift-engine vaults ...`: list, inspect, create and fund engine vaults.

Amounts are typed in USDC ("12.5") and converted exactly to micro-USDC; anything that
would need rounding is refused. Usage errors (a bad amount, a bad setting) exit with code
2, refused operations (unknown vault, overdraw, missing keypair) with code 1, each as one
line (commands/errors.py). `list` and `show` only read: they never create a database.
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
from drift_engine.storage import Database
from drift_engine.vaults import (
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
    """The live Drift path for ON_CHAIN moves. The live client (core.client) plugs in here;
    until it does, ON_CHAIN deposits, withdrawals and transfers are refused clearly."""
    return None


@contextmanager
def _registry(*, create: bool = True) -> Iterator[tuple[VaultRegistry, Settings]]:
    """The registry over the configured database; `create=False` for commands that only
    read (a missing database is then an error, not a new file)."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        usage(exc)
    db = Database.open(
        settings.resolved_database_url,
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


def _require_keypair(settings: Settings, vault: EngineVault, action: str) -> None:
    if vault.is_on_chain and settings.keypair_path is None:
        _fail(
            f"vault {vault.name!r} is ON_CHAIN: {action} needs a keypair "
            "(set DRIFT_ENGINE_KEYPAIR_PATH to a Solana keypair file)"
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
    ref = _vault_ref(vault)
    with _registry(create=False) as (registry, _settings):
        summary = _run(lambda: registry.summary(ref))
        recent = registry.ledger.entries(ref, limit=entries, newest_first=True)
    _out.print(_summary_table(summary))
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
    """Mark a vault as the one powering its engine now."""
    with _registry() as (registry, _settings):
        active = _run(lambda: registry.set_active(_vault_ref(vault)))
    _out.print(f"{active.name!r} now powers engine {active.engine_id!r} {ACTIVE_BADGE}")


@app.command("deposit", context_settings=_AMOUNT_COMMAND)
def deposit(vault: str = VaultArg, amount: str = AmountArg, key: str | None = KeyOption) -> None:
    """Add capital to a vault (paper: a DEPOSIT entry)."""
    micro = _amount(amount)
    with _registry() as (registry, settings):
        target = _run(lambda: registry.get(_vault_ref(vault)))
        _require_keypair(settings, target, "depositing")
        entry = _run(lambda: registry.deposit(target.id, micro, key=key))
        balance = registry.ledger.balance(target.id)
    _report(f"Deposited into {target.name!r}", entry, balance)


@app.command("withdraw", context_settings=_AMOUNT_COMMAND)
def withdraw(vault: str = VaultArg, amount: str = AmountArg, key: str | None = KeyOption) -> None:
    """Take capital out of a vault (paper: refused beyond its balance)."""
    micro = _amount(amount)
    with _registry() as (registry, settings):
        target = _run(lambda: registry.get(_vault_ref(vault)))
        _require_keypair(settings, target, "withdrawing")
        entry = _run(lambda: registry.withdraw(target.id, micro, key=key))
        balance = registry.ledger.balance(target.id)
    _report(f"Withdrew from {target.name!r}", entry, balance)


@app.command("transfer", context_settings=_AMOUNT_COMMAND)
def transfer(
    source: str = typer.Argument(..., help="Vault to take from (name or id)."),
    destination: str = typer.Argument(..., help="Vault to give to (name or id)."),
    amount: str = AmountArg,
    key: str | None = KeyOption,
) -> None:
    """Move capital between two vaults of the same type, atomically."""
    micro = _amount(amount)
    with _registry() as (registry, settings):
        src = _run(lambda: registry.get(_vault_ref(source)))
        dst = _run(lambda: registry.get(_vault_ref(destination)))
        _require_keypair(settings, src, "transferring")
        moved = _run(lambda: registry.transfer(src.id, dst.id, micro, key=key))
    _out.print(
        f"Transferred {format_usdc(moved.amount)} USDC from {src.name!r} to {dst.name!r} "
        f"(key {moved.in_entry.key})"
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
