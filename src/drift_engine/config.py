"""Runtime settings: where drift-engine keeps its data and which database it talks to.

Read from the environment (prefix `DRIFT_ENGINE_`, plus the conventional plain
`DATABASE_URL`). A misspelt `DRIFT_ENGINE_*` variable is an error (with the closest
setting as a suggestion) rather than silently ignored, because a typo in e.g. the
database setting would otherwise point the ledger at a fresh, empty database. Values are
checked when read, before anything is created: the database URL must be SQLite or
PostgreSQL with its driver installed, the data directory must not be a file.

The engines' TOML config file (`drift_engine.engine.config_file`) is found through
`DRIFT_ENGINE_CONFIG` (a path), and any of its keys can be overridden by a variable
`DRIFT_ENGINE__<SECTION>__<KEY>...` (double underscores; list items by index, e.g.
`DRIFT_ENGINE__ENGINES__0__PARAMS__ENTRY_APR=0.08`). Those override variables are not
settings: this module only checks their shape and leaves their keys and values to the
config file loader, which names the variable when one is unknown or bad.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, Self

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from drift_engine.core.errors import DriftEngineError

ENV_PREFIX = "DRIFT_ENGINE_"
#: Prefix of the variables that override keys of the TOML config file.
CONFIG_OVERRIDE_PREFIX = "DRIFT_ENGINE__"
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
    rpc_url: str | None = Field(
        default=None,
        description="Solana JSON-RPC for ON_CHAIN vault moves and `drift-engine account`.",
    )
    network: Literal["mainnet", "devnet", "localnet"] = Field(
        default="mainnet",
        description="The chain `rpc_url` serves; ON_CHAIN vaults of another network are refused.",
    )
    dashboard_token: SecretStr | None = Field(
        default=None,
        description="Bearer token for the dashboard's control actions (start/pause/stop/kill); "
        "without it control is refused and only a loopback bind is allowed.",
    )
    sqlite_busy_timeout_ms: int = Field(
        default=30_000,
        ge=0,
        le=3_600_000,
        description="How long a SQLite writer waits for the lock.",
    )
    config: Path | None = Field(
        default=None,
        description="The engines' TOML config file (`drift-engine run`); default: "
        "./drift-engine.toml. Its keys can be overridden by DRIFT_ENGINE__SECTION__KEY.",
    )
    ray_address: str | None = Field(
        default=None,
        description="Ray cluster for `drift-engine sweep` (e.g. ray://host:10001); "
        "setting it runs sweeps there.",
    )

    @field_validator("data_dir")
    @classmethod
    def _a_directory(cls, v: Path) -> Path:
        if v.exists() and not v.is_dir():
            raise ValueError(f"{v} is a file, not a directory")
        return v

    @field_validator("database_url")
    @classmethod
    def _usable_url(cls, v: str | None) -> str | None:
        if v is None:
            return v
        from drift_engine.storage.engine import DatabaseUrlError, check_url

        try:
            check_url(v)
        except DatabaseUrlError as exc:
            raise ValueError(str(exc)) from None
        return v

    @model_validator(mode="after")
    def _default_database_and_reject_unknown_env(self) -> Self:
        check_environment()
        if self.database_url is None:
            url = f"sqlite:///{self.data_dir / DATABASE_FILE_NAME}"
            object.__setattr__(self, "database_url", url)
        return self

    @property
    def resolved_database_url(self) -> str:
        """The database URL, never None after validation."""
        assert self.database_url is not None
        return self.database_url


def check_environment(environ: Mapping[str, str] | None = None) -> None:
    """A `DRIFT_ENGINE_*` variable that is no setting (a misspelling) is a ConfigError
    naming it and the setting it most likely meant; a malformed `DRIFT_ENGINE__...`
    config override too. Every command checks this first (cli.py), so a misspelt
    variable is the same one-line error whatever the command."""
    env = os.environ if environ is None else environ
    known = {f"{ENV_PREFIX}{name}".upper() for name in Settings.model_fields}
    for variable in env:
        upper = variable.upper()
        if upper.startswith(CONFIG_OVERRIDE_PREFIX):
            if not all(config_override_path(variable)):
                raise ConfigError(
                    variable,
                    "a config override is DRIFT_ENGINE__<SECTION>__<KEY> with "
                    "non-empty parts separated by double underscores",
                )
            continue  # a config file key: checked by the config file loader
        if upper.startswith(ENV_PREFIX) and upper not in known:
            close = suggest(upper, known)
            hint = f"did you mean {close}?" if close else f"known: {', '.join(sorted(known))}"
            raise ConfigError(variable, f"unknown setting in the environment; {hint}")


def suggest(name: str, known: set[str]) -> str | None:
    """The known variable `name` was most likely meant to be: the one whose name contains
    it (DRIFT_ENGINE_TOKEN -> ..._DASHBOARD_TOKEN), else the closest spelling."""
    stems = {k.removeprefix(ENV_PREFIX): k for k in known}
    stem = name.upper().removeprefix(ENV_PREFIX)
    containing = sorted(k for s, k in stems.items() if stem and stem in s)
    if len(containing) == 1:
        return containing[0]
    close = difflib.get_close_matches(stem, sorted(stems), n=1, cutoff=0.6)
    return stems[close[0]] if close else None


def config_override_path(variable: str) -> list[str]:
    """`DRIFT_ENGINE__ENGINES__0__PARAMS__ENTRY_APR` -> ["engines", "0", "params",
    "entry_apr"] (lower-cased; an empty part means a malformed name)."""
    return variable[len(CONFIG_OVERRIDE_PREFIX) :].lower().split("__")


def config_overrides(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The config file override variables in `environ` (default: the process's)."""
    env = os.environ if environ is None else environ
    return {k: v for k, v in env.items() if k.upper().startswith(CONFIG_OVERRIDE_PREFIX)}


def _variable(field: str, overrides: Mapping[str, object]) -> str:
    """The environment variable (or keyword) that set `field`, for error messages."""
    if field in overrides:
        return field
    field = field.lower().removeprefix(ENV_PREFIX.lower())
    if field == "database_url" and "DATABASE_URL" in os.environ:
        return "DATABASE_URL"
    return f"{ENV_PREFIX}{field.upper()}"


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment and `overrides`; errors name the variable at fault."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        cause = first.get("ctx", {}).get("error")
        if isinstance(cause, ConfigError):
            raise cause from None
        loc = [str(part) for part in first["loc"]]
        key = _variable(loc[0], overrides) if loc else "settings"
        message = first["msg"].removeprefix("Value error, ")
        raise ConfigError(key, message) from None
