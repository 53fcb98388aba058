"""Sweep, arguments: every subcommand's options with values that cannot mean anything,
refused by their parameter types (commands/params.py) or the command's own checks before
anything is written; a taken port is named before a database is touched."""

from __future__ import annotations

import pytest

from .conftest import Case, ids

RUN = ["run", "-c", "{root}/good.toml"]
DEMO = ["demo", "--no-dashboard"]
BT = ["backtest", "--start", "2026-01-10", "--end", "2026-01-12"]
SYNTH = ["data", "synth", "--seed", "1", "--days", "1"]


def arg(case_id: str, args, *expect: str, code: int = 2, empty: bool = False) -> Case:
    return Case(case_id, args, expect, code=code, empty=empty)


RUN_CASES = [
    arg("run-hours-negative", [*RUN, "--hours", "-1"], "--hours", "greater than 0"),
    arg("run-hours-zero", [*RUN, "--hours", "0"], "--hours"),
    arg("run-hours-nan", [*RUN, "--hours", "nan"], "--hours", "finite"),
    arg("run-hours-inf", [*RUN, "--hours", "inf"], "--hours", "finite"),
    arg("run-hours-words", [*RUN, "--hours", "many"], "--hours"),
    arg("run-hours-huge", [*RUN, "--hours", "1e12"], "--hours"),
    arg("run-speed-zero", [*RUN, "--speed", "0"], "--speed"),
    arg("run-speed-negative", [*RUN, "--speed", "-10"], "--speed"),
    arg("run-speed-nan", [*RUN, "--speed", "nan"], "--speed", "finite"),
    arg("run-speed-inf", [*RUN, "--speed", "inf"], "--speed"),
    arg("run-speed-huge", [*RUN, "--speed", "1e13"], "--speed"),
    arg("run-port-70000", [*RUN, "--port", "70000"], "--port", "65535"),
    arg("run-port-negative", [*RUN, "--port", "-1"], "--port"),
    arg("run-port-words", [*RUN, "--port", "http"], "--port"),
    arg("run-config-missing", ["run", "-c", "{in}/none.toml"], "does not exist"),
    arg("run-unknown-option", [*RUN, "--hour", "1"], "--hour"),
    arg("run-extra-argument", [*RUN, "extra"], "extra"),
]

DEMO_CASES = [
    arg("demo-hours-negative", [*DEMO, "--hours", "-1"], "--hours"),
    arg("demo-hours-nan", [*DEMO, "--hours", "nan"], "--hours"),
    arg("demo-speed-zero", [*DEMO, "--speed", "0"], "--speed"),
    arg("demo-speed-negative", [*DEMO, "--speed", "-10"], "--speed"),
    arg("demo-capital-zero", [*DEMO, "--capital", "0"], "--capital"),
    arg("demo-capital-negative", [*DEMO, "--capital", "-5"], "--capital"),
    arg("demo-capital-inf", [*DEMO, "--capital", "inf"], "--capital"),
    arg("demo-capital-nan", [*DEMO, "--capital", "nan"], "--capital"),
    arg("demo-capital-1e30", [*DEMO, "--capital", "1e30"], "--capital", "maximum"),
    arg("demo-capital-1e-9", [*DEMO, "--capital", "1e-9"], "--capital"),
    arg("demo-capital-words", [*DEMO, "--capital", "lots"], "--capital"),
    arg("demo-capital-7-decimals", [*DEMO, "--capital", "100.1234567"], "--capital"),
    arg("demo-capital-below-btc-min", [*DEMO, "--capital", "5"], "--capital", "BTC-PERP"),
    arg("demo-port-70000", [*DEMO, "--port", "70000"], "--port"),
    arg("demo-port-negative", [*DEMO, "--port", "-1"], "--port"),
    arg("demo-seed-negative", [*DEMO, "--seed", "-1"], "--seed"),
]

