"""`drift-engine init` writes the live setup commented out (issue 15, point 9): the
keypair named by the environment, the RPC settings and a live engine. Uncommented, its
settings are a valid live config, and the instructions around them read as written."""

from __future__ import annotations

import re
import tomllib

from drift_engine.engine.config_file import EXAMPLE_CONFIG, parse_config

LIVE_MARK = "-- LIVE"
SETTING = re.compile(r"^# ((?:[a-z_]+ = .*)|(?:\[\[?[a-z.]+\]\]?))$")


def _live_section() -> str:
    assert LIVE_MARK in EXAMPLE_CONFIG
    return EXAMPLE_CONFIG.split(LIVE_MARK, 1)[1]


def test_the_live_section_is_commented_and_names_the_keypair_variable() -> None:
    section = _live_section()
    assert all(not line or line.startswith("#") for line in section.splitlines())
    assert "export DRIFT_ENGINE_KEYPAIR_PATH=" in section
    assert "keypair_path" not in section  # the key's path stays out of configs
    # the example is the active config; live is not on by default
    assert parse_config(tomllib.loads(EXAMPLE_CONFIG)).live is False


def test_uncommented_live_settings_are_a_valid_live_config() -> None:
    settings = [m.group(1) for m in map(SETTING.match, _live_section().splitlines()) if m]
    cfg = parse_config(tomllib.loads("\n".join(settings)))
    assert cfg.live is True
    assert cfg.rpc.network == "mainnet" and cfg.rpc.url.startswith("https://")
    assert [(e.id, e.mode, e.vault) for e in cfg.engines] == [("dn-sol-live", "live", "carry-live")]


def test_the_vault_create_command_keeps_its_line_breaks() -> None:
    """A shell continuation in the comment must stay a continuation, not join two lines."""
    lines = _live_section().splitlines()
    create = next(i for i, line in enumerate(lines) if "vaults create carry-live" in line)
    assert lines[create].rstrip().endswith("--type on_chain \\")
    assert lines[create + 1].lstrip("# ").startswith("--network mainnet --authority")
