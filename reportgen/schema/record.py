"""The typed records of ``report.json``: dataclasses whose fields are the document's keys, in order.

:func:`from_json` reads a JSON value into a record, recursively by the fields' type hints, and :func:`to_json`
writes it back: ``to_json(from_json(Cls, value)) == value`` for every value of ``Cls``'s shape, key order
included (``tests/test_schema.py``).  Reading is lenient in one way only, for an earlier ``report.json`` given to
``--compare``: a key it lacks reads as ``None`` and a key it has beyond the record's is dropped, unless the record
keeps such keys in a field marked :data:`SPREAD` (the document does, for the records of sections registered beyond
the schema).  Values are not
converted: a record holds what the producer gave it (plain ``int``, ``float``, ``str``, ``bool``, lists and
string-keyed dicts), so writing it back is exact.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
import types
import typing
from typing import Any

#: Every record is a keyword-only dataclass without a generated ``__eq__`` (:meth:`Record.__eq__` compares
#: the written form, so a record equals the JSON value it was read from).
record = functools.partial(dataclasses.dataclass, kw_only=True, eq=False)

#: Field metadata of a ``dict`` field whose entries are the record's own keys beyond its declared ones: read from
#: the keys the record does not declare, written after the declared ones.
SPREAD = {"spread": True}


@record
class Record:
    """Base of the typed records.  A record also reads like the JSON object it writes (``record["key"]``,
    ``record.get("key")``, ``key in record``, ``record.items()``), which templates and tools written against
    ``report.json`` use; setting a key reads its value into the field's type."""

    def to_json(self) -> dict[str, Any]:
        return to_json(self)

    @classmethod
    def from_json(cls, value: dict[str, Any]):
        return from_json(cls, value)

    def __eq__(self, other) -> bool:
        if isinstance(other, Record):
            return type(self) is type(other) and to_json(self) == to_json(other)
        if isinstance(other, dict):
            return to_json(self) == other
        return NotImplemented

    __hash__ = None  # mutable, like the dict it stands for

    def keys(self) -> list[str]:
        return [*field_hints(type(self)), *self._spread()]

    def _spread(self) -> dict[str, Any]:
        name = spread_field(type(self))
        return {} if name is None else getattr(self, name)

    def __contains__(self, key) -> bool:
        return key in field_hints(type(self)) or key in self._spread()

    def __iter__(self):
        return iter(self.keys())

    def __getitem__(self, key: str):
        if key in field_hints(type(self)):
            return getattr(self, key)
        return self._spread()[key]

    def get(self, key: str, default=None):
        return self[key] if key in self else default

    def items(self):
        return [(key, self[key]) for key in self.keys()]

    def values(self):
        return [self[key] for key in self.keys()]

    def __setitem__(self, key: str, value) -> None:
        hints = field_hints(type(self))
        if key in hints:
            setattr(self, key, from_json(hints[key], value))
        elif spread_field(type(self)) is not None:
            self._spread()[key] = value
        else:
            raise KeyError(f"{type(self).__name__} has no key {key!r}")

    def update(self, values: dict[str, Any] | None = None, **more) -> None:
        for key, value in {**(values or {}), **more}.items():
            self[key] = value


@functools.cache
def field_hints(cls: type) -> dict[str, Any]:
    """A record's declared keys -> type hint, in field order (inherited fields first; a :data:`SPREAD` field is
    not a key)."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if not f.metadata.get("spread")}


@functools.cache
def spread_field(cls: type) -> str | None:
    """The name of a record's :data:`SPREAD` field, or ``None``."""
    return next((f.name for f in dataclasses.fields(cls) if f.metadata.get("spread")), None)


def is_record(hint) -> bool:
    return isinstance(hint, type) and issubclass(hint, Record) and hint is not Record


@functools.cache
def record_in(hint) -> type | None:
    """The record type a type hint holds: itself, or inside ``X | None``, ``list[X]`` or ``dict[str, X]``."""
    if is_record(hint):
        return hint
    for inner in typing.get_args(hint):
        found = record_in(inner)
        if found is not None:
            return found
    return None


def from_json(hint, value):
    """``value`` (a JSON value, or records already made) read as type ``hint``."""
    if value is None or hint is Any or record_in(hint) is None:
        return value
    if is_record(hint):
        if isinstance(value, hint):
            return value
        if not isinstance(value, (dict, Record)):
            raise TypeError(f"{hint.__name__} is read from a JSON object, not {type(value).__name__}")
        declared = field_hints(hint)
        values = {key: from_json(inner, value.get(key)) for key, inner in declared.items()}
        spread = spread_field(hint)
        if spread is not None:
            values[spread] = {key: item for key, item in value.items() if key not in declared}
        return hint(**values)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        (inner,) = [arg for arg in args if arg is not type(None)]
        return from_json(inner, value)
    # A list or dict whose items are already records is kept as it is, so that it stays the object its maker holds.
    if origin is list:
        items = [from_json(args[0], item) for item in value]
        return value if all(a is b for a, b in zip(items, value)) else items
    if origin is dict:
        items = {key: from_json(args[1], item) for key, item in value.items()}
        return value if all(items[key] is item for key, item in value.items()) else items
    return value


def to_json(value):
    """A record (or a list or dict of them) as the JSON value it stands for, keys in field order."""
    if isinstance(value, (Record, dict)):
        return {key: to_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(item) for item in value]
    return value


def make_record(name: str, fields: dict[str, Any], doc: str, *, module: str, attribute: str | None = None) -> type:
    """A record type made at import time from ``fields`` (key -> type hint), for records whose keys depend on
    what is registered (:mod:`reportgen.schema.sections`).  It is bound to ``module`` under ``attribute``
    (default ``name``), where pickle finds it."""
    cls = dataclasses.make_dataclass(name, list(fields.items()), bases=(Record,), kw_only=True, eq=False)
    cls.__doc__, cls.__module__, cls.__qualname__ = doc, module, attribute or name
    setattr(sys.modules[module], cls.__qualname__, cls)
    return cls
