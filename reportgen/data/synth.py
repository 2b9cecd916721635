"""Synthetic PCam: H&E-like patches with known tumour masks, in the real file layout.

The generator writes the six PatchCamelyon files
(``camelyonpatch_level_2_split_{train,valid,test}_{x,y}.h5``, chunked and
gzip-compressed like the originals, Veeling et al., 2018) plus a ``mask``
dataset in each ``_x`` file and a ``_meta.csv`` with a slide id per patch.
Because the tumour mask is known, localisation metrics (pointing game, mass in
mask) can be checked against ground truth, which real PCam does not offer.

Colour follows the Beer-Lambert stain model of Ruifrok & Johnston (2001).
The label is exactly "the tumour mask touches the centre 32x32 region"
(pixels 32..63), the PCam labelling rule. This module writes the files; the
tissue is drawn in :mod:`reportgen.data.tissue`.
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Mapping
from pathlib import Path

import h5py
import numpy as np
from tqdm import tqdm

from reportgen.data.files import CENTRE_START, CENTRE_STOP, PATCH_SIZE
from reportgen.data.shortcuts import SHORTCUTS, plant_shortcut
from reportgen.data.tissue import KIND_HARD_NEGATIVE, KIND_NEGATIVE, KIND_POSITIVE, draw_slides, render_block
from reportgen.errors import ConfigError

logger = logging.getLogger(__name__)

GENERATOR_VERSION = 7
SYNTHETIC_MARKER = "reportgen_synthetic_version"
DEMO_SIZES = {"train": 8192, "valid": 1024, "test": 512}

#: Simulated slides per split: 400 in all, as PatchCamelyon's patches come from Camelyon16's 400 slides.  The
#: validation and test splits have 32 each, so 30 explained patches can come from 30 different slides (the unit of
#: every interval and test where slide ids exist) while each slide still holds about 32 validation patches.
DEMO_SLIDES = {"train": 336, "valid": 32, "test": 32}

# Rows per HDF5 chunk; the generator draws random numbers block by block, so
# this block size is part of what makes the output depend only on the seed.
CHUNK_ROWS = 32
# Level 1 compresses these smooth images nearly as well as 4 at a third of the cost.
GZIP_LEVEL = 1
_BLOCK = 256
_SPLIT_NUMBER = {"train": 0, "valid": 1, "test": 2}


def centre_labels(masks: np.ndarray) -> np.ndarray:
    """PCam label rule: 1 when the mask touches the centre 32x32 region.

    masks : (N, 96, 96) uint8 or bool. Returns (N,) uint8.
    """
    return masks[:, CENTRE_START:CENTRE_STOP, CENTRE_START:CENTRE_STOP].any(axis=(1, 2)).astype(np.uint8)


def _create_dataset(h5: h5py.File, name: str, shape: tuple[int, ...]) -> h5py.Dataset:
    chunks = (min(CHUNK_ROWS, shape[0]),) + shape[1:]
    # track_times=False keeps the file byte-identical for the same seed.
    return h5.create_dataset(
        name, shape=shape, dtype=np.uint8, chunks=chunks, compression="gzip", compression_opts=GZIP_LEVEL, track_times=False
    )


def _write_split_files(x_path: Path, y_path: Path, meta_path: Path, *, rng, shortcut_rng, split: str, kinds,
                       slides, slide_index, coords, seed: int, shortcut: str, shortcut_agreement: float,
                       progress: bool) -> int:
    """The split's patches, masks and labels (``x_path``, ``y_path``) and its meta file, drawn with ``rng``;
    returns the number of positive patches."""
    n_patches = len(kinds)
    labels = np.zeros(n_patches, dtype=np.uint8)
    any_tumour = np.zeros(n_patches, dtype=bool)
    with h5py.File(x_path, "w") as x_file, h5py.File(y_path, "w") as y_file:
        x_file.attrs[SYNTHETIC_MARKER] = GENERATOR_VERSION
        x_file.attrs["seed"] = seed
        x_data = _create_dataset(x_file, "x", (n_patches, PATCH_SIZE, PATCH_SIZE, 3))
        mask_data = _create_dataset(x_file, "mask", (n_patches, PATCH_SIZE, PATCH_SIZE))
        y_data = _create_dataset(y_file, "y", (n_patches, 1, 1, 1))
        starts = range(0, n_patches, _BLOCK)
        for start in tqdm(starts, desc=f"synthetic {split}", disable=not progress, unit="block"):
            stop = min(start + _BLOCK, n_patches)
            images, masks = render_block(rng, kinds[start:stop], slides, slide_index[start:stop])
            labels[start:stop] = centre_labels(masks)
            x_data[start:stop] = plant_shortcut(images, labels[start:stop], shortcut, agreement=shortcut_agreement,
                                                rng=shortcut_rng)
            mask_data[start:stop] = masks
            any_tumour[start:stop] = masks.any(axis=(1, 2))
        y_data[:] = labels.reshape(-1, 1, 1, 1)

    # Same columns as the original meta files: unnamed index, then these five.
    with open(meta_path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["", "coord_y", "coord_x", "tumor_patch", "center_tumor_patch", "wsi"])
        for index in range(n_patches):
            writer.writerow(
                [
                    index,
                    coords[index, 0],
                    coords[index, 1],
                    bool(any_tumour[index]),
                    bool(labels[index]),
                    f"synthetic_{split}_slide_{slide_index[index]:03d}",
                ]
            )
    return int(labels.sum())


def _write_split(
    out_dir: Path,
    split: str,
    n_patches: int,
    *,
    seed: int,
    hard_negative_fraction: float,
    positive_fraction: float,
    n_slides: int,
    slide_options: dict,
    progress: bool,
    shortcut: str = "none",
    shortcut_agreement: float = 0.95,
    written: dict[Path, Path],
) -> None:
    """One split's three files, each under a ``.partial`` name recorded in ``written`` (partial -> final)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, _SPLIT_NUMBER[split], GENERATOR_VERSION]))
    # A stream of its own: planting a shortcut leaves every other random draw, so the tissue, as it was.
    shortcut_rng = np.random.default_rng(np.random.SeedSequence([seed, _SPLIT_NUMBER[split], GENERATOR_VERSION, 1]))
    slides = draw_slides(rng, n_slides, **slide_options)
    n_positive = int(round(n_patches * positive_fraction))
    n_hard = int(round((n_patches - n_positive) * hard_negative_fraction))
    kinds = np.full(n_patches, KIND_NEGATIVE, dtype=np.int64)
    kinds[:n_positive] = KIND_POSITIVE
    kinds[n_positive : n_positive + n_hard] = KIND_HARD_NEGATIVE
    kinds = rng.permutation(kinds)
    slide_index = rng.integers(n_slides, size=n_patches)
    coords = rng.integers(0, 100_000, size=(n_patches, 2)) // 96 * 96

    final = {kind: out_dir / f"camelyonpatch_level_2_split_{split}_{kind}" for kind in ("x.h5", "y.h5", "meta.csv")}
    partial = {path.with_name(path.name + ".partial"): path for path in final.values()}
    written.update(partial)
    x_path, y_path, meta_path = partial
    positives = _write_split_files(x_path, y_path, meta_path, rng=rng, shortcut_rng=shortcut_rng, split=split,
                                   kinds=kinds, slides=slides, slide_index=slide_index, coords=coords, seed=seed,
                                   shortcut=shortcut, shortcut_agreement=shortcut_agreement, progress=progress)
    logger.info("wrote synthetic %s split: %d patches, %d positive", split, n_patches, positives)


