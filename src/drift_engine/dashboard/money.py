"""Money on the wire: integer micro-USDC plus its exact decimal string, never a float."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from pydantic import BaseModel, Field

MICRO = 1_000_000
_SIX_PLACES = Decimal("0.000001")


class Money(BaseModel):
    """An amount of USDC: `micro` is exact (1e-6 USDC units), `usdc` its decimal string."""

    micro: int = Field(description="Integer micro-USDC (QUOTE precision, 1e6).")
    usdc: str = Field(description="The same amount as an exact decimal string, 6 places.")


def to_micro(value: int | Decimal | str) -> int:
    """Micro-USDC from an int (already micro), or from a Decimal/str in USDC.

    Decimals with more than six places are rounded half-even (only derived values such as
    unrealized PnL may carry them; ledger entries are integers already).
    """
    if isinstance(value, bool):  # pragma: no cover - a programming error
        raise TypeError("bool is not money")
    if isinstance(value, int):
        return value
    if isinstance(value, float):  # pragma: no cover - guarded: floats never become money
        raise TypeError("floats are never money; pass micro-USDC ints or Decimal")
    dec = Decimal(value)
    return int((dec * MICRO).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def format_micro(micro: int) -> str:
    """`1234500000` -> `"1234.500000"`; exact, sign-aware."""
    sign = "-" if micro < 0 else ""
    whole, frac = divmod(abs(micro), MICRO)
    return f"{sign}{whole}.{frac:06d}"


def money(micro: int) -> Money:
    return Money(micro=micro, usdc=format_micro(micro))


def money_from_usdc(value: Decimal | str) -> Money:
    return money(to_micro(Decimal(value).quantize(_SIX_PLACES, rounding=ROUND_HALF_EVEN)))
