"""Up-front checks of one split's files: missing, unreadable, truncated, corrupt or mis-shaped.

Everything is validated when the directory is opened, so a bad file fails in
the first second with one line (a DataError) naming it and the fix, not an
hour into a run. The checks return what they found, from which
:func:`reportgen.data.reader.open_pcam` builds the split.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reportgen.data.files import (
    IMAGE_SHAPE,
    META_FILE,
    PATCH_SIZE,
    PCAM_FILE,
    check_readable,
    find_file,
    open_h5,
)
from reportgen.data.gunzip import decompress_once
from reportgen.data.synth import SYNTHETIC_MARKER
from reportgen.errors import DataError


@dataclass(frozen=True)
class CheckedSplit:
    """What the checks of one split found.

    x_path, y_path : the plain HDF5 files read (a cached copy for a ``.h5.gz``).
    x_source, y_source : the files in the data directory, named in errors.
    labels : (N,) int64 in {0, 1}.
    has_masks : whether the x file holds a ``mask`` dataset (N, 96, 96) uint8.
    chunk_rows : rows per HDF5 chunk of ``x`` (1 when not chunked).
    slide_ids : (N,) object array from the meta csv, or None without one.
    synthetic : whether the x file carries the synthetic generator's marker.
    fingerprint_parts : what the dataset fingerprint hashes for this split.
    """

    x_path: Path
    y_path: Path
    x_source: Path
    y_source: Path
    labels: np.ndarray
    has_masks: bool
    chunk_rows: int
    slide_ids: np.ndarray | None
    synthetic: bool
    fingerprint_parts: list


def _read_slide_ids(meta_path: Path, n_patches: int) -> np.ndarray:
    check_readable(meta_path)
    with open(meta_path, newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or "wsi" not in header:
            raise DataError(f"{meta_path.name}: no 'wsi' column in the header; expected the original PCam meta columns")
        column = header.index("wsi")
        slide_ids = [row[column] for row in reader if row]
    if len(slide_ids) != n_patches:
        raise DataError(
            f"{meta_path.name}: {len(slide_ids)} rows but the split has {n_patches} patches; "
            "use the meta file that belongs to these HDF5 files or remove it"
        )
    return np.asarray(slide_ids, dtype=object)


def check_split(data_dir: Path, split: str, cache_dir: Path) -> CheckedSplit:
    """Check one split's files; ``.h5.gz`` files are decompressed into ``cache_dir`` first.

    Raises DataError with one line naming the file for any missing,
    unreadable, truncated or malformed file.
    """
    sources = {part: find_file(data_dir, split, part) for part in ("x", "y")}
    if sources["x"] is None or sources["y"] is None:
        expected = " and ".join(PCAM_FILE.format(split=split, part=part) for part in ("x", "y"))
        raise DataError(f"{data_dir}: split {split!r} is missing; expected {expected} (or .h5.gz); check the directory")
    paths = {
        part: decompress_once(source, cache_dir) if source.name.endswith(".gz") else source
        for part, source in sources.items()
    }
    for part in ("x", "y"):
        if not sources[part].name.endswith(".gz"):
            check_readable(paths[part])

    with open_h5(paths["y"], sources["y"].name) as y_file:
        if "y" not in y_file:
            raise DataError(f"{sources['y'].name}: no dataset 'y'; is this a PCam label file?")
        y = y_file["y"]
        if y.dtype != np.uint8 or y.ndim < 1 or int(np.prod(y.shape[1:])) != 1:
            raise DataError(
                f"{sources['y'].name}: dataset 'y' is {y.dtype} {y.shape}; expected uint8 (N, 1, 1, 1)"
            )
        try:
            labels = y[()].reshape(-1).astype(np.int64)
        except OSError as error:
            raise DataError(f"{sources['y'].name}: cannot read 'y', file is corrupt ({error}); download it again") from error

    x_file = open_h5(paths["x"], sources["x"].name)
    try:
        if "x" not in x_file:
            raise DataError(f"{sources['x'].name}: no dataset 'x'; is this a PCam image file?")
        x = x_file["x"]
        if x.dtype != np.uint8 or x.shape[1:] != IMAGE_SHAPE:
            raise DataError(f"{sources['x'].name}: dataset 'x' is {x.dtype} {x.shape}; expected uint8 (N, 96, 96, 3)")
        n_patches = x.shape[0]
        if n_patches == 0:
            raise DataError(f"{sources['x'].name}: split {split!r} is empty; use a complete download")
        if len(labels) != n_patches:
            raise DataError(
                f"{sources['y'].name}: {len(labels)} labels but {sources['x'].name} has {n_patches} images; "
                "the x and y files do not belong together"
            )
        outside = np.setdiff1d(np.unique(labels), [0, 1])
        if outside.size:
            raise DataError(f"{sources['y'].name}: labels {outside.tolist()} outside {{0, 1}}; PCam labels are binary")
        has_masks = "mask" in x_file
        if has_masks:
            mask = x_file["mask"]
            if mask.dtype != np.uint8 or mask.shape != (n_patches, PATCH_SIZE, PATCH_SIZE):
                raise DataError(
                    f"{sources['x'].name}: dataset 'mask' is {mask.dtype} {mask.shape}; "
                    f"expected uint8 ({n_patches}, 96, 96)"
                )
        sample_rows = sorted({0, n_patches // 2, n_patches - 1})
        try:
            sample = b"".join(x[row].tobytes() for row in sample_rows)
        except OSError as error:
            raise DataError(f"{sources['x'].name}: cannot read 'x', file is corrupt ({error}); download it again") from error
        synthetic = SYNTHETIC_MARKER in x_file.attrs
        chunk_rows = x.chunks[0] if x.chunks else 1
    finally:
        x_file.close()

    meta_path = data_dir / META_FILE.format(split=split)
    slide_ids = _read_slide_ids(meta_path, n_patches) if meta_path.is_file() else None
    fingerprint_parts = [
        split,
        str((n_patches,) + IMAGE_SHAPE),
        paths["x"].stat().st_size,
        paths["y"].stat().st_size,
        has_masks,
        hashlib.sha256(labels.astype(np.uint8).tobytes()).hexdigest(),
        hashlib.sha256(sample).hexdigest(),
    ]
    return CheckedSplit(
        x_path=paths["x"],
        y_path=paths["y"],
        x_source=sources["x"],
        y_source=sources["y"],
        labels=labels,
        has_masks=has_masks,
        chunk_rows=chunk_rows,
        slide_ids=slide_ids,
        synthetic=synthetic,
        fingerprint_parts=fingerprint_parts,
    )