def write_synthetic_pcam(
    out_dir: str | Path,
    *,
    seed: int = 0,
    n_train: int = DEMO_SIZES["train"],
    n_valid: int = DEMO_SIZES["valid"],
    n_test: int = DEMO_SIZES["test"],
    hard_negative_fraction: float = 0.2,
    positive_fraction: float = 0.5,
    slides_per_split: int | Mapping[str, int] = DEMO_SLIDES,
    stain_jitter: float = 0.04,
    brightness_jitter: float = 0.06,
    blur_fraction: float = 0.25,
    blur_sigma: float = 0.7,
    shortcut: str = "none",
    shortcut_agreement: float = 0.95,
    progress: bool = False,
) -> Path:
    """Write a synthetic PCam data set in the real six-file layout.

    Parameters
    ----------
    out_dir : directory to write into (created if missing; existing files are overwritten).
    seed : the output files are byte-identical for the same seed and options (default 0).
    n_train, n_valid, n_test : patches per split (defaults: ``DEMO_SIZES``, 8192 / 1024 / 512).
    hard_negative_fraction : share of negatives carrying a tumour-like cluster
        only outside the centre 32x32 region (default 0.2).
    positive_fraction : share of label-1 patches (default 0.5, like PCam).
    slides_per_split : simulated slides, each with its own stain: one count for every split, or split -> count
        (default :data:`DEMO_SLIDES`, 336 / 32 / 32).
    stain_jitter : standard deviation added to each stain vector per slide (default 0.04).
    brightness_jitter : scale of the per-slide brightness loss (default 0.06).
    blur_fraction : share of slides scanned out of focus (default 0.25).
    blur_sigma : Gaussian blur sigma in pixels for those slides (default 0.7).
    shortcut : a shortcut planted in every split (:mod:`reportgen.data.shortcuts`): ``"none"`` (default),
        ``"stain"`` or ``"periphery_marker"``.
    shortcut_agreement : share of the patches on which the shortcut follows the label (default 0.95).
    progress : show a tqdm progress bar (default False).

    Returns
    -------
    The output directory, containing per split ``camelyonpatch_level_2_split_{split}_x.h5``
    (``x`` (N, 96, 96, 3) uint8, ``mask`` (N, 96, 96) uint8), ``..._y.h5`` (``y``
    (N, 1, 1, 1) uint8) and ``..._meta.csv`` (slide id in column ``wsi``).
    """
    sizes = {"train": n_train, "valid": n_valid, "test": n_test}
    for split, size in sizes.items():
        if int(size) < 1:
            raise ConfigError(f"n_{split}={size}: every split needs at least 1 patch; pass a positive count")
    for name, value in (("hard_negative_fraction", hard_negative_fraction), ("positive_fraction", positive_fraction)):
        if not 0.0 <= value <= 1.0:
            raise ConfigError(f"{name}={value} is outside [0, 1]; pass a share between 0 and 1")
    if shortcut not in SHORTCUTS:
        raise ConfigError(f"shortcut={shortcut!r} is not one of {', '.join(SHORTCUTS)}")
    if not 0.0 <= shortcut_agreement <= 1.0:
        raise ConfigError(f"shortcut_agreement={shortcut_agreement} is outside [0, 1]; pass a share between 0 and 1")
    slide_counts = (dict(slides_per_split) if isinstance(slides_per_split, Mapping)
                    else dict.fromkeys(sizes, slides_per_split))
    for split, count in slide_counts.items():
        if split not in sizes or int(count) < 1:
            raise ConfigError(f"slides_per_split={slides_per_split}: need at least 1 slide for each of "
                              f"{', '.join(sizes)}; pass a positive count")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    slide_options = dict(
        stain_jitter=stain_jitter,
        brightness_jitter=brightness_jitter,
        blur_fraction=blur_fraction,
        blur_sigma=blur_sigma,
    )
    # Every file is written beside its final name and all are renamed once every split is complete, so a failure
    # (a full disk, an interrupt, a reader holding a file) leaves a data set already there as it was: no truncated
    # file, no mix of old and new splits.
    written: dict[Path, Path] = {}
    try:
        for split, size in sizes.items():
            _write_split(
                out_dir,
                split,
                int(size),
                seed=seed,
                hard_negative_fraction=hard_negative_fraction,
                positive_fraction=positive_fraction,
                n_slides=int(slide_counts.get(split, DEMO_SLIDES[split])),
                slide_options=slide_options,
                progress=progress,
                shortcut=shortcut,
                shortcut_agreement=shortcut_agreement,
                written=written,
            )
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    for path, final in written.items():
        os.replace(path, final)
    return out_dir
