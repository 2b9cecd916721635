"""Errors that reach the user as one line and a documented exit code.

Every failure caused by the user's input (a file, a flag, a configuration value)
is raised as a subclass of :class:`UserInputError`; its message names the
problem and the fix.  The CLI prints ``reportgen: error: <message>`` and exits
with :attr:`ReportgenError.exit_code`; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator


class ReportgenError(Exception):
    """Base class; exit code 1 (unexpected)."""

    exit_code = 1


class UserInputError(ReportgenError):
    """Bad input or usage; exit code 2."""

    exit_code = 2


class DataError(UserInputError):
    """A data file or directory is missing, unreadable or not in the PCam layout."""


class CheckpointError(UserInputError):
    """A checkpoint cannot be loaded safely or does not match the expected model."""


class ConfigError(UserInputError):
    """An option or configuration-file value is invalid."""


class GateFailed(ReportgenError):
    """A ``--fail-if`` gate failed; the report was still written. Exit code 3."""

    exit_code = 3


def unknown_name_error(kind: str, name: str, valid: list[str]) -> ConfigError:
    """Error for an unknown registry name that lists the valid ones.

    >>> str(unknown_name_error("method", "foo", ["a", "b"]))
    "unknown method 'foo'; choose from: a, b"
    """
    return ConfigError(f"unknown {kind} {name!r}; choose from: {', '.join(sorted(valid))}")


class Terminated(KeyboardInterrupt):
    """SIGTERM, turned into an exception so the same clean-up as Ctrl-C runs."""


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Raise :class:`Terminated` on SIGTERM inside the block (main thread only)."""

    def _handler(signum, frame):
        raise Terminated(f"terminated by signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, _handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
