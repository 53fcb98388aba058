"""Sweep, configs: `drift-engine run -c FILE` with a config that cannot mean anything is
refused when the file is read, naming the key, before a database is opened."""

from __future__ import annotations

import pytest

from .conftest import Case, ids

ENGINE = """
[[engines]]
id = "dn-sol"
capital_usdc = 10000.0
[engines.params]
market = "SOL-PERP"
"""


def config(case_id: str, text: str, *expect: str, code: int = 2, hours: bool = True) -> Case:
    args = ["run", "-c", "{in}/c.toml"] + (["--hours", "1"] if hours else [])
    return Case(case_id, args, expect, code=code, files={"c.toml": text})


def engine(case_id: str, line: str, *expect: str, market: str = "SOL-PERP") -> Case:
    """The one engine with `line` added to its table."""
    text = (
        ENGINE.replace("capital_usdc = 10000.0\n", "")
        .replace("[engines.params]", f"{line}\n[engines.params]")
        .replace('"SOL-PERP"', f'"{market}"')
    )
    if "capital_usdc" not in line:
        text = text.replace("[engines.params]", "capital_usdc = 10000.0\n[engines.params]")
    return config(case_id, text, *expect)


def param(case_id: str, line: str, *expect: str) -> Case:
    return config(case_id, ENGINE + line + "\n", *expect)


def section(case_id: str, table: str, line: str, *expect: str) -> Case:
    return config(case_id, f"[{table}]\n{line}\n" + ENGINE, *expect)


CAPITAL = [
    engine("capital-bool", "capital_usdc = true", "engines[0].capital_usdc", "valid number"),
    engine("capital-string", 'capital_usdc = "100"', "engines[0].capital_usdc"),
    engine("capital-inf", "capital_usdc = inf", "engines[0].capital_usdc", "finite"),
    engine("capital-minus-inf", "capital_usdc = -inf", "engines[0].capital_usdc", "finite"),
    engine("capital-nan", "capital_usdc = nan", "engines[0].capital_usdc", "finite"),
    engine("capital-1e30", "capital_usdc = 1e30", "engines[0].capital_usdc", "maximum"),
    engine("capital-1e-9", "capital_usdc = 1e-9", "engines[0].capital_usdc", "minimum order"),
    engine("capital-zero", "capital_usdc = 0", "engines[0].capital_usdc"),
    engine("capital-negative", "capital_usdc = -5", "engines[0].capital_usdc"),
    engine("capital-below-sol-min", "capital_usdc = 0.5", "minimum order notional"),
    engine("capital-below-btc-min", "capital_usdc = 5", "BTC-PERP", market="BTC-PERP"),
    engine("capital-7-decimals", "capital_usdc = 10000.1234567", "6 decimals"),
    engine("capital-array", "capital_usdc = [1]", "engines[0].capital_usdc"),
]

ENGINES = [
    config(
        "two-engines-one-vault",
        ENGINE + ENGINE.replace('"dn-sol"', '"dn-sol-2"\nvault = "dn-sol"'),
        "engines[1].vault",
        "already engines[0]",
    ),
    config("duplicate-engine-id", ENGINE + ENGINE, "engines[1].id", "duplicate"),
    config(
        "engine-on-treasury-id",
        ENGINE.replace('"dn-sol"', '"treasury"'),
        "engines[0].id",
        "reserved for the treasury",
    ),
    engine("engine-on-treasury-vault", 'vault = "treasury"', "engines[0].vault", "treasury"),
    engine("vault-all-digits", 'vault = "123"', "engines[0].vault", "not all digits"),
    engine("vault-with-slash", 'vault = "a/b"', "engines[0].vault"),
    config("id-all-digits", ENGINE.replace('"dn-sol"', '"42"'), "engines[0].id", "not all"),
    config("id-with-space", ENGINE.replace('"dn-sol"', '"dn sol"'), "engines[0].id"),
    config("id-too-long", ENGINE.replace('"dn-sol"', '"' + "x" * 65 + '"'), "engines[0].id"),
    engine("name-empty", 'name = ""', "engines[0].name"),
    engine("enabled-string", 'enabled = "yes"', "engines[0].enabled"),
    engine("enabled-int", "enabled = 1", "engines[0].enabled"),
    engine("mode-misspelt", 'mode = "lvie"', "engines[0].mode"),
    engine("strategy-unknown", 'strategy = "grid"', "engines[0].strategy", "known:"),
    engine("engine-unknown-key", "capitol_usdc = 5", "engines[0].capitol_usdc"),
    config("engines-not-a-list", "engines = 5\n", "engines"),
    config("no-engines", "[data]\nseed = 1\n", "no enabled engines", code=1),
    config(
        "all-disabled",
        ENGINE.replace("[engines.params]", "enabled = false\n[engines.params]"),
        "no enabled engines",
        code=1,
    ),
]

