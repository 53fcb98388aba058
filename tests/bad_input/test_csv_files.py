"""Sweep, CSV files: `drift-engine data import` of a file that cannot be market data is
refused naming the file, line and column, and imports nothing (the store's files are
byte-for-byte what they were)."""

from __future__ import annotations

import pytest

from .conftest import Case, ids

OWN = "# drift-engine market-data v1; kind={kind}; market={market}; source=real\n"
ORACLE = OWN.format(kind="oracle", market="SOL-PERP") + "ts,price\n"
FUNDING_COLUMNS = (
    "ts,market_index,funding_rate,funding_rate_long,funding_rate_short,"
    "cumulative_funding_rate_long,cumulative_funding_rate_short,oracle_price_twap,"
    "mark_price_twap\n"
)
FUNDING = OWN.format(kind="funding", market="SOL-PERP") + FUNDING_COLUMNS
SPOT = (
    OWN.format(kind="spot_rate", market="USDC")
    + "ts,market_index,deposit_rate,borrow_rate,cumulative_deposit_interest,"
    "cumulative_borrow_interest\n"
)
CANDLE = OWN.format(kind="candle", market="SOL-PERP") + "ts,resolution,open,high,low,close,volume\n"
DRIFT_FUNDING = (
    "ts,marketIndex,fundingRate,fundingRateLong,fundingRateShort,cumulativeFundingRateLong,"
    "cumulativeFundingRateShort,oraclePriceTwap,markPriceTwap\n"
)
DRIFT_CANDLE = "start,oracleOpen,oracleHigh,oracleLow,oracleClose,baseVolume\n"
GOOD_FUNDING_ROW = "3600,0,1000,1000,1000,1000,1000,150000000,150000500\n"


def csv(case_id: str, text: str | bytes, *expect: str, name: str = "f.csv", extra=()) -> Case:
    args = ["data", "import", "{in}/" + name, *extra]
    return Case(case_id, args, [*expect, "nothing was imported"], code=1, files={name: text})


def funding_row(**cells: str) -> str:
    names, values = FUNDING_COLUMNS.strip().split(","), GOOD_FUNDING_ROW.strip().split(",")
    row = dict(zip(names, values, strict=True))
    row.update(cells)
    return ",".join(row.values()) + "\n"


