"""A faster `__init__` for frozen, slotted dataclasses built on hot paths.

A frozen dataclass's generated `__init__` stores every field with
`object.__setattr__(self, "name", value)` (it must get past the class's own
`__setattr__`, which raises). For a slotted class the same store is the slot's member
descriptor: `Class.name.__set__(self, value)`, about three times cheaper per field. The
margin calculation builds one `MarginCalculation`, a `PerpPositionValue` per position and
a `StrictOraclePrice` per market; the simulator three records per funding hour and
several per fill (issue #14).
"""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any, TypeVar

T = TypeVar("T", bound=type)

#: a hot path's record made through its class's twin (`twin_of`): a plain slotted class
#: with the same slots, whose `__init__` stores each field with an ordinary slot store
#: and then sets the object's class to the record's own (the same layout, so what comes
#: out is exactly the record: frozen, equal, hashed, pickled and `replace`d alike).
#: About half the cost of `set_by_slots`' descriptor calls for a record of ten fields
#: (issue 14). The call sites: the funding hour's records (`sim.funding_interest`) and
#: the paper venue's `FundingEvent` and `InterestEvent`. False: the class itself (the
#: reference)
TWIN_BUILD = True


def set_by_slots(cls: T) -> T:
    """Give the frozen, slotted dataclass `cls` an `__init__` that stores each field through
    its slot's descriptor. Same parameters, order and defaults as the dataclass's own
    `__init__` (fields with a `default_factory`, `init=False` or a `__post_init__` are
    refused: none of the classes it is used on has them); the instance is still frozen
    (assignment raises), and compares, hashes, pickles and `replace`s as before
    (tests/core/test_frozen_init.py)."""
    _refuse(cls)
    space = {f"_set{i}": cls.__dict__[f.name].__set__ for i, f in enumerate(fields(cls))}
    cls.__init__ = _made_init(cls, space, "    _set{i}(self, {name})")  # type: ignore[misc]
    return cls


def twin_of(cls: type) -> type:
    """A maker of `cls`'s instances, called as `cls` is: a class with `cls`'s slots (the
    same layout) whose `__init__`, with `cls`'s parameters, order and defaults, writes
    each field to its slot and then assigns `cls` as the object's class. Python allows
    that assignment only between classes of the same layout, so a `cls` it does not fit
    fails here, at import, not on a hot path. Only for the frozen, slotted dataclasses
    `set_by_slots` takes, with no base but `object`."""
    _refuse(cls)
    if cls.__bases__ != (object,):
        raise TypeError(f"{cls.__name__}: only for dataclasses on object")
    init = _made_init(cls, {"_cls": cls}, "    self.{name} = {name}", "    self.__class__ = _cls")
    twin = type(
        f"{cls.__name__}Twin",
        (object,),
        {"__slots__": cls.__slots__, "__init__": init, "__module__": cls.__module__},
    )
    probe = object.__new__(twin)
    probe.__class__ = cls  # (raises here if the layouts differ)
    return twin


def _refuse(cls: type) -> None:
    """Raise TypeError for a class neither maker serves: not a frozen, slotted
    dataclass, or one with a `__post_init__`."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not (params.frozen and "__slots__" in cls.__dict__):
        raise TypeError(f"{cls.__name__}: only for frozen, slotted dataclasses")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__}: has a __post_init__")


def _made_init(cls: type, space: dict, store: str, last: str = "") -> Any:
    """An `__init__` with the frozen, slotted dataclass `cls`'s parameters, order and
    defaults whose body stores each field by the line `store` (formatted with the
    field's position `i` and `name`), then runs `last`; compiled in `space` (the names
    the lines use). Refuses a field with `init=False` or a `default_factory` (neither
    maker serves them)."""
    names, body = [], []
    for i, f in enumerate(fields(cls)):
        if not f.init or f.default_factory is not MISSING:
            raise TypeError(f"{cls.__name__}.{f.name}: init=False or a default_factory")
        if f.default is MISSING:
            names.append(f.name)
        else:
            space[f"_default{i}"] = f.default
            names.append(f"{f.name}=_default{i}")
        body.append(store.format(i=i, name=f.name))
    if last:
        body.append(last)
    source = f"def __init__(self, {', '.join(names)}):\n" + "\n".join(body or ["    pass"])
    exec(source, space)  # noqa: S102 - the source is built from the class's field names
    init = space["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    return init


__all__ = ["TWIN_BUILD", "set_by_slots", "twin_of"]