MARKETS = [
    config("no-params-no-market", ENGINE.split("[engines.params]")[0], "engines[0].params.market"),
    config(
        "params-without-market",
        ENGINE.replace('market = "SOL-PERP"', "entry_apr = 0.1"),
        "engines[0].params.market",
        "missing",
    ),
    engine("market-unknown", "", "engines[0].params.market", market="FOO-PERP"),
    engine("market-without-data", "", "engines[0].params.market", "DOGE-PERP", market="DOGE-PERP"),
    engine("market-spot", "", "engines[0].params.market", market="SOL"),
    engine("market-lowercase", "", "engines[0].params.market", market="sol-perp"),
    config("market-int", ENGINE.replace('"SOL-PERP"', "5"), "engines[0].params.market"),
    config(
        "spread-without-other-market",
        ENGINE.replace('id = "dn-sol"', 'id = "dn-sol"\nstrategy = "funding-spread"'),
        "engines[0].params.other_market",
        "missing",
    ),
    config(
        "spread-other-market-unknown",
        ENGINE.replace('id = "dn-sol"', 'id = "dn-sol"\nstrategy = "funding-spread"')
        + 'other_market = "FOO-PERP"\n',
        "engines[0].params.market",
        "FOO-PERP",
    ),
    engine("strategy-file-missing", 'strategy = "{in}/nope.py:Mine"', "engines[0].strategy"),
    config(
        "synthetic-market-without-data",
        "[data]\nsource = 'synthetic'\n" + ENGINE.replace("SOL-PERP", "LUNA-PERP"),
        "engines[0].params.market",
    ),
]

PARAMS = [
    param("param-entry-apr-bool", "entry_apr = true", "engines[0].params.entry_apr"),
    param("param-entry-apr-nan", "entry_apr = nan", "engines[0].params.entry_apr", "finite"),
    param("param-entry-apr-inf", "entry_apr = inf", "engines[0].params.entry_apr", "finite"),
    param("param-unknown", "levrage = 2", "engines[0].params.levrage"),
    param("param-lookback-zero", "lookback_hours = 0", "engines[0].params.lookback_hours"),
    param("param-leverage-100", "target_leverage = 100", "engines[0].params.target_leverage"),
    param("param-exit-above-entry", "exit_apr = 0.5", "engines[0].params"),
    param("param-sub-account-70000", "sub_account_id = 70000", "engines[0].params.sub_account_id"),
    param("param-lookback-float", "lookback_hours = 1.5", "engines[0].params.lookback_hours"),
    config(
        "risk-leverage-bool",
        ENGINE + "[engines.risk]\nmax_leverage = true\n",
        "engines[0].risk.max_leverage",
    ),
    config(
        "risk-notional-inf",
        ENGINE + "[engines.risk]\nmax_order_notional_usdc = inf\n",
        "engines[0].risk.max_order_notional_usdc",
        "finite",
    ),
    config(
        "risk-health-200",
        ENGINE + "[engines.risk]\nhealth_floor = 200\n",
        "engines[0].risk.health_floor",
    ),
    config("risk-unknown", ENGINE + "[engines.risk]\nmax_lev = 2\n", "engines[0].risk.max_lev"),
]

