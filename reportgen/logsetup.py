"""The command line's log format: ``reportgen: message`` lines on stderr.

Shared by the command line and the PDF worker process (reportgen.report.pdf),
so a message reads the same whichever process wrote it.
"""

from __future__ import annotations

import logging
import sys


def log_to_stderr(level: int) -> None:
    """Send the ``reportgen`` loggers' records at ``level`` and above to stderr, and only there."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("reportgen: %(message)s"))
    root = logging.getLogger("reportgen")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
