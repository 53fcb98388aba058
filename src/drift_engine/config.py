"""Runtime settings: where drift-engine keeps its data and which database it talks to.

Read from the environment (prefix `DRIFT_ENGINE_`, plus the conventional plain
`DATABASE_URL`). A misspelt `DRIFT_ENGINE_*` variable is an error rather than silently
ignored, because a typo in e.g. the database setting would otherwise point the ledger at
a fresh, empty database. The engine issue extends this with a TOML file loader.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Self

from pydantic import AliasChoices, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from drift_engine.core.errors import DriftEngineError

ENV_PREFIX = "DRIFT_ENGINE_"
DATABASE_FILE_NAME = "drift_engine.db"


class ConfigError(DriftEngineError, ValueError):
    """A setting is unknown or has a bad value; `key` names it."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(f"{key}: {message}")


class Settings(BaseSettings):
    """drift-engine's settings. Frozen: pass a new one rather than mutating it."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="forbid",
        frozen=True,
        populate_by_name=True,
    )

    data_dir: Path = Field(default=Path("./var"), description="Directory for local state.")
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", f"{ENV_PREFIX}DATABASE_URL", "database_url"),
        description="SQLAlchemy URL; default: SQLite file <data_dir>/drift_engine.db.",
    )
    keypair_path: Path | None = Field(
        default=None,
        description="Solana CLI keypair file for live transfers. Never logged, never stored.",
    )
    dashboard_token: SecretStr | None = Field(
        default=None,
        description="Bearer token for the dashboard's control actions (start/pause/stop/kill); "
        "without it control is refused and only a loopback bind is allowed.",
    )
    sqlite_busy_timeout_ms: int = Field(
        default=30_000, ge=0, description="How long a SQLite writer waits for the lock."
    )

    @model_validator(mode="after")
    def _default_database_and_reject_unknown_env(self) -> Self:
        known = {f"{ENV_PREFIX}{name}".upper() for name in type(self).model_fields}
        for variable in os.environ:
            if variable.upper().startswith(ENV_PREFIX) and variable.upper() not in known:
                raise ConfigError(variable, "unknown setting in the environment")
        if self.database_url is None:
            url = f"sqlite:///{self.data_dir / DATABASE_FILE_NAME}"
            object.__setattr__(self, "database_url", url)
        return self

    @property
    def resolved_database_url(self) -> str:
        """The database URL, never None after validation."""
        assert self.database_url is not None
        return self.database_url


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment and `overrides`; errors name the key at fault."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        cause = first.get("ctx", {}).get("error")
        if isinstance(cause, ConfigError):
            raise cause from None
        key = ".".join(str(part) for part in first["loc"]) or "settings"
        raise ConfigError(key, first["msg"]) from None
