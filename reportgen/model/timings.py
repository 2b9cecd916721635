"""Training times kept beside a checkpoint, out of its bytes, so identical trainings write identical files.

A checkpoint's SHA-256 names the model in every report and in the comparison with a previous one; the
seconds a training took differ between identical runs, so they live in ``<checkpoint>.timings.json``,
which names the checkpoint's SHA-256 and is joined back in when that checkpoint is loaded.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)

#: Keys of the training record and of each history entry that vary between identical trainings.
TIMING_KEYS = ("seconds", "images_per_second")


def timings_path(path: Path | str) -> Path:
    """Where the training times of the checkpoint ``path`` are: ``<path>.timings.json``."""
    path = Path(path)
    return path.with_name(path.name + ".timings.json")


def move_checkpoint(source: Path | str, target: Path | str) -> None:
    """Rename a checkpoint and its timings file (when it has one)."""
    os.replace(source, target)
    if timings_path(source).is_file():
        os.replace(timings_path(source), timings_path(target))


def split_timings(training: dict | None, history: list[dict] | None) -> tuple[dict | None, list[dict], dict]:
    """``training`` and ``history`` without :data:`TIMING_KEYS`, and those keys' values (empty when none)."""
    history = list(history or [])
    timings = {}
    if isinstance(training, dict) and any(key in training for key in TIMING_KEYS):
        timings["training"] = {key: training[key] for key in TIMING_KEYS if key in training}
        training = {key: value for key, value in training.items() if key not in TIMING_KEYS}
    if any(key in entry for entry in history for key in TIMING_KEYS):
        timings["history"] = [{key: entry.get(key) for key in TIMING_KEYS} for entry in history]
        history = [{key: value for key, value in entry.items() if key not in TIMING_KEYS} for entry in history]
    return training, history, timings


def read_timings(path: Path | str, sha256: str) -> dict:
    """The timings recorded beside the checkpoint ``path``, or ``{}`` when absent, unreadable or another file's.

    Parameters
    ----------
    path : the checkpoint.
    sha256 : its SHA-256; a timings file written for other bytes is ignored.

    Returns
    -------
    ``{"training": {...}, "history": [{...} per epoch]}``, either key possibly absent.
    """
    sidecar = timings_path(path)
    if not sidecar.is_file():
        return {}
    try:
        timings = json.loads(sidecar.read_text())
    except (OSError, ValueError) as error:
        logger.warning("%s: ignoring unreadable training times (%s)", sidecar, error)
        return {}
    if not isinstance(timings, dict) or timings.get("checkpoint_sha256") != sha256:
        logger.debug("%s: training times of another checkpoint; ignored", sidecar)
        return {}
    return timings


def with_timings(path: Path, sha256: str, training: dict | None, history: list[dict] | None
                  ) -> tuple[dict | None, list[dict]]:
    """``training`` and ``history`` with the times from beside the checkpoint joined back in."""
    timings = read_timings(path, sha256)
    history = [dict(entry) for entry in history or []]
    if isinstance(training, dict) and isinstance(timings.get("training"), dict):
        training = {**training, **timings["training"]}
    times = timings.get("history")
    if isinstance(times, list) and len(times) == len(history):
        for entry, measured in zip(history, times, strict=True):
            if isinstance(measured, dict):
                entry.update({key: measured[key] for key in TIMING_KEYS if key in measured})
    return training, history
