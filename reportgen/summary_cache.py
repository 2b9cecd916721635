"""Agreement and localisation of a report, cached by the values of its maps.

Both are cheap next to the curves but not free, and both include generated
sentences, so they are cached per report, keyed by a digest of the maps (and
masks), the seed, the titles and the source of the metric code: a
template-only rebuild recomputes neither, and a change to a wording or a
threshold in ``reportgen.metrics`` is never served stale.  An entry that does
not parse or has the wrong shape or dtype is recomputed, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from pathlib import Path

import numpy as np

from reportgen.cache import ArrayCache, cache_key

logger = logging.getLogger(__name__)


#: Modules whose code determines the agreement and localisation numbers and notes.
_SUMMARY_MODULES = ("reportgen.metrics.agreement", "reportgen.metrics.localisation",
                    "reportgen.metrics.faithfulness", "reportgen.metrics.stats")


def metric_code_version() -> str:
    """SHA-256 of the source of :data:`_SUMMARY_MODULES`.

    Part of the agreement and localisation cache keys: their cached values
    include generated sentences, so a change to a threshold or a wording in
    the metric code must not be served stale from the cache.
    """
    import importlib

    digest = hashlib.sha256()
    for name in _SUMMARY_MODULES:
        module = sys.modules.get(name) or importlib.import_module(name)
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()


def arrays_digest(arrays: dict[str, np.ndarray | None]) -> str:
    """SHA-256 over the names, dtypes, shapes and bytes of ``arrays`` (``None`` values included as such).

    Keys the cached summaries by the maps themselves, so whatever produced
    them (checkpoint, data, patches, targets, method settings), a summary is
    only ever served for exactly the same values.
    """
    digest = hashlib.sha256()
    for name, array in arrays.items():
        digest.update(name.encode("utf-8") + b"\0")
        if array is None:
            digest.update(b"none\0")
            continue
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}\0".encode("ascii"))
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


def _valid_agreement(value, methods: list[str], n_images: int) -> bool:
    """Whether a cached ``[agreement, notes]`` pair has the shape this report needs."""
    if not (isinstance(value, list) and len(value) == 2):
        return False
    agreement, notes = value
    if not (isinstance(agreement, dict) and agreement.get("methods") == methods):
        return False
    size = len(methods)
    try:
        per_image = agreement["per_image"]
        for key in ("spearman", "iou_top10"):
            matrix = agreement[key]
            if not (len(matrix) == size and all(len(row) == size for row in matrix)):
                return False
            if not all(value is None or isinstance(value, float) for row in matrix for value in row):
                return False
            cube = per_image[key]
            if not (len(cube) == size and all(len(row) == size for row in cube)):
                return False
            if not all(isinstance(cell, list) and len(cell) == n_images
                       and all(value is None or isinstance(value, float) for value in cell)
                       for row in cube for cell in row):
                return False
    except (KeyError, TypeError):
        return False
    return isinstance(notes, list) and len(notes) == n_images and all(isinstance(note, str) for note in notes)


def cached_agreement(method_maps: dict[str, np.ndarray], titles: dict[str, str], *, n_images: int, seed: int,
                     cache: ArrayCache, code: str) -> tuple[dict, list[str]]:
    """:func:`~reportgen.metrics.agreement.agreement_matrix` and one agreement note per patch, cached.

    Parameters
    ----------
    method_maps : method name -> (N, H, W) maps, in report order.
    titles : method name -> display title (part of the notes).
    n_images : N, the number of notes.
    seed : tie-break seed of the IoU.
    code : :func:`metric_code_version`.

    Returns
    -------
    (agreement dict as from ``agreement_matrix``, list of N note strings).  A
    cached entry that does not parse or has the wrong shape is recomputed.
    """
    methods = list(method_maps)
    key = cache_key(kind="agreement", maps=arrays_digest(method_maps), titles=titles, n_images=n_images,
                    seed=seed, code=code)
    stored = cache.get(key)
    if stored is not None and "json" in stored and stored["json"].shape == ():
        try:
            value = json.loads(str(stored["json"]))
        except ValueError:
            value = None
        if _valid_agreement(value, methods, n_images):
            return value[0], value[1]
        logger.warning("ignoring an invalid cached agreement entry; recomputing")
    from reportgen.metrics.agreement import agreement_matrix, agreement_note

    agreement = agreement_matrix(method_maps, seed=seed)
    notes = [agreement_note({name: m[i] for name, m in method_maps.items()}, titles) for i in range(n_images)]
    cache.put(key, {"json": np.array(json.dumps([agreement, notes]))})
    return agreement, notes


_LOCALISATION_METRICS = ("centre_mass", "pointing_game", "mass_in_mask")


def cached_localisation(maps: dict[str, np.ndarray], masks, *, seed: int, cache: ArrayCache,
                        code: str) -> dict[str, dict[str, np.ndarray | None]]:
    """Centre mass, pointing game and mass in mask of every map set, cached.

    Parameters
    ----------
    maps : name -> (N, H, W) maps (methods and references).
    masks : (N, H, W) ground-truth masks, or ``None`` (then only centre mass).
    seed, code : as :func:`cached_agreement`.

    Returns
    -------
    name -> metric -> (N,) float64, or ``None`` for the mask metrics without
    masks.  A cached entry missing an array, or with one of another shape or
    dtype, is recomputed.
    """
    from reportgen.metrics.localisation import centre_mass, mass_in_mask, pointing_game

    n_images = len(next(iter(maps.values()))) if maps else 0
    wanted = [f"{name}.{metric}" for name in maps for metric in _LOCALISATION_METRICS
              if masks is not None or metric == "centre_mass"]
    key = cache_key(kind="localisation", maps=arrays_digest(maps), masks=arrays_digest({"masks": masks}),
                    seed=seed, code=code)
    stored = cache.get(key)
    if stored is not None and set(stored) == set(wanted) and all(
            stored[name].shape == (n_images,) and stored[name].dtype == np.float64 for name in wanted):
        return {name: {metric: stored.get(f"{name}.{metric}") for metric in _LOCALISATION_METRICS}
                for name in maps}
    if stored is not None:
        logger.warning("ignoring an invalid cached localisation entry; recomputing")
    localisation = {}
    for name, values in maps.items():
        localisation[name] = {
            "centre_mass": centre_mass(values),
            "pointing_game": pointing_game(values, masks, seed=seed) if masks is not None else None,
            "mass_in_mask": mass_in_mask(values, masks) if masks is not None else None,
        }
    cache.put(key, {f"{name}.{metric}": np.asarray(array, dtype=np.float64)
                    for name, entry in localisation.items() for metric, array in entry.items() if array is not None})
    return localisation
