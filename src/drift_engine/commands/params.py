"""Typed command-line values: each option's bounds declared once, as a pydantic type.

typer's `parser=` hook runs one of these on the raw text; pydantic does the checking
(finite, in range, exact decimals), and a failure is a `typer.BadParameter`, so click
reports it as a usage error naming the option (exit code 2) before the command body
runs, and so before anything is created or written. `nan` and `inf` are never numbers
here: click's own `FloatRange` lets `nan` through (every comparison with it is false).

Ports: 1..65535, and 0 where a server may bind "any free port" and print it (the
dashboard, the demo and the local RPC; tests use that to avoid racing for a port).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any

import typer
from pydantic import Field, TypeAdapter, ValidationError

#: More than a century of data time; anything larger is a typo.
MAX_HOURS = 24 * 365 * 100
#: Simulated seconds per wall second: 1e9 already replays a year in a fraction of a second.
MAX_SPEED = 1e12
#: `data synth --days`: ten years of minute ticks per market is already ~5M rows.
MAX_SYNTH_DAYS = 3660
#: `localnet --usdc` per funded wallet: more USDC than exists is a typo.
MAX_FUND_USDC = 10**12
#: `localnet --latency-ms`: a minute per response is already a dead RPC.
MAX_LATENCY_MS = 60_000
#: A seed numpy's SeedSequence and the config file both accept.
MAX_SEED = 2**63 - 1


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    return first["msg"].removeprefix("Value error, ")


def pydantic_parser(annotation: Any, name: str) -> Callable[[Any], Any]:
    """A typer `parser=` that validates the option's text as `annotation` (pydantic)."""
    adapter: TypeAdapter[Any] = TypeAdapter(annotation)

    def parse(value: Any) -> Any:
        if not isinstance(value, str):  # a default, already typed
            return value
        try:
            return adapter.validate_strings(value.strip())
        except ValidationError as exc:
            raise typer.BadParameter(f"{_first_error(exc)}, got {value!r}") from None

    parse.__name__ = name
    return parse


PositiveHours = Annotated[float, Field(gt=0, le=MAX_HOURS, allow_inf_nan=False)]
PositiveSpeed = Annotated[float, Field(gt=0, le=MAX_SPEED, allow_inf_nan=False)]
UsdcAmount = Annotated[Decimal, Field(gt=0, allow_inf_nan=False, decimal_places=6)]

_parse_usdc_decimal = pydantic_parser(UsdcAmount, "usdc")


def parse_usdc(value: Any) -> Any:
    """A USDC amount (`10000`, `10,000`, `1,000.50`): thousands separators accepted in
    whole groups of three, then checked as `UsdcAmount`."""
    if not isinstance(value, str):
        return value
    from drift_engine.vaults.errors import InvalidAmountError
    from drift_engine.vaults.money import without_thousands

    try:
        plain = without_thousands(value)
    except InvalidAmountError as exc:
        raise typer.BadParameter(str(exc).removeprefix("amount: ")) from None
    return _parse_usdc_decimal(plain)


parse_hours = pydantic_parser(PositiveHours, "hours")
parse_speed = pydantic_parser(PositiveSpeed, "speed")


def port_option(default: int | None, *, help: str, any_port: bool = True) -> Any:
    """`--port`: 1..65535 (0: any free port, printed, when `any_port`)."""
    return typer.Option(
        default, "--port", min=0 if any_port else 1, max=65535, metavar="PORT", help=help
    )


def seed_option(default: int | None, *, help: str) -> Any:
    return typer.Option(default, "--seed", min=0, max=MAX_SEED, metavar="SEED", help=help)


__all__ = [
    "MAX_FUND_USDC",
    "MAX_HOURS",
    "MAX_LATENCY_MS",
    "MAX_SEED",
    "MAX_SPEED",
    "MAX_SYNTH_DAYS",
    "PositiveHours",
    "PositiveSpeed",
    "UsdcAmount",
    "parse_hours",
    "parse_speed",
    "parse_usdc",
    "port_option",
    "pydantic_parser",
    "seed_option",
]
