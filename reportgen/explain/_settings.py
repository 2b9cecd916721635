"""Checks for explainer settings that raise one-line ConfigErrors.

Every message names the method, the setting, the bad value and what would be
valid, so ``reportgen: error: ...`` tells the user how to fix the flag or the
configuration file.
"""

from __future__ import annotations

from reportgen.errors import ConfigError


def check_choice(method: str, setting: str, value, choices) -> str:
    """``value`` if it is one of ``choices``, else a ConfigError listing them."""
    if value not in choices:
        raise ConfigError(
            f"{method}: setting {setting}={value!r} is invalid; choose from: {', '.join(map(str, choices))}"
        )
    return value


def check_int(method: str, setting: str, value, *, minimum: int = 1) -> int:
    """``value`` if it is an int >= ``minimum`` (bools rejected), else a ConfigError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{method}: setting {setting}={value!r} is invalid; use an integer >= {minimum}")
    return value


def check_float(
    method: str, setting: str, value, *, minimum: float = 0.0, maximum: float = float("inf"), inclusive: bool = True
) -> float:
    """``float(value)`` if it is a number in range (above ``minimum``, at most ``maximum``), else a ConfigError."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok:
        ok = (value >= minimum if inclusive else value > minimum) and value <= maximum
    if not ok:
        bound = f"{'>=' if inclusive else '>'} {minimum}" + (f" and <= {maximum}" if maximum != float("inf") else "")
        raise ConfigError(f"{method}: setting {setting}={value!r} is invalid; use a number {bound}")
    return float(value)


def check_known(method: str, given: dict, defaults: dict) -> None:
    """Raise a ConfigError for the first setting that ``method`` does not have."""
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        valid = ", ".join(sorted(defaults)) or "(none besides seed, batch_size, precision)"
        raise ConfigError(f"{method}: unknown setting {unknown[0]!r}; valid settings: {valid}")