NUMBERS = [
    csv("int-5000-digits", ORACLE + "1," + "9" * 5000 + "\n", "line 3", "'price'", "digits"),
    csv("int-4301-digits", ORACLE + "1,1" + "0" * 4300 + "\n", "'price'", "digits"),
    csv("int-exponent", ORACLE + "1,1e999999\n", "'price'", "expected an integer"),
    csv("price-1e40", ORACLE + "1," + str(10**40) + "\n", "'price'"),
    csv("price-1e39", ORACLE + "1," + str(10**39) + "\n", "'price'", "outside the sane range"),
    csv("price-zero", ORACLE + "1,0\n", "'price'"),
    csv("price-negative", ORACLE + "1,-5\n", "'price'"),
    csv("price-float", ORACLE + "1,150.5\n", "'price'"),
    csv("price-empty", ORACLE + "1,\n", "'price'"),
    csv("ts-negative", ORACLE + "-1,5\n", "'ts'"),
    csv("ts-milliseconds", ORACLE + "1768003200000,5\n", "'ts'", "milliseconds"),
    csv("ts-not-increasing", ORACLE + "5,5\n5,6\n", "line 4", "'ts'", "strictly increasing"),
    csv("funding-1e13", FUNDING + funding_row(funding_rate="10000000000000"),
        "'funding_rate'", "not a funding rate"),
    csv("funding-long-1e13", FUNDING + funding_row(funding_rate_long="-10000000000000"),
        "'funding_rate_long'"),
    csv("funding-cumulative-huge",
        FUNDING + funding_row(cumulative_funding_rate_long="1" + "0" * 30),
        "'cumulative_funding_rate_long'"),
    csv("funding-twap-zero", FUNDING + funding_row(oracle_price_twap="0"), "'oracle_price_twap'"),
    csv("funding-twap-1e40", FUNDING + funding_row(oracle_price_twap=str(10**40)),
        "'oracle_price_twap'"),
    csv("funding-mark-negative", FUNDING + funding_row(mark_price_twap="-1"), "'mark_price_twap'"),
    csv("funding-index-of-another-market", FUNDING + funding_row(market_index="1"),
        "'market_index'", "SOL-PERP's market index"),
    csv("funding-index-70000", FUNDING + funding_row(market_index="70000"), "'market_index'"),
    csv("spot-rate-1e5000000", SPOT + "1,0,1e5000000,0.1,,\n", "'deposit_rate'", "out of range"),
    csv("spot-rate-1e-5000000", SPOT + "1,0,1e-5000000,0.1,,\n", "'deposit_rate'",
        "decimal places"),
    csv("spot-rate-negative", SPOT + "1,0,-0.1,0.1,,\n", "'deposit_rate'"),
    csv("spot-rate-101", SPOT + "1,0,0.1,101,,\n", "'borrow_rate'", "outside the sane range"),
    csv("spot-rate-nan", SPOT + "1,0,nan,0.1,,\n", "'deposit_rate'", "finite"),
    csv("spot-rate-long-text", SPOT + "1,0," + "1" * 200 + ",0.1,,\n", "'deposit_rate'"),
    csv("spot-interest-huge", SPOT + "1,0,0.1,0.1," + "9" * 25 + ",\n",
        "'cumulative_deposit_interest'"),
    csv("spot-index-of-another-market", SPOT + "1,1,0.1,0.1,,\n", "'market_index'"),
    csv("candle-resolution-zero", CANDLE + "60,0,1,1,1,1,0\n", "'resolution'"),
    csv("candle-high-below-low", CANDLE + "60,60,5,4,6,5,0\n", "'high'"),
    csv("candle-volume-huge", CANDLE + "60,60,1,1,1,1," + "9" * 30 + "\n", "'volume'"),
    csv("candle-price-1e40", CANDLE + "60,60,1,1" + "0" * 40 + ",1,1,0\n", "'high'"),
    csv("drift-candle-1e999999", DRIFT_CANDLE + "60,1e999999,1,1,1,0\n120,1,1,1,1,0\n",
        "'oracleOpen'", "out of range", name="60.csv", extra=["--market", "SOL-PERP"]),
    csv("drift-candle-tiny-decimals", DRIFT_CANDLE + "60,1e-999999,1,1,1,0\n120,1,1,1,1,0\n",
        "'oracleOpen'", name="60.csv", extra=["--market", "SOL-PERP"]),
    csv("drift-candle-volume-1e30", DRIFT_CANDLE + "60,1,1,1,1,1e30\n120,1,1,1,1,0\n",
        "'baseVolume'", name="60.csv", extra=["--market", "SOL-PERP"]),
    csv("drift-funding-rate-1e13",
        DRIFT_FUNDING + "3600,0,10000000000000,1,1,1,1,150000000,150000000\n", "'fundingRate'"),
    csv("drift-funding-unknown-index",
        DRIFT_FUNDING + "3600,9999,1,1,1,1,1,150000000,150000000\n", "'marketIndex'"),
    csv("drift-funding-twap-words",
        DRIFT_FUNDING + "3600,0,1,1,1,1,1,n/a,150000000\n", "'oraclePriceTwap'"),
    csv("drift-funding-wrong-market",
        DRIFT_FUNDING + "3600,1,1,1,1,1,1,150000000,150000000\n", "'marketIndex'",
        extra=["--market", "SOL-PERP"]),
]  # fmt: skip

FILES = [
    csv("market-with-slash", OWN.format(kind="oracle", market="SOL/PERP") + "ts,price\n1,5\n",
        "line 1", "not a market symbol"),
    csv("market-path-traversal", OWN.format(kind="oracle", market="../x") + "ts,price\n1,5\n",
        "not a market symbol"),
    csv("market-case-collision",
        OWN.format(kind="oracle", market="sol-perp") + "ts,price\n1,5\n",
        "store file", "SOL-PERP"),
    csv("unknown-kind", OWN.format(kind="trades", market="SOL-PERP") + "ts\n1\n", "unknown kind"),
    csv("missing-column", ORACLE.replace("ts,price", "ts,prix") + "1,5\n", "'price'",
        "missing column"),
    csv("duplicate-column", ORACLE.replace("ts,price", "ts,price,price") + "1,5,5\n",
        "appears twice"),
    csv("not-utf8", b"\xff\xfe\x00\x01garbage\n", "not a UTF-8 text file"),
    csv("binary", bytes(range(256)) * 4, "f.csv"),
    csv("empty", "", "empty file"),
    csv("unrecognised-header", "a,b,c\n1,2,3\n", "unrecognised file"),
    csv("metadata-without-market", "# drift-engine market-data v1; kind=oracle; source=real\n"
        "ts,price\n1,5\n", "no market="),
    csv("nul-byte", ORACLE + "1,5\x00\n", "line 3", "expected an integer"),
    csv("conflicting-rows", ORACLE + "1768003200,1\n", "different values"),
    Case("import-a-folder-with-a-bad-file", ["data", "import", "{in}"],
         ["bad.csv", "'price'", "nothing was imported"], code=1,
         files={"ok.csv": ORACLE + "1,5\n", "sub/bad.csv": ORACLE + "1,-5\n"}),
]  # fmt: skip

CASES = NUMBERS + FILES


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_bad_market_data_is_refused_and_nothing_is_imported(sweep, case: Case) -> None:
    sweep(case)


def test_csv_cases_are_many_and_distinct() -> None:
    assert len(CASES) >= 45
    assert len(set(ids(CASES))) == len(CASES)
