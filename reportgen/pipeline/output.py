"""Write a report directory atomically, one run at a time, and the files in it.

A scheduled run that dies half way must leave last month's report exactly as
it was.  The report is built in a temporary directory next to ``--out`` (same
file system, so the final move is a rename) and swapped in only when complete.
A lock file beside it stops two runs writing the same ``--out`` at once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

from reportgen.config import BuildConfig, config_to_toml
from reportgen.errors import ConfigError, sigterm_as_interrupt
from reportgen.schema import ReportDocument, to_json

logger = logging.getLogger(__name__)

#: A file every report directory carries, so reportgen only ever replaces its own output.
MARKER = "report.json"
#: The file a shard directory carries instead (``reportgen build --shard K/N``).
SHARD_MARKER = "shard.json"


def check_output_dir(out: Path) -> None:
    """Refuse an ``--out`` that reportgen must not replace.

    An existing directory is replaced only when it holds a previous report
    (``report.json``) or nothing at all, so ``--out ~`` cannot wipe a home
    directory.
    """
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; give a directory path for the report")
    if out.is_dir() and any(out.iterdir()) and not any((out / name).exists() for name in (MARKER, SHARD_MARKER)):
        raise ConfigError(
            f"--out {out} is a non-empty directory that holds no reportgen report; "
            "choose an empty or new directory"
        )
    parent = out.parent if str(out.parent) else Path(".")
    for ancestor in (parent, *parent.parents):
        if ancestor.exists():
            if not ancestor.is_dir():
                raise ConfigError(f"cannot write the report to {out}: {ancestor} is a file, not a directory; "
                                  "choose another --out")
            break
    if parent.exists() and not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"cannot write the report beside {out}: {parent} is not writable; choose another --out")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def output_lock(out: Path) -> Iterator[Path]:
    """Hold ``.<name>.lock`` beside ``out``; a lock left by a dead process is taken over."""
    lock = out.parent / f".{out.name}.lock"
    for _ in range(2):
        try:
            descriptor = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                owner = int(lock.read_text().strip() or 0)
            except (OSError, ValueError):
                owner = 0
            if owner and _pid_alive(owner):
                raise ConfigError(
                    f"another reportgen run (pid {owner}) is writing {out}; wait for it or remove {lock}"
                ) from None
            logger.warning("removing stale lock %s left by pid %s", lock, owner)
            lock.unlink(missing_ok=True)
            continue
        except OSError as error:
            raise ConfigError(f"cannot create {lock} ({error.strerror}); choose a writable --out") from None
        with os.fdopen(descriptor, "w") as handle:
            handle.write(str(os.getpid()))
        break
    try:
        yield lock
    finally:
        lock.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_output_dir(out: str | Path) -> Iterator[Path]:
    """Yield a temporary directory that replaces ``out`` only if the block succeeds.

    On any exception (including Ctrl-C and SIGTERM) the temporary directory is
    removed and ``out`` is untouched.  The swap renames the previous report
    aside, renames the new one into place, then deletes the old one, so at no
    moment is there no complete report.
    """
    out = Path(out)
    check_output_dir(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with output_lock(out), sigterm_as_interrupt():
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
        # mkdtemp creates 0700; a report directory gets the usual permissions.
        umask = os.umask(0)
        os.umask(umask)
        staging.chmod(0o777 & ~umask)
        try:
            yield staging
            _swap_into_place(staging, out)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise


def _swap_into_place(staging: Path, out: Path) -> None:
    # Signals are blocked during the two renames so an interrupt cannot land between them.
    previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        retired = None
        if out.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.rmdir(retired)
            os.replace(out, retired)
        os.replace(staging, out)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)
    if retired is not None:
        shutil.rmtree(retired, ignore_errors=True)


def write_outputs(staging: Path, document: ReportDocument, config: BuildConfig) -> None:
    """report.json and the resolved configuration; the maps are already in ``attributions.h5``
    (:mod:`reportgen.pipeline.patch_store`)."""
    (staging / "report.json").write_text(json.dumps(to_json(document), indent=2, sort_keys=False) + "\n", encoding="utf-8")
    (staging / "config.toml").write_text(config_to_toml(config), encoding="utf-8")