BACKTEST_CASES = [
    arg("bt-interval-zero", [*BT, "--interval", "0"], "--interval"),
    arg("bt-interval-negative", [*BT, "--interval", "-60"], "--interval"),
    arg("bt-interval-7", [*BT, "--interval", "7"], "--interval", "divide a day"),
    arg("bt-interval-huge", [*BT, "--interval", "100000"], "--interval"),
    arg("bt-capital-zero", [*BT, "--capital", "0"], "--capital"),
    arg("bt-capital-inf", [*BT, "--capital", "inf"], "--capital"),
    arg("bt-capital-1e30", [*BT, "--capital", "1e30"], "--capital"),
    arg("bt-capital-1e-9", [*BT, "--capital", "1e-9"], "--capital"),
    arg("bt-market-unknown", [*BT, "--market", "FOO-PERP"], "--market", "FOO-PERP"),
    arg("bt-market-spot", [*BT, "--market", "SOL"], "--market"),
    arg("bt-market-no-data", [*BT, "--market", "DOGE-PERP"], "--market", "DOGE-PERP"),
    arg("bt-start-words", ["backtest", "--start", "soon", "--end", "2026-01-12"], "--start"),
    arg("bt-start-1800", ["backtest", "--start", "1800-01-01", "--end", "2026-01-12"],
        "--start"),
    arg("bt-end-before-start", ["backtest", "--start", "2026-01-12", "--end", "2026-01-10"],
        "--end"),
    arg("bt-window-too-long", ["backtest", "--start", "2026-01-01", "--end", "2099-01-01"],
        "--end", "days"),
    arg("bt-end-year-10000", ["backtest", "--start", "2026-01-01", "--end", "9999-12-31"],
        "--end"),
    arg("bt-source-unknown", [*BT, "--source", "live"], "--source"),
    arg("bt-strategy-unknown", [*BT, "--strategy", "grid"], "--strategy"),
    arg("bt-param-not-kv", [*BT, "--param", "entry_apr"], "--param"),
    arg("bt-param-unknown", [*BT, "--param", "entry_aprx=1"], "entry_aprx"),
    arg("bt-param-bad-value", [*BT, "--param", "entry_apr=high"], "entry_apr"),
    arg("bt-seed-negative", [*BT, "--seed", "-1"], "--seed"),
    arg("bt-plot-suffix", [*BT, "--plot", "{in}/x.txt"], "--plot"),
    arg("bt-db-garbage", [*BT, "--db", "garbage"], "--db", "not a database URL"),
    arg("bt-db-mysql", [*BT, "--db", "mysql://u@h/db"], "--db"),
]  # fmt: skip

SW = ["sweep", "--start", "2026-01-10", "--end", "2026-01-12", "--grid", "entry_apr=0.01,0.02"]
SWEEP_CASES = [
    arg("sweep-capital-inf", [*SW, "--capital", "inf"], "--capital"),
    arg("sweep-capital-negative", [*SW, "--capital", "-5"], "--capital"),
    arg("sweep-capital-below-btc-min", [*SW, "--capital", "5", "--market", "BTC-PERP"],
        "--capital", "minimum order notional"),
    arg("sweep-interval-zero", [*SW, "--interval", "0"], "--interval"),
    arg("sweep-interval-7", [*SW, "--interval", "7"], "--interval"),
    arg("sweep-seed-negative", [*SW, "--seed", "-1"], "--seed"),
    arg("sweep-data-seed-negative", [*SW, "--data-seed", "-1"], "--data-seed"),
    arg("sweep-market-unknown", [*SW, "--market", "FOO-PERP"], "FOO-PERP"),
    arg("sweep-window-too-long", ["sweep", "--start", "2026-01-01", "--end", "2099-01-01",
        "--grid", "entry_apr=0.01,0.02"], "--end"),
    arg("sweep-no-grid", SW[:5], "--grid"),
    arg("sweep-bad-grid", [*SW[:5], "--grid", "nonsense"], "--grid"),
    arg("sweep-objective", [*SW, "--objective", "profit"], "--objective"),
    arg("sweep-workers-zero", [*SW, "--workers", "0"], "--workers"),
]  # fmt: skip

