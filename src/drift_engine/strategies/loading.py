"""Finding a strategy class from what a user wrote: a name, a module, or a file.

A strategy is named in a config file (`strategy = ...`), on the command line
(`--strategy ...`) or in a sweep by one string, its *spec*:

- a built-in name: `delta-neutral`, `funding-spread`;
- the name of an installed strategy: a package that declares an entry point in the
  `drift_engine.strategies` group (`[project.entry-points."drift_engine.strategies"]
  my-carry = "my_pkg.carry:MyCarry"` in its pyproject.toml);
- `package.module:Class`: any importable module;
- `path/to/file.py:Class`: a Python file anywhere (relative paths are from the current
  directory). The file is imported once per process under a private module name.

Whatever the spec, the class must be a concrete `DriftStrategy` subclass whose
`config_model` is a `StrategyConfig`. Every failure is one `StrategyLoadError` naming the
spec and what is wrong with it (no traceback for the user).

Processes that run a sweep elsewhere (a Ray cluster) may not have the user's file: a
`StrategyRef` carries a file strategy's source text with its spec, so the same class is
built from the same code on every worker (`StrategyRef.load`).
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import sys
import types
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from drift_engine.core.errors import DriftEngineError
from drift_engine.strategies.base import DriftStrategy, StrategyConfig

#: Entry-point group under which installed packages declare their strategies.
ENTRY_POINT_GROUP = "drift_engine.strategies"

#: Module name prefix of strategies imported from a file path.
FILE_MODULE_PREFIX = "drift_engine_user_strategy_"


class StrategyLoadError(DriftEngineError, ValueError):
    """A strategy spec names nothing usable; the message says which spec and why."""

    def __init__(self, spec: str, message: str) -> None:
        self.spec = spec
        super().__init__(f"strategy {spec!r}: {message}")


def _builtins() -> dict[str, type[DriftStrategy]]:
    from drift_engine.strategies.delta_neutral import DeltaNeutralStrategy
    from drift_engine.strategies.funding_spread import FundingSpreadStrategy

    return {cls.name: cls for cls in (DeltaNeutralStrategy, FundingSpreadStrategy)}


def builtin_strategies() -> dict[str, type[DriftStrategy]]:
    """The strategies that ship with drift-engine, by name."""
    return _builtins()


def installed_strategies() -> dict[str, metadata.EntryPoint]:
    """Strategies declared by installed packages (entry points), by name; not imported."""
    out: dict[str, metadata.EntryPoint] = {}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        out.setdefault(ep.name, ep)
    return out


def is_path_spec(spec: str) -> bool:
    """True when `spec` names a file (`dir/file.py:Class`), not a module."""
    target = spec.rpartition(":")[0]
    return target.endswith(".py") or "/" in target or "\\" in target


def check_strategy_class(spec: str, obj: Any) -> type[DriftStrategy]:
    """`obj` if it is a usable strategy class, else a StrategyLoadError saying why."""
    if not (inspect.isclass(obj) and issubclass(obj, DriftStrategy)):
        raise StrategyLoadError(spec, f"{obj!r} is not a DriftStrategy subclass")
    if inspect.isabstract(obj):
        missing = ", ".join(sorted(getattr(obj, "__abstractmethods__", ()))) or "?"
        raise StrategyLoadError(spec, f"{obj.__name__} does not implement {missing}")
    model = getattr(obj, "config_model", None)
    if not (inspect.isclass(model) and issubclass(model, StrategyConfig)):
        raise StrategyLoadError(spec, f"{obj.__name__}.config_model is not a StrategyConfig")
    return obj


def _attribute(spec: str, module: types.ModuleType, attr: str) -> Any:
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise StrategyLoadError(spec, f"{module.__name__} has no {attr!r}") from None
    return obj


def _split(spec: str) -> tuple[str, str]:
    target, sep, attr = spec.rpartition(":")
    if not sep or not target or not attr:
        raise StrategyLoadError(
            spec,
            "not a known strategy name, and not `module:Class` or `path/to/file.py:Class` "
            f"(known: {', '.join(sorted(known_names()))})",
        )
    return target, attr


def _module_name_for(path: Path) -> str:
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    stem = "".join(c if c.isalnum() else "_" for c in path.stem)
    return f"{FILE_MODULE_PREFIX}{stem}_{digest}"


def _exec_module(spec: str, name: str, source: str, filename: str) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__file__ = filename
    sys.modules[name] = module  # dataclasses and pydantic look their module up here
    try:
        code = compile(source, filename, "exec")
        exec(code, module.__dict__)  # noqa: S102 - the user's own strategy file
    except SyntaxError as exc:
        sys.modules.pop(name, None)
        raise StrategyLoadError(spec, f"{filename}:{exc.lineno}: {exc.msg}") from None
    except Exception as exc:  # noqa: BLE001 - any import-time error of user code
        sys.modules.pop(name, None)
        raise StrategyLoadError(
            spec, f"importing {filename} failed: {type(exc).__name__}: {exc}"
        ) from None
    return module


#: Modules imported from files (by absolute path) or from shipped source (by digest):
#: each is executed once per process, so every spec naming it gets the same classes.
_LOADED: dict[str, types.ModuleType] = {}


def _file_module(spec: str, path: Path) -> types.ModuleType:
    key = str(path)
    if key not in _LOADED:
        if not path.is_file():
            raise StrategyLoadError(
                spec, f"{path} does not exist (relative paths are from the current directory)"
            )
        _LOADED[key] = _exec_module(spec, _module_name_for(path), path.read_text(), key)
    return _LOADED[key]


def _source_module(spec: str, source: str, filename: str) -> types.ModuleType:
    digest = hashlib.sha1(source.encode()).hexdigest()[:10]
    key = f"source:{digest}"
    if key not in _LOADED:
        name = f"{FILE_MODULE_PREFIX}shipped_{digest}"
        _LOADED[key] = _exec_module(spec, name, source, filename)
    return _LOADED[key]


def _from_module(spec: str, target: str, attr: str) -> type[DriftStrategy]:
    try:
        module = importlib.import_module(target)
    except ImportError as exc:
        raise StrategyLoadError(spec, f"cannot import {target}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - import-time error of user code
        raise StrategyLoadError(
            spec, f"importing {target} failed: {type(exc).__name__}: {exc}"
        ) from None
    return check_strategy_class(spec, _attribute(spec, module, attr))


def known_names() -> list[str]:
    return sorted({*builtin_strategies(), *installed_strategies()})


def resolve_strategy(spec: str) -> type[DriftStrategy]:
    """The strategy class that `spec` names (see the module docstring)."""
    spec = spec.strip()
    if not spec:
        raise StrategyLoadError(spec, "empty strategy name")
    builtin = builtin_strategies()
    if spec in builtin:
        return builtin[spec]
    installed = installed_strategies()
    if spec in installed:
        ep = installed[spec]
        try:
            obj = ep.load()
        except Exception as exc:  # noqa: BLE001 - a broken installed package
            raise StrategyLoadError(
                spec, f"loading entry point {ep.value} failed: {type(exc).__name__}: {exc}"
            ) from None
        return check_strategy_class(spec, obj)
    target, attr = _split(spec)
    if is_path_spec(spec):
        module = _file_module(spec, Path(target).expanduser().resolve())
        return check_strategy_class(spec, _attribute(spec, module, attr))
    return _from_module(spec, target, attr)


def strategy_label(spec: str, cls: type[DriftStrategy]) -> str:
    """The name to show and persist for a strategy: its `name`, else its class name."""
    return cls.name or cls.__name__


@dataclass(frozen=True)
class StrategyRef:
    """A picklable handle on a strategy for another process or machine.

    Built-in, installed and `module:Class` strategies travel as their spec (the worker
    must have the same packages installed). A file strategy also carries the file's
    source text, so a worker without the file builds the class from the same code.
    """

    spec: str
    source: str | None = None

    @classmethod
    def of(cls, spec: str) -> StrategyRef:
        """Resolve `spec` here (errors surface before any work is shipped) and capture a
        file strategy's source."""
        resolve_strategy(spec)
        if is_path_spec(spec) and spec.strip() not in builtin_strategies():
            target, _ = _split(spec.strip())
            path = Path(target).expanduser().resolve()
            return cls(spec.strip(), path.read_text())
        return cls(spec.strip())

    def load(self) -> type[DriftStrategy]:
        if self.source is None:
            return resolve_strategy(self.spec)
        target, attr = _split(self.spec)
        module = _source_module(self.spec, self.source, target)
        return check_strategy_class(self.spec, _attribute(self.spec, module, attr))


__all__ = [
    "ENTRY_POINT_GROUP",
    "StrategyLoadError",
    "StrategyRef",
    "builtin_strategies",
    "check_strategy_class",
    "installed_strategies",
    "is_path_spec",
    "known_names",
    "resolve_strategy",
    "strategy_label",
]
