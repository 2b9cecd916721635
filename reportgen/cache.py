"""Content-addressed cache of explanation maps and metric curves.

Regenerating a report after a template or wording change should take seconds,
and adding patches should compute only the new ones.  Each entry is one patch's
result for one method and one set of settings, stored as an ``.npz`` file
named by the SHA-256 of everything that determines it (checkpoint hash, data
fingerprint, patch id, method, settings).  A corrupt or unreadable entry is
treated as missing and recomputed, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """``$REPORTGEN_CACHE`` or ``~/.cache/reportgen``."""
    return Path(os.environ.get("REPORTGEN_CACHE") or Path.home() / ".cache" / "reportgen")


def cache_key(**parts) -> str:
    """Stable hex digest of JSON-serialisable ``parts`` (order of keyword arguments does not matter)."""
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ArrayCache:
    """A directory of ``<key>.npz`` entries; ``enabled=False`` makes every lookup a miss.

    Parameters
    ----------
    root : directory of the entries (created on first write).
    enabled : ``False`` for ``--no-cache``: nothing is read or written.
    """

    def __init__(self, root: Path, *, enabled: bool = True):
        self.root = Path(root)
        self.enabled = enabled
        self.hits = 0
        self.misses = 0

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npz"

    def get(self, key: str) -> dict[str, np.ndarray] | None:
        """The arrays stored under ``key``, or ``None`` when absent or corrupt."""
        if not self.enabled:
            return None
        path = self._path(key)
        if not path.exists():
            self.misses += 1
            return None
        try:
            with np.load(path, allow_pickle=False) as stored:
                arrays = {name: stored[name] for name in stored.files}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError) as error:
            logger.warning("ignoring corrupt cache entry %s (%s); recomputing", path, error)
            path.unlink(missing_ok=True)
            self.misses += 1
            return None
        self.hits += 1
        return arrays

    def put(self, key: str, arrays: dict[str, np.ndarray]) -> None:
        """Store ``arrays`` under ``key`` atomically (write a temporary file, then rename)."""
        if not self.enabled:
            return
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=path.parent)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                np.savez(handle, **arrays)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
