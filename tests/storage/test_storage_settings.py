"""Settings: data directory, database URL (DATABASE_URL wins), strict keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from drift_engine.config import ConfigError, Settings, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "DRIFT_ENGINE_DATABASE_URL", "DRIFT_ENGINE_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)


def test_defaults_put_a_sqlite_file_in_the_data_dir() -> None:
    settings = load_settings()
    assert settings.data_dir == Path("var")
    assert settings.resolved_database_url == "sqlite:///var/drift_engine.db"
    assert settings.keypair_path is None
    assert load_settings(data_dir="/srv/de").database_url == "sqlite:////srv/de/drift_engine.db"


def test_environment_and_plain_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFT_ENGINE_DATA_DIR", "/data")
    monkeypatch.setenv("DRIFT_ENGINE_DATABASE_URL", "sqlite:///prefixed.db")
    assert load_settings().database_url == "sqlite:///prefixed.db"
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    settings = load_settings()
    assert settings.database_url == "postgresql://u@h/db"
    assert settings.data_dir == Path("/data")


def test_unknown_keys_are_errors_naming_them(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(databse_url="x")
    assert info.value.key == "databse_url"
    monkeypatch.setenv("DRIFT_ENGINE_DATA_DRI", "/typo")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert info.value.key == "DRIFT_ENGINE_DATA_DRI"


def test_bad_values_are_errors_naming_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFT_ENGINE_SQLITE_BUSY_TIMEOUT_MS", "soon")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert info.value.key == "DRIFT_ENGINE_SQLITE_BUSY_TIMEOUT_MS"  # the variable to fix


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(ValueError):
        settings.data_dir = Path("/elsewhere")  # type: ignore[misc]


def test_dashboard_token_comes_from_the_environment_and_never_prints(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DRIFT_ENGINE_DASHBOARD_TOKEN", "s3cret-token")
    settings = load_settings()
    assert settings.dashboard_token is not None
    assert settings.dashboard_token.get_secret_value() == "s3cret-token"
    assert "s3cret-token" not in repr(settings) and "s3cret-token" not in str(settings)

    from drift_engine.dashboard.run import resolve_token

    assert resolve_token(settings) == "s3cret-token"
    monkeypatch.delenv("DRIFT_ENGINE_DASHBOARD_TOKEN")
    assert resolve_token(load_settings()) is None
