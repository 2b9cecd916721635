"""Where the PatchCamelyon files are, and opening them with one-line errors.

A data directory holds, per split, ``camelyonpatch_level_2_split_{split}_x.h5``
(dataset ``x`` (N, 96, 96, 3) uint8) and ``..._y.h5`` (dataset ``y``
(N, 1, 1, 1) uint8), each either plain or as the downloaded ``.h5.gz``
(Veeling et al., 2018). Optional ``..._meta.csv`` files give the slide id
(column ``wsi``). This module knows those names and shapes (and the centre
region the label is about), finds a split's files, and opens them so that an
unreadable or broken file is one DataError naming it and the fix.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py

from reportgen.errors import DataError

PCAM_FILE = "camelyonpatch_level_2_split_{split}_{part}.h5"
META_FILE = "camelyonpatch_level_2_split_{split}_meta.csv"
SPLITS = ("train", "valid", "test")
PATCH_SIZE = 96
IMAGE_SHAPE = (PATCH_SIZE, PATCH_SIZE, 3)
# The PCam label rule looks at the centre 32x32 region, pixels 32..63.
CENTRE_START, CENTRE_STOP = 32, 64

# HDF5 chunk cache per open file; the default 1 MiB is smaller than one PCam chunk.
_CHUNK_CACHE_BYTES = 64 * 2**20


def find_file(data_dir: Path, split: str, part: str) -> Path | None:
    """The plain ``.h5`` if present, else the ``.h5.gz``, else None."""
    plain = data_dir / PCAM_FILE.format(split=split, part=part)
    if plain.is_file():
        return plain
    packed = plain.with_name(plain.name + ".gz")
    return packed if packed.is_file() else None


def check_readable(path: Path) -> None:
    """DataError naming ``path`` when this process may not read it."""
    if not os.access(path, os.R_OK):
        raise DataError(f"{path}: file is not readable (permissions); run chmod +r on it or copy it somewhere readable")


def open_h5(path: Path, shown_name: str) -> h5py.File:
    """Open ``path`` read-only with a chunk cache that holds a PCam chunk.

    shown_name : the name the user knows, e.g. the ``.h5.gz`` a cached copy came from.
    """
    check_readable(path)
    try:
        return h5py.File(path, "r", rdcc_nbytes=_CHUNK_CACHE_BYTES)
    except PermissionError as error:
        raise DataError(f"{shown_name}: file is not readable (permissions); run chmod +r on it") from error
    except OSError as error:
        raise DataError(f"{shown_name}: not a readable HDF5 file, truncated or corrupt ({error}); download it again") from error