SECTIONS = [
    section("speed-zero", "data", "speed = 0", "data.speed"),
    section("speed-negative", "data", "speed = -10", "data.speed"),
    section("speed-inf", "data", "speed = inf", "data.speed", "finite"),
    section("speed-huge", "data", "speed = 1e300", "data.speed"),
    section("speed-string", "data", 'speed = "fast"', "data.speed"),
    section("seed-negative", "data", "seed = -1", "data.seed"),
    section("seed-float", "data", "seed = 1.5", "data.seed"),
    section("seed-bool", "data", "seed = true", "data.seed"),
    section("start-words", "data", 'start = "yesterday"', "data.start"),
    section("start-before-data", "data", 'start = "1999-01-01"', "data.start", "outside"),
    section("start-after-data", "data", "start = 2090-01-01", "data.start", "outside"),
    section("source-unknown", "data", 'source = "live"', "data.source"),
    section("data-unknown-key", "data", "sped = 1", "data.sped"),
    section("interval-zero", "heartbeat", "interval_s = 0", "heartbeat.interval_s"),
    section("interval-float", "heartbeat", "interval_s = 1.5", "heartbeat.interval_s"),
    section("interval-bool", "heartbeat", "interval_s = true", "heartbeat.interval_s"),
    section("interval-huge", "heartbeat", "interval_s = 100000000", "heartbeat.interval_s"),
    section("snapshot-negative", "heartbeat", "snapshot_every_s = -1", "snapshot_every_s"),
    section("port-zero", "dashboard", "port = 0", "dashboard.port"),
    section("port-70000", "dashboard", "port = 70000", "dashboard.port"),
    section("port-negative", "dashboard", "port = -1", "dashboard.port"),
    section("port-string", "dashboard", 'port = "8080"', "dashboard.port"),
    section("host-garbage", "dashboard", 'host = "not a host!"', "dashboard.host"),
    section("host-empty", "dashboard", 'host = ""', "dashboard.host"),
    section("serve-string", "dashboard", 'serve = "yes"', "dashboard.serve"),
    section("rpc-ftp", "rpc", 'url = "ftp://127.0.0.1"', "rpc.url", "http"),
    section("rpc-bad-port", "rpc", 'url = "http://127.0.0.1:99999"', "rpc.url"),
    section("rpc-no-host", "rpc", 'url = "http://"', "rpc.url"),
    section("rpc-network", "rpc", 'network = "testnet"', "rpc.network"),
    section("rpc-cu-price", "rpc", "compute_unit_price = -1", "rpc.compute_unit_price"),
    config("live-string", 'live = "true"\n' + ENGINE, "live"),
    config("unknown-section", "[dashbaord]\nport = 1\n" + ENGINE, "dashbaord"),
]

FILES = [
    config("not-toml", "this is = not = toml\n", "config", "not valid TOML"),
    Case(
        "not-utf8",
        ["run", "-c", "{in}/c.toml"],
        ["config", "not UTF-8"],
        files={"c.toml": b"\xff\xfe[data]\nseed = 1\n"},
    ),
    Case("config-is-a-directory", ["run", "-c", "{in}"], ["config", "is a directory"]),
    Case("config-missing", ["run", "-c", "{in}/nope.toml"], ["config", "does not exist"]),
    Case(
        "config-huge",
        ["run", "-c", "{in}/c.toml"],
        ["config", "not a config file"],
        files={"c.toml": "# " + "x" * 1_100_000 + "\n"},
    ),
    Case(
        "config-binary",
        ["run", "-c", "{in}/c.toml"],
        ["config"],
        files={"c.toml": bytes(range(256))},
    ),
]

CASES = CAPITAL + ENGINES + MARKETS + PARAMS + SECTIONS + FILES


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_config_is_refused_naming_the_key(sweep, case: Case) -> None:
    sweep(case)


def test_config_cases_are_many_and_distinct() -> None:
    assert len(CASES) >= 80
    assert len(set(ids(CASES))) == len(CASES)
