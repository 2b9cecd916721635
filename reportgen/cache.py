"""Content-addressed cache of computed results (maps, curves, predictions, summaries).

Adding patches to a report should compute only the new ones, and a rebuild
after a template change should not explain anything again.  Each entry is an
``.npz`` file named by the SHA-256 of everything that determines it
(checkpoint hash, data fingerprint, patch id, method, settings) **and of the
code that computed it** (:func:`code_version`), so after an upgrade that fixes
a metric or an explainer no old number is served.  A corrupt, unreadable or
invalid entry is treated as missing and recomputed, never trusted.

Runs that share a cache (two scheduled audits started together) make each
entry once: the run that misses an entry takes an operating-system lock beside
it (:func:`entry_lock`) while it computes, and a second run that needs the
same entry waits for the lock, then reads what the first one stored.  The same
lock guards the embedded data set and the demo checkpoint.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import logging
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path

import numpy as np

try:
    import fcntl
except ImportError:  # Windows: no flock; runs there do not coordinate (each entry is still written atomically)
    fcntl = None

logger = logging.getLogger(__name__)

Arrays = dict[str, np.ndarray]

#: Parts of the package that only present results; a change to them never invalidates a cached number.
PRESENTATION_SOURCES = ("report", "judgement", "formatting.py", "cli.py", "__main__.py", "schema",
                        "pipeline/document.py", "pipeline/document_facts.py", "pipeline/output.py",
                        "pipeline/stability_section.py", "pipeline/slide_section.py", "pipeline/stain_section.py")

#: Libraries whose versions decide computed numbers (kernels, explainers, segmentation, statistics).
NUMERIC_LIBRARIES = ("torch", "torchvision", "numpy", "scipy", "captum", "grad-cam", "lime", "scikit-image", "torchstain", "h5py")


def default_cache_dir() -> Path:
    """``$REPORTGEN_CACHE`` or ``~/.cache/reportgen``: the one place every cached file lives."""
    return Path(os.environ.get("REPORTGEN_CACHE") or Path.home() / ".cache" / "reportgen").expanduser()


@lru_cache(maxsize=1)
def code_version() -> str:
    """SHA-256 of the source of every computing module of reportgen and the numeric libraries' versions.

    Every module outside :data:`PRESENTATION_SOURCES` counts, so a new module
    is covered the moment it exists; rewording a template or a report
    sentence keeps the cache, changing an explainer, a metric, the data
    reader or a library version does not.
    """
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package).as_posix()
        if any(relative == part or relative.startswith(part + "/") for part in PRESENTATION_SOURCES):
            continue
        digest.update(relative.encode("utf-8") + b"\0" + path.read_bytes() + b"\0")
    for name in NUMERIC_LIBRARIES:
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            version = "absent"
        digest.update(f"{name}={version}\0".encode())
    return digest.hexdigest()


@contextlib.contextmanager
def entry_lock(path: Path, *, what: str, announce: bool = True) -> Iterator[bool]:
    """Hold the exclusive lock of the cache entry ``path`` while this run makes it.

    The lock is ``flock`` on ``<path>.lock``, beside the entry: the operating
    system releases it when the process ends, however it ends, so an
    interrupted run never leaves a lock that blocks the next one.  A run that
    finds the lock held logs that it waits, and waits; the caller then looks
    for the entry again before computing it.  Once the entry exists the lock
    file is removed (a run still waiting on it holds the same file open, gets
    the lock and finds the entry); after a failure it stays, unlocked, and is
    reused.

    Parameters
    ----------
    path : the entry (a file or a directory) the lock guards; its folder is created.
    what : the entry in words, for the log line of a run that waits (e.g. ``"generating the demo data set"``).
    announce : log a wait at info level (default True); ``False`` logs it at debug level only, for the
        many small entries of one step.

    Yields
    ------
    waited : whether another run held the lock when this one asked for it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fcntl is None:
        yield False
        return
    lock_path = path.with_name(path.name + ".lock")
    with open(lock_path, "a+b") as handle:
        waited = False
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            waited = True
            logger.log(logging.INFO if announce else logging.DEBUG, "waiting for another reportgen run to finish %s (%s)",
                       what, lock_path)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield waited
            if path.exists():
                lock_path.unlink(missing_ok=True)
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


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
    version : mixed into every key; default :func:`code_version`, so entries
        written by other code are never read.
    """

    def __init__(self, root: Path, *, enabled: bool = True, version: str | None = None):
        self.root = Path(root)
        self.enabled = enabled
        self.version = code_version() if version is None else version
        #: Keys this cache returned or stored through :meth:`memo` and :meth:`memo_rows`: a shard's results.
        self.used: set[str] = set()
        #: Whether this run has waited for another run's entry yet (only the first wait is logged at info level).
        self._waited = False

    def key(self, **parts) -> str:
        """The entry name for ``parts`` under this cache's code version."""
        return cache_key(code=self.version, **parts)

    def entry_path(self, key: str) -> Path:
        """Where the entry for ``key`` is (or would be) stored."""
        return self.root / key[:2] / f"{key}.npz"

    _path = entry_path

    def get(self, key: str) -> Arrays | None:
        """The arrays stored under ``key``, or ``None`` when absent or corrupt."""
        if not self.enabled:
            return None
        path = self._path(key)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as stored:
                return {name: stored[name] for name in stored.files}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError) as error:
            logger.warning("ignoring corrupt cache entry %s (%s); recomputing", path, error)
            path.unlink(missing_ok=True)
            return None

    def put(self, key: str, arrays: Arrays) -> None:
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

    def memo(self, key: str, compute: Callable[[], Arrays], validate: Callable[[Arrays], bool]) -> tuple[Arrays, bool]:
        """The stored entry when it passes ``validate``, else ``compute()`` stored under ``key``.

        Parameters
        ----------
        key : from :meth:`key`.
        compute : returns the arrays to store (and to return).
        validate : whether a stored entry has the shape, dtype and range the
            caller needs; an entry that fails it is recomputed, never trusted.

        Returns
        -------
        (arrays, hit) : ``hit`` is True when the entry came from the cache.
        """
        self.used.add(key)
        stored = self._valid(key, validate)
        if stored is not None:
            return stored, True
        if not self.enabled:
            return compute(), False
        with self._lock(key):
            # Another run may have stored it while this one waited for the lock.
            stored = self._valid(key, validate)
            if stored is not None:
                return stored, True
            arrays = compute()
            self.put(key, arrays)
        return arrays, False

    @contextlib.contextmanager
    def _lock(self, key: str) -> Iterator[None]:
        """:func:`entry_lock` of the entry ``key``; a run that follows another logs its first wait only."""
        what = "computing results this run needs too (later waits are logged with -v)"
        with entry_lock(self._path(key), what=what, announce=not self._waited) as waited:
            self._waited |= waited
            yield

    def _valid(self, key: str, validate: Callable[[Arrays], bool]) -> Arrays | None:
        """The entry under ``key`` if it exists, reads and passes ``validate``; else ``None``."""
        stored = self.get(key)
        if stored is None:
            return None
        try:
            if validate(stored):
                return stored
        except (KeyError, ValueError, TypeError, IndexError):
            pass
        logger.warning("ignoring an invalid cache entry %s; recomputing", self._path(key))
        return None

    def memo_rows(self, keys: list[str], compute: Callable[[list[int]], list[Arrays]],
                  validate: Callable[[Arrays], bool]) -> tuple[list[Arrays], list[int]]:
        """:meth:`memo` for one entry per row, computing every missing row in one call.

        Batched work (curves across patches, sanity re-explanations) is then
        as fast for a half-cached report as for an uncached one.

        Parameters
        ----------
        keys : one key per row.
        compute : rows (positions in ``keys``) -> their entries, in the same order.
        validate : as for :meth:`memo`.

        Returns
        -------
        (entries, computed) : one entry per key, and the rows that were computed.
        """
        self.used.update(keys)
        entries = [self._valid(key, validate) for key in keys]
        missing = [row for row, entry in enumerate(entries) if entry is None]
        if not missing:
            return entries, missing
        with contextlib.ExitStack() as locks:
            if self.enabled:
                # Every run takes the locks in the same (sorted) order, so two runs never wait on each other.
                for key in sorted({keys[row] for row in missing}):
                    locks.enter_context(self._lock(key))
                for row in missing:
                    entries[row] = self._valid(keys[row], validate)  # stored by another run meanwhile?
                missing = [row for row, entry in enumerate(entries) if entry is None]
            if missing:
                for row, arrays in zip(missing, compute(missing), strict=True):
                    self.put(keys[row], arrays)
                    entries[row] = arrays
        return entries, missing