DATA_CASES = [
    arg("synth-days-zero", [*SYNTH[:-1], "0"], "--days"),
    arg("synth-days-huge", [*SYNTH[:-1], "100000000"], "--days"),
    arg("synth-days-negative", [*SYNTH[:-1], "-1"], "--days"),
    arg("synth-interval-zero", [*SYNTH, "--interval", "0"], "--interval"),
    arg("synth-interval-7", [*SYNTH, "--interval", "7"], "--interval", "divide an hour"),
    arg("synth-interval-negative", [*SYNTH, "--interval", "-1"], "--interval"),
    arg("synth-interval-4000", [*SYNTH, "--interval", "4000"], "--interval"),
    arg("synth-seed-negative", ["data", "synth", "--seed", "-1"], "--seed"),
    arg("synth-market-unknown", [*SYNTH, "--market", "FOO-PERP"], "--market"),
    arg("synth-market-slash", [*SYNTH, "--market", "SOL/PERP"], "--market"),
    arg("synth-market-no-model", [*SYNTH, "--market", "DOGE-PERP"], "--market"),
    arg("synth-start-words", [*SYNTH, "--start", "soon"], "--start"),
    arg("synth-start-1800", [*SYNTH, "--start", "1800-01-01"], "--start"),
    arg("synth-data-dir-file", [*SYNTH, "--data-dir", "{root}/good.toml"], "--data-dir"),
    arg("import-missing-path", ["data", "import", "{in}/none.csv"], "no such file", code=1),
    arg("import-resolution-zero", ["data", "import", "{root}/good.toml", "--resolution", "0"],
        "--resolution"),
    arg("import-resolution-negative",
        ["data", "import", "{root}/good.toml", "--resolution", "-60"], "--resolution"),
    arg("import-market-unknown", ["data", "import", "{root}/good.toml", "--market", "FOO"],
        "--market"),
    arg("import-market-slash", ["data", "import", "{root}/good.toml", "--market", "SOL/PERP"],
        "--market"),
    arg("import-no-paths", ["data", "import"], "paths"),
    arg("list-data-dir-file", ["data", "list", "--data-dir", "{root}/good.toml"], "--data-dir"),
]  # fmt: skip

LOCALNET_CASES = [
    arg("localnet-port-70000", ["localnet", "--port", "70000"], "--port"),
    arg("localnet-port-negative", ["localnet", "--port", "-1"], "--port"),
    arg("localnet-usdc-negative", ["localnet", "--usdc", "-5"], "--usdc"),
    arg("localnet-usdc-huge", ["localnet", "--usdc", "10000000000000"], "--usdc"),
    arg("localnet-latency-negative", ["localnet", "--latency-ms", "-100"], "--latency-ms"),
    arg("localnet-latency-huge", ["localnet", "--latency-ms", "1000000000"], "--latency-ms"),
    arg("localnet-429-negative", ["localnet", "--429-every", "-1"], "--429-every"),
    arg("localnet-drop-negative", ["localnet", "--drop-every", "-1"], "--drop-every"),
    arg("localnet-expire-negative", ["localnet", "--expire-every", "-2"], "--expire-every"),
    arg("localnet-fund-not-a-key", ["localnet", "--fund", "not-a-key"], "--fund"),
]

DASHBOARD_CASES = [
    arg("dashboard-port-70000", ["dashboard", "--port", "70000"], "--port"),
    arg("dashboard-port-negative", ["dashboard", "--port", "-1"], "--port"),
    arg("dashboard-public-no-token", ["dashboard", "--host", "0.0.0.0", "--port", "0"],
        "refusing to bind 0.0.0.0"),
]  # fmt: skip

VAULT_CASES = [
    arg("vault-show-unknown", ["vaults", "show", "ghost"], "unknown vault 'ghost'", code=1),
    arg("vault-show-huge-id", ["vaults", "show", "9" * 30], "unknown vault", code=1),
    arg("vault-show-entries-negative", ["vaults", "show", "paper-a", "--entries", "-1"],
        "--entries"),
    arg("vault-show-entries-huge", ["vaults", "show", "paper-a", "--entries", "100000"],
        "--entries"),
    arg("vault-deposit-negative", ["vaults", "deposit", "paper-a", "-5"], "AMOUNT"),
    arg("vault-deposit-zero", ["vaults", "deposit", "paper-a", "0"], "AMOUNT"),
    arg("vault-deposit-7-decimals", ["vaults", "deposit", "paper-a", "1.0000001"], "AMOUNT"),
    arg("vault-deposit-words", ["vaults", "deposit", "paper-a", "ten"], "AMOUNT"),
    arg("vault-deposit-inf", ["vaults", "deposit", "paper-a", "inf"], "AMOUNT"),
    arg("vault-deposit-nan", ["vaults", "deposit", "paper-a", "nan"], "AMOUNT"),
    arg("vault-deposit-1e30", ["vaults", "deposit", "paper-a", "1e30"], "AMOUNT"),
    arg("vault-deposit-unknown", ["vaults", "deposit", "ghost", "1"], "unknown vault", code=1),
    arg("vault-withdraw-overdraw", ["vaults", "withdraw", "paper-a", "1000000"], "holds",
        code=1),
    arg("vault-transfer-unknown", ["vaults", "transfer", "paper-a", "ghost", "1"],
        "unknown vault 'ghost'", code=1),
    arg("vault-create-sub-account", ["vaults", "create", "v", "--engine", "e", "--type",
        "on_chain", "--network", "devnet", "--sub-account", "70000"], "--sub-account"),
    arg("vault-create-digits", ["vaults", "create", "123", "--engine", "e"], "name", code=1),
    arg("vault-create-treasury-engine", ["vaults", "create", "v", "--engine", "treasury"],
        "reserved", code=1),
    arg("vault-create-treasury-name", ["vaults", "create", "treasury", "--engine", "e"],
        "reserved", code=1),
    arg("vault-create-duplicate", ["vaults", "create", "paper-a", "--engine", "e"],
        "already exists", code=1),
    arg("vault-create-type", ["vaults", "create", "v", "--engine", "e", "--type", "gold"],
        "--type"),
    arg("vault-create-onchain-no-network", ["vaults", "create", "v", "--engine", "e",
        "--type", "on_chain"], "give --network, --authority, --sub-account", code=2),
    arg("vault-create-bad-network", ["vaults", "create", "v", "--engine", "e", "--type",
        "on_chain", "--network", "testnet", "--authority", "11111111111111111111111111111111",
        "--sub-account", "1"], "network", code=1),
    arg("vault-create-bad-authority", ["vaults", "create", "v", "--engine", "e", "--type",
        "on_chain", "--network", "devnet", "--authority", "nope", "--sub-account", "1"],
        "authority", code=1),
]  # fmt: skip

