"""The parameters a sweep tries: `--grid name=lo:hi:step` (inclusive range) or
`--grid name=a,b,c` (a list), checked against the strategy's config model.

A grid dimension is also an Optuna search-space dimension: a range becomes
`suggest_float`/`suggest_int` with its step (so Optuna samples the same lattice the grid
enumerates), a list becomes `suggest_categorical`.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

#: Most values one range may expand to (a typo like 0:1:0.00001 is an error, not a hang).
MAX_VALUES = 10_000


class SpaceError(ValueError):
    """A `--grid`/`--param` item is malformed or names a bad parameter; `option` says
    which option and `key` which parameter."""

    def __init__(self, option: str, key: str, message: str) -> None:
        self.option = option
        self.key = key
        super().__init__(f"{option} {key}: {message}" if key else f"{option}: {message}")


def _number(text: str) -> Decimal:
    try:
        return Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number") from None


def _scalar(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text.strip()


@dataclass(frozen=True)
class Dimension:
    """One swept parameter: its grid values and, for a range, low/high/step."""

    name: str
    values: tuple[Any, ...]
    low: float | int | None = None
    high: float | int | None = None
    step: float | int | None = None

    @property
    def is_range(self) -> bool:
        return self.step is not None

    @property
    def is_int(self) -> bool:
        return self.is_range and all(isinstance(v, int) for v in self.values)

    def suggest(self, trial: Any) -> Any:
        """This dimension's value for an Optuna trial (same lattice as the grid)."""
        if self.is_int:
            return trial.suggest_int(self.name, int(self.low), int(self.high), step=int(self.step))
        if self.is_range:
            # Optuna's stepped floats may land off the grid by float rounding: snap back.
            raw = trial.suggest_float(self.name, float(self.low), float(self.high), step=self.step)
            return min(self.values, key=lambda v: abs(v - raw))
        return trial.suggest_categorical(self.name, list(self.values))


def parse_dimension(text: str, option: str = "--grid") -> Dimension:
    """`name=lo:hi:step` (inclusive; integers stay integers), `name=a,b,c`, `name=v`."""
    name, sep, spec = text.partition("=")
    name = name.strip()
    if not sep or not name or not spec.strip():
        raise SpaceError(option, text, "expected name=lo:hi:step or name=a,b,c")
    if ":" in spec:
        parts = spec.split(":")
        if len(parts) != 3:
            raise SpaceError(option, name, f"{spec!r} is not lo:hi:step")
        try:
            lo, hi, step = (_number(p) for p in parts)
        except ValueError as exc:
            raise SpaceError(option, name, str(exc)) from None
        if step <= 0:
            raise SpaceError(option, name, f"step {step} must be > 0")
        if hi < lo:
            raise SpaceError(option, name, f"high {hi} is below low {lo}")
        count = int((hi - lo) / step) + 1
        if count > MAX_VALUES:
            raise SpaceError(option, name, f"{count} values (at most {MAX_VALUES})")
        integral = all("." not in p and "e" not in p.lower() for p in parts)
        exact = [lo + i * step for i in range(count)]  # Decimal: 0.02 + 8 x 0.01 is 0.10
        values: tuple[Any, ...] = tuple(int(v) if integral else float(v) for v in exact)
        conv = int if integral else float
        return Dimension(name, values, conv(lo), conv(hi), conv(step))
    values = tuple(_scalar(v) for v in spec.split(","))
    if len(set(map(json.dumps, values))) != len(values):
        raise SpaceError(option, name, "a value is listed twice")
    return Dimension(name, values)


@dataclass(frozen=True)
class SearchSpace:
    dimensions: tuple[Dimension, ...]

    @classmethod
    def parse(cls, items: list[str]) -> SearchSpace:
        dims = tuple(parse_dimension(i) for i in items)
        seen: set[str] = set()
        for d in dims:
            if d.name in seen:
                raise SpaceError("--grid", d.name, "given twice")
            seen.add(d.name)
        return cls(dims)

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.dimensions]

    @property
    def size(self) -> int:
        n = 1
        for d in self.dimensions:
            n *= len(d.values)
        return n

    def grid(self) -> list[dict[str, Any]]:
        """Every combination, first dimension slowest."""
        if not self.dimensions:
            return [{}]
        names = self.names
        return [
            dict(zip(names, combo, strict=True))
            for combo in itertools.product(*(d.values for d in self.dimensions))
        ]

    def suggest(self, trial: Any) -> dict[str, Any]:
        return {d.name: d.suggest(trial) for d in self.dimensions}


def _errors_for(exc: ValidationError, name: str) -> list[dict[str, Any]]:
    return [e for e in exc.errors() if e["loc"] and e["loc"][0] == name]


def check_space(cls: Any, space: SearchSpace, fixed: dict[str, Any], *, protected=()) -> None:
    """Every swept and fixed parameter is a field of the strategy's config and every value
    is valid on its own; the first problem is a SpaceError naming the option and key.

    Combinations that break a rule between fields (exit_apr above entry_apr) are not
    errors here: `split_valid` sets them aside, each with its reason.
    """
    fields = cls.config_model.model_fields
    known = ", ".join(fields)
    for option, names in (("--param", list(fixed)), ("--grid", space.names)):
        for name in names:
            if name not in fields:
                raise SpaceError(option, name, f"not a parameter of this strategy ({known})")
            if name in protected:
                raise SpaceError(option, name, "is set by --market (the data depends on it)")
    for name, value in fixed.items():
        try:
            cls.config_model.model_validate({**fixed, name: value})
        except ValidationError as exc:
            errs = _errors_for(exc, name)
            if errs:
                raise SpaceError("--param", name, f"{value!r}: {errs[0]['msg']}") from None
    for d in space.dimensions:
        if d.name in fixed:
            raise SpaceError("--grid", d.name, "is also fixed by --param")
        for value in d.values:
            try:
                cls.config_model.model_validate({**fixed, d.name: value})
            except ValidationError as exc:
                errs = _errors_for(exc, d.name)
                if errs:
                    raise SpaceError("--grid", d.name, f"{value!r}: {errs[0]['msg']}") from None


def invalid_reason(cls: Any, params: dict[str, Any]) -> str | None:
    """Why this full set of parameters is refused by the config model (None: valid)."""
    try:
        cls.config_model.model_validate(params)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        return f"{where}: {err['msg']}" if where else str(err["msg"]).removeprefix("Value error, ")
    return None


__all__ = [
    "Dimension",
    "SearchSpace",
    "SpaceError",
    "check_space",
    "invalid_reason",
    "parse_dimension",
]
