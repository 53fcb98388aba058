"""The bad-input sweep's world and its one assertion.

A *world* is a directory as a user has it after some use: a data directory with a
database (a treasury, a funded paper vault, an engine record) and imported market data,
and a valid config file beside it; or an *empty* world where nothing has run yet. Every
case runs one bad command line (in-process through the real `drift-engine` group, so
the same error guard a user meets) and must end with

- a non-zero exit code (2: fix the input; 1: refused),
- exactly one line of output, `error: ...`, naming the problem (a fragment per case),
- no traceback,
- the world byte-for-byte unchanged: every file hashed before and after (SQLite's WAL is
  checkpointed into the database file first, so a committed write cannot hide in it),
  and in the empty world, still nothing at all.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from drift_engine.cli import app
from drift_engine.data import LocalStore, import_paths
from drift_engine.engine.config_file import EXAMPLE_CONFIG
from drift_engine.engine.ports import EngineRecord
from drift_engine.engine.store import SqlEngineStore
from drift_engine.storage import Database
from drift_engine.vaults import VaultRegistry

USDC = 1_000_000
GOOD_ORACLE_CSV = (
    "# drift-engine market-data v1; kind=oracle; market=SOL-PERP; source=real\n"
    "ts,price\n1768003200,150000000\n1768003260,150100000\n"
)


@dataclass(frozen=True)
class Case:
    """One bad input. `args`/`env`/file contents may use {var} (the data directory),
    {in} (this case's input folder) and {root}; `files` are written to {in} first."""

    id: str
    args: Sequence[str]
    expect: Sequence[str]
    code: int = 2
    env: Mapping[str, str | None] = field(default_factory=dict)
    files: Mapping[str, str | bytes] = field(default_factory=dict)
    empty: bool = False  # run in the world where nothing has run yet

    def __str__(self) -> str:
        return self.id


def ids(cases: Sequence[Case]) -> list[str]:
    return [c.id for c in cases]


@dataclass
class World:
    root: Path
    var: Path
    inputs: Path

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.var / 'drift_engine.db'}"

    def fill(self, text: str, case_dir: Path) -> str:
        for token, value in (("{var}", self.var), ("{root}", self.root), ("{in}", case_dir)):
            text = text.replace(token, str(value))
        return text

    def snapshot(self) -> dict[str, str]:
        """Every file under the world (inputs aside) -> sha256; SQLite WALs checkpointed."""
        for db in self.root.rglob("*.db"):
            if db.is_file() and db.stat().st_size:
                con = sqlite3.connect(db)
                try:
                    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                finally:
                    con.close()
        out: dict[str, str] = {}
        for path in sorted(self.root.rglob("*")):
            rel = path.relative_to(self.root)
            if rel.parts[0] == "inputs" or path.name.endswith(("-wal", "-shm")):
                continue
            out[str(rel)] = (
                hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
            )
        return out


def build_world(root: Path, *, empty: bool = False) -> World:
    world = World(root, root / "var", root / "inputs")
    world.inputs.mkdir(parents=True)
    if empty:
        return world
    db = Database.open(world.db_url)
    registry = VaultRegistry(db)
    registry.deposit(registry.treasury().id, 1_000 * USDC, key="seed")
    vault = registry.create_vault("paper-a", "eng-a", active=True)
    registry.allocate(vault.id, 100 * USDC, key="alloc")
    SqlEngineStore(db).save(
        EngineRecord("eng-a", "delta-neutral", {"market": "SOL-PERP"}, "paper", "running",
                     vault_id=str(vault.id))
    )  # fmt: skip
    db.dispose()
    source = root / "inputs" / "good-oracle.csv"
    source.write_text(GOOD_ORACLE_CSV)
    import_paths(LocalStore(world.var), [source])
    (root / "good.toml").write_text(EXAMPLE_CONFIG)
    return world


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, World]:
    """{False: a used world, True: an empty one}, shared by a module's cases (each case
    checks the world against its own snapshot, so a failing case cannot hide another)."""
    return {
        False: build_world(tmp_path_factory.mktemp("world")),
        True: build_world(tmp_path_factory.mktemp("empty-world"), empty=True),
    }


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("DRIFT_ENGINE_") or name == "DATABASE_URL":
            monkeypatch.delenv(name)


def run_case(world: World, case: Case, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run `case` in `world` and assert the sweep's rule; returns the CliRunner result."""
    case_dir = world.inputs / case.id
    case_dir.mkdir(exist_ok=True)
    for name, content in case.files.items():
        target = case_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(world.fill(content, case_dir), encoding="utf-8")
    args = [world.fill(a, case_dir) for a in case.args]
    env: dict[str, str | None] = {"DRIFT_ENGINE_DATA_DIR": str(world.var)}
    env.update({k: None if v is None else world.fill(v, case_dir) for k, v in case.env.items()})
    monkeypatch.chdir(world.root)
    before = world.snapshot()
    result = CliRunner().invoke(app, args, env=env)
    assert_one_line_error(result.output, result.exit_code, case)
    assert world.snapshot() == before, f"{case.id}: the world changed"
    if case.empty:
        assert not world.var.exists(), f"{case.id}: created {world.var}"
    return result


def assert_one_line_error(output: str, exit_code: int, case: Case) -> None:
    lines = [line for line in output.splitlines() if line.strip()]
    assert "Traceback" not in output, output
    assert exit_code == case.code, f"{case.id}: exit {exit_code}, expected {case.code}\n{output}"
    assert len(lines) == 1, f"{case.id}: {len(lines)} lines of output\n{output}"
    assert lines[0].startswith("error: "), output
    for fragment in case.expect:
        assert fragment in lines[0], f"{case.id}: {fragment!r} not in {lines[0]!r}"


@pytest.fixture
def sweep(worlds: dict[bool, World], monkeypatch: pytest.MonkeyPatch):
    def check(case: Case) -> Any:
        return run_case(worlds[case.empty], case, monkeypatch)

    return check


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port something is already listening on (held for the test)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]
