"""Numbers and configuration values as the short text the report shows.

``None`` and NaN read ``"n/a"``; intervals read ``"0.123 [0.101, 0.145]"``.
Every number in the report goes through these, so one place decides how many
digits a reader sees.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from reportgen.schema.record import Record, to_json

MISSING = "n/a"


def fmt(value: Any, digits: int = 3) -> str:
    """A number with ``digits`` decimals; ``None``/NaN as ``"n/a"``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    return _without_negative_zero(f"{float(value):.{digits}f}")


def _without_negative_zero(text: str) -> str:
    """``"-0.000"`` as ``"0.000"``: a value that rounds to zero has no sign a reader should see."""
    return text[1:] if text.startswith(("-", "+")) and float(text) == 0.0 else text


def fmt_signed(value: float | None, digits: int = 3) -> str:
    """A change with its sign (``"+0.012"``); one that rounds to zero reads ``"0.000"``."""
    return MISSING if value is None else _without_negative_zero(f"{value:+.{digits}f}")


def fmt_p(value: float | None) -> str:
    """A p-value: three significant digits, ``"< 0.001"`` below 0.001."""
    if value is None:
        return MISSING
    return "< 0.001" if value < 0.001 else f"{value:.3g}"


def fmt_interval(record: Record | dict | None, digits: int = 3) -> str:
    """A record with a ``mean`` and its ``ci95`` (:class:`reportgen.schema.Interval`, ``Rate``, ``Share``), or the
    plain ``{"mean", "ci95"}`` of the model's free-form evaluation, as ``"0.123 [0.101, 0.145]"``; the mean alone
    when there is no interval."""
    if isinstance(record, dict):
        mean, interval = record.get("mean"), record.get("ci95")
    else:
        mean, interval = (None, None) if record is None else (record.mean, record.ci95)
    if mean is None:
        return MISSING
    text = fmt(mean, digits)
    low, high = interval or (None, None)
    if low is not None and high is not None:
        text += f" [{fmt(low, digits)}, {fmt(high, digits)}]"
    return text


def fmt_any(value: Any) -> str:
    """Any configuration value as short text (JSON for lists, dicts and records)."""
    if isinstance(value, Record):
        value = to_json(value)
    if value is None:
        return MISSING
    if isinstance(value, (bool, int)):
        return fmt(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def rows_of(mapping: dict | None, *, skip: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """(key, formatted value) pairs of a flat dict, in its order."""
    return [(str(key), fmt_any(value)) for key, value in (mapping or {}).items() if key not in skip]


def human_key(key: str) -> str:
    """A settings key as a reader's label: ``num_samples`` -> ``Num samples``."""
    text = str(key).replace("_", " ")
    return text[:1].upper() + text[1:]


def fmt_plain(value: Any) -> str:
    """A value for people: lists joined by commas, tables as "key: value" pairs, floats to 4 significant digits."""
    if isinstance(value, Record):
        value = to_json(value)
    if isinstance(value, dict):
        return ", ".join(f"{human_key(k).lower()}: {fmt_plain(v)}" for k, v in value.items()) or MISSING
    if isinstance(value, (list, tuple)):
        return ", ".join(fmt_plain(v) for v in value) or MISSING
    if isinstance(value, float):
        return f"{value:.4g}"
    return fmt_any(value)


def file_name(path) -> str:
    """The last part of a local path: the report shows names, never where a file lies on someone's disk
    (the full path stays in report.json)."""
    if not path:
        return MISSING
    return re.split(r"[\\/]", str(path).rstrip("\\/"))[-1] or MISSING


#: An absolute or home-relative path inside a command line (POSIX, ``~``, or a Windows drive).
_PATH_TOKEN = re.compile(r"(?<![\w.-])(?:/|~/|[A-Za-z]:[\\/])[^\s'\"]*")


def without_paths(text: str) -> str:
    """``text`` with every absolute path shortened to ``.../name`` (:func:`file_name`)."""
    return _PATH_TOKEN.sub(lambda match: f".../{file_name(match.group(0))}", text)
