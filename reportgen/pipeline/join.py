"""Put the results of consecutive chunks of patches back together in report order (:mod:`reportgen.pipeline.chunks`).

One rule per kind of value, so a new per-patch result joins without a join function of its own:

- arrays hold one row per patch and are concatenated;
- dicts, lists, tuples and dataclasses are joined key by key, item by item and field by field;
- ``None`` stays ``None`` (a step that did not run, a measure without masks);
- anything else (names, settings, flags, a number of the run) is the same in every chunk: the first chunk's.

A dataclass field whose chunks combine otherwise names its rule in its metadata (:data:`ADDED` for a cost of the
run, :func:`joined_by` for any other), and a class whose joined value needs more than its fields (a result drawn
from all patches at once) defines ``join_chunks(parts)``, which may call :func:`join_fields`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

_RULE = "join"


def joined_by(rule: Callable[[list], Any]) -> dict:
    """Field metadata: the chunks' values of this field, in report order, -> the joined value."""
    return {_RULE: rule}


#: Field metadata for a cost of the run (seconds, forward passes, cached patches): the chunks' values are added.
ADDED = joined_by(sum)


def join(parts: Sequence[Any]) -> Any:
    """The chunks' ``parts`` (results of the same step on consecutive patches) as one result, in report order."""
    first = parts[0]
    if first is None:
        return None
    if isinstance(first, np.ndarray):  # one row per patch
        return np.concatenate([np.asarray(part) for part in parts])
    if dataclasses.is_dataclass(first):
        return getattr(type(first), "join_chunks", join_fields)(list(parts))
    if isinstance(first, dict):
        return {key: join([part[key] for part in parts]) for key in first}
    if isinstance(first, (list, tuple)):
        return type(first)(join(list(items)) for items in zip(*parts, strict=True))
    return first


def join_fields(parts: Sequence[Any]) -> Any:
    """A dataclass joined field by field: by the field's own rule (its metadata), else by :func:`join`."""
    first = parts[0]
    values = {field.name: field.metadata.get(_RULE, join)([getattr(part, field.name) for part in parts])
              for field in dataclasses.fields(first) if field.init}
    return dataclasses.replace(first, **values)
