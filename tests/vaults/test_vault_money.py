from decimal import Decimal

import pytest

from drift_engine.vaults import InvalidAmountError, format_usdc, parse_positive_usdc, parse_usdc


@pytest.mark.parametrize(
    ("text", "micro"),
    [
        ("1", 1_000_000),
        ("12.5", 12_500_000),
        ("0.000001", 1),
        ("-3.25", -3_250_000),
        ("1e3", 1_000_000_000),
        ("  7.100000 ", 7_100_000),
        (Decimal("0.1"), 100_000),
        ("9223372036854.775807", 2**63 - 1),
    ],
)
def test_parse_usdc_is_exact(text: str, micro: int) -> None:
    assert parse_usdc(text) == micro


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1.0000001", "more than 6 decimals"),
        ("abc", "not a decimal number"),
        ("NaN", "not a finite number"),
        ("Infinity", "not a finite number"),
        ("9223372036854.775808", "out of range"),
    ],
)
def test_parse_usdc_rejects(text: str, message: str) -> None:
    with pytest.raises(InvalidAmountError, match=message) as info:
        parse_usdc(text)
    assert info.value.field == "amount"


@pytest.mark.parametrize("text", ["0", "-1", "0.000000", "-0.000001"])
def test_parse_positive_usdc_rejects_zero_and_negative(text: str) -> None:
    with pytest.raises(InvalidAmountError, match="greater than 0"):
        parse_positive_usdc(text)


def test_format_usdc_round_trips() -> None:
    assert format_usdc(12_500_000) == "12.500000"
    assert format_usdc(-1) == "-0.000001"
    assert format_usdc(1_234_567_000_001) == "1,234,567.000001"
    assert parse_usdc(format_usdc(-987_654_321).replace(",", "")) == -987_654_321