OTHER_CASES = [
    arg("engines-kill-unknown", ["engines", "kill", "ghost"], "no engine 'ghost'", code=1),
    arg("engines-stop-unknown", ["engines", "stop", "ghost"], "no engine 'ghost'", code=1),
    arg("engines-demo-and-url", ["engines", "--demo", "--database-url", "sqlite://", "list"],
        "--demo"),
    arg("engines-unknown-command", ["engines", "restart", "eng-a"], "restart"),
    arg("markets-unknown", ["markets", "--market", "FOO"], "--market", "'FOO'"),
    arg("markets-bad-type", ["markets", "--type", "futures"], "--type"),
    arg("strategies-show-unknown", ["strategies", "show", "nope"], "'nope'", "NAME"),
    arg("strategies-show-missing-file", ["strategies", "show", "{in}/nope.py:X"], "does not exist"),
    arg("strategies-new-bad-name", ["strategies", "new", "9 bad name!", "--dir", "{in}"], "NAME"),
    Case("strategies-new-existing", ["strategies", "new", "mine", "--dir", "{in}"], ["exists"],
         files={"mine.py": "# mine\n"}),
    arg("margin-no-demo", ["margin"], "--demo"),
    arg("margin-warning-200", ["margin", "--demo", "--warning-health", "200"],
        "--warning-health"),
    arg("margin-critical-negative", ["margin", "--demo", "--critical-health", "-1"],
        "--critical-health"),
    arg("margin-critical-above-warning", ["margin", "--demo", "--warning-health", "10",
        "--critical-health", "50"], "health"),
    arg("init-existing", ["init", "{root}/good.toml"], "exists", code=1),
    arg("init-directory", ["init", "{var}"], "is a directory"),
    arg("init-under-a-file", ["init", "{root}/good.toml/x.toml"], "is a file"),
    arg("top-level-unknown-command", ["nonsense"], "No such command"),
    arg("top-level-unknown-option", ["--bogus"], "--bogus"),
]  # fmt: skip

CASES = (
    RUN_CASES
    + DEMO_CASES
    + BACKTEST_CASES
    + SWEEP_CASES
    + DATA_CASES
    + LOCALNET_CASES
    + DASHBOARD_CASES
    + VAULT_CASES
    + OTHER_CASES
)


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_bad_arguments_are_refused_in_one_line(sweep, case: Case) -> None:
    sweep(case)


# ---------------------------------------------------------------- a port already taken
@pytest.mark.parametrize(
    "command",
    [
        [*RUN, "--hours", "1", "--port", "{port}"],
        [*DEMO[:1], "--hours", "1", "--port", "{port}"],
        ["dashboard", "--port", "{port}"],
        ["localnet", "--port", "{port}"],
    ],
    ids=["run", "demo", "dashboard", "localnet"],
)
def test_a_taken_port_is_named_and_nothing_is_written(sweep, taken_port, command) -> None:
    args = [a.replace("{port}", str(taken_port)) for a in command]
    sweep(Case(f"taken-port-{command[0]}", args, [str(taken_port), "--port"], code=1))


def test_argument_cases_are_many_and_distinct() -> None:
    assert len(CASES) >= 100
    assert len(set(ids(CASES))) == len(CASES)
