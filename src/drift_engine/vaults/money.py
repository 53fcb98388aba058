"""USDC amounts: exact conversion between decimal text and micro-USDC integers.

The ledger counts micro-USDC (Drift's QUOTE precision, 1e6) as integers. Text from users
is parsed with Decimal and must convert exactly: more than 6 decimals is an error, never
a rounding, so what the user typed is what gets booked.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from drift_engine.vaults.errors import InvalidAmountError

MICRO_PER_USDC = 1_000_000
USDC_DECIMALS = 6
MAX_AMOUNT = 2**63 - 1  # the BigInteger column's range


_GROUPED = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")


def without_thousands(text: str, field: str = "amount") -> str:
    """`"1,000.50"` -> `"1000.50"`: commas are accepted only as thousands separators in
    whole groups of three; any other comma (a decimal comma, `1,00`) is refused rather
    than guessed."""
    text = text.strip()
    if "," not in text:
        return text
    if _GROUPED.match(text):
        return text.replace(",", "")
    raise InvalidAmountError(
        field,
        f"{text!r}: a comma may only separate thousands (1,000 or 1,000.50); decimals take a point",
    )


def parse_usdc(text: str | Decimal, *, field: str = "amount") -> int:
    """`"12.5"` -> 12_500_000, `"1,000"` -> 1_000_000_000. Rejects non-numbers,
    infinities, > 6 decimals and commas that are not thousands separators."""
    try:
        value = text if isinstance(text, Decimal) else Decimal(without_thousands(str(text), field))
    except InvalidOperation:
        raise InvalidAmountError(field, f"{text!r} is not a decimal number") from None
    if not value.is_finite():
        raise InvalidAmountError(field, f"{text!r} is not a finite number")
    micro = value.scaleb(USDC_DECIMALS)
    if micro != micro.to_integral_value():
        raise InvalidAmountError(field, f"{text!r} has more than {USDC_DECIMALS} decimals")
    result = int(micro)
    check_amount(result, field=field, allow_negative=True, allow_zero=True)
    return result


def parse_positive_usdc(text: str | Decimal, *, field: str = "amount") -> int:
    """Like `parse_usdc`, for amounts that must be greater than zero (deposits, transfers)."""
    micro = parse_usdc(text, field=field)
    if micro <= 0:
        raise InvalidAmountError(field, f"must be greater than 0, got {text!r}")
    return micro


def check_amount(
    value: object, *, field: str = "amount", allow_negative: bool = False, allow_zero: bool = False
) -> int:
    """`value` as a micro-USDC int in the column's range; bools, floats, Decimals rejected."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidAmountError(field, f"must be an integer of micro-USDC, got {value!r}")
    if abs(value) > MAX_AMOUNT:
        raise InvalidAmountError(field, f"{value} is out of range")
    if value == 0 and not allow_zero:
        raise InvalidAmountError(field, "must not be zero")
    if value < 0 and not allow_negative:
        raise InvalidAmountError(field, f"must be positive, got {value}")
    return value


def format_usdc(micro: int) -> str:
    """12_500_000 -> "12.500000" (exact, always 6 decimals)."""
    sign = "-" if micro < 0 else ""
    whole, frac = divmod(abs(micro), MICRO_PER_USDC)
    return f"{sign}{whole:,}.{frac:06d}"
