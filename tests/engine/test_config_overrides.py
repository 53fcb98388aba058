"""Environment overrides of the TOML config: DRIFT_ENGINE_CONFIG names the file,
DRIFT_ENGINE__SECTION__KEY replaces a key; unknown keys and bad values are errors naming
the variable and the key; Settings accepts the override variables and still rejects
misspelt settings."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from drift_engine.cli import app
from drift_engine.config import ConfigError, load_settings
from drift_engine.engine.config_file import EXAMPLE_CONFIG, ConfigFileError, load_config


@pytest.fixture
def config_path(tmp_path, monkeypatch):
    for k in list(__import__("os").environ):
        if k.upper().startswith("DRIFT_ENGINE_"):
            monkeypatch.delenv(k)
    monkeypatch.setenv("DRIFT_ENGINE_DATA_DIR", str(tmp_path / "var"))
    path = tmp_path / "engines.toml"
    path.write_text(EXAMPLE_CONFIG)
    return path


def test_overrides_replace_keys_with_typed_values(config_path, monkeypatch):
    monkeypatch.setenv("DRIFT_ENGINE__DATA__SEED", "11")
    monkeypatch.setenv("DRIFT_ENGINE__data__source", "synthetic")  # any case
    monkeypatch.setenv("DRIFT_ENGINE__ENGINES__0__PARAMS__ENTRY_APR", "0.08")
    monkeypatch.setenv("DRIFT_ENGINE__ENGINES__1__ENABLED", "false")
    monkeypatch.setenv("DRIFT_ENGINE__ENGINES__1__RISK__MAX_LEVERAGE", "1.5")
    monkeypatch.setenv("DRIFT_ENGINE__HEARTBEAT__INTERVAL_S", "30")
    monkeypatch.setenv("DRIFT_ENGINE__ENGINES__0__NAME", '"My SOL carry"')  # a TOML string
    cfg = load_config(config_path)
    assert cfg.engines[0].name == "My SOL carry"
    assert (cfg.data.seed, cfg.data.source, cfg.heartbeat.interval_s) == (11, "synthetic", 30)
    sol, btc = cfg.engines
    assert sol.strategy_config().entry_apr == 0.08
    assert sol.strategy_config().market == "SOL-PERP"  # the rest of the file stays
    assert btc.enabled is False and btc.risk.max_leverage == 1.5
    # without the overrides, the file's own values
    assert load_config(config_path, environ={}).data.seed == 7


def test_config_path_from_the_environment(config_path, monkeypatch):
    monkeypatch.setenv("DRIFT_ENGINE_CONFIG", str(config_path))
    assert load_settings().config == config_path
    assert [e.id for e in load_config().engines] == ["dn-sol", "dn-btc"]


@pytest.mark.parametrize(
    ("variable", "value", "key"),
    [
        ("DRIFT_ENGINE__DATA__SEDE", "3", "data.sede"),
        ("DRIFT_ENGINE__ENGINES__0__PARAMS__ENTRY_APRR", "0.1", "engines[0].params.entry_aprr"),
        ("DRIFT_ENGINE__DASHBORD__PORT", "9000", "dashbord"),
    ],
)
def test_unknown_override_key_is_an_error_naming_it(config_path, monkeypatch, variable, value, key):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigFileError) as err:
        load_config(config_path)
    assert variable in str(err.value) and key in str(err.value)


@pytest.mark.parametrize(
    ("variable", "value", "key"),
    [
        ("DRIFT_ENGINE__DATA__SEED", "many", "data.seed"),
        ("DRIFT_ENGINE__HEARTBEAT__INTERVAL_S", "0", "heartbeat.interval_s"),
        ("DRIFT_ENGINE__ENGINES__0__PARAMS__ENTRY_APR", "high", "engines[0].params.entry_apr"),
        ("DRIFT_ENGINE__ENGINES__0__RISK__HEALTH_FLOOR", "200", "engines[0].risk.health_floor"),
        ("DRIFT_ENGINE__DATA__SOURCE", "csv", "data.source"),
    ],
)
def test_bad_override_value_is_an_error_naming_it(config_path, monkeypatch, variable, value, key):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigFileError) as err:
        load_config(config_path)
    assert str(err.value).startswith(f"{variable} ({key}): ")


def test_override_of_a_missing_engine_index_names_the_variable(config_path, monkeypatch):
    monkeypatch.setenv("DRIFT_ENGINE__ENGINES__5__ENABLED", "false")
    with pytest.raises(ConfigFileError, match=r"DRIFT_ENGINE__ENGINES__5__ENABLED: engines has 2"):
        load_config(config_path)


def test_settings_accept_overrides_and_still_reject_typos(config_path, monkeypatch):
    monkeypatch.setenv("DRIFT_ENGINE__DATA__SEED", "11")
    monkeypatch.setenv("DRIFT_ENGINE_CONFIG", str(config_path))
    load_settings()  # the new variables are known
    monkeypatch.setenv("DRIFT_ENGINE_DATA_DIRR", "/tmp/x")
    with pytest.raises(ConfigError, match="DRIFT_ENGINE_DATA_DIRR: unknown setting"):
        load_settings()
    monkeypatch.delenv("DRIFT_ENGINE_DATA_DIRR")
    monkeypatch.setenv("DRIFT_ENGINE__DATA____SEED", "1")  # empty part
    with pytest.raises(ConfigError, match="DRIFT_ENGINE__DATA____SEED"):
        load_settings()


def test_run_reports_a_bad_override_naming_it(config_path, monkeypatch):
    monkeypatch.setenv("DRIFT_ENGINE_CONFIG", str(config_path))
    monkeypatch.setenv("DRIFT_ENGINE__ENGINES__0__PARAMS__TARGET_LEVERAGE", "-1")
    r = CliRunner().invoke(app, ["run", "--hours", "1"])
    assert r.exit_code == 2
    out = " ".join(r.output.split())
    assert "DRIFT_ENGINE__ENGINES__0__PARAMS__TARGET_LEVERAGE" in out
    assert "engines[0].params.target_leverage" in out
