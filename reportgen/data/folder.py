"""Reading an image folder of patches: a team's own patches, audited like PCam.

Layout (``--data-dir DIR``)::

    DIR/{train,valid,test}/{tumour,normal}/*.png|*.jpg|*.jpeg|*.tif|*.tiff
    DIR/patches.csv        optional: file,slide_id[,mask]

A patch in the tumour folder has label 1 and one in the normal folder label
0, as in PCam (Veeling et al., 2018); the class folder names can be changed
(``class_folders`` in the configuration). ``patches.csv`` gives, per image
(``file`` relative to DIR), its ``slide_id`` and optionally a ``mask`` image
(relative to DIR, non-zero = tumour). It lists every patch of a split or
none of them; a normal patch without a mask in a split with masks has none
of tumour. Images are read with Pillow as RGB uint8. Patches are square,
all of one size, from :data:`PATCH_SIDES` and a multiple of
:data:`~reportgen.metrics.agreement.POOL_CELL` (the agreement's cells tile
the map); the model takes them at that size or resizes them inside its
module (``--input-size``). A split's patches are sorted by path, so indices
are stable.

Everything is checked when the folder is opened (every image and mask is
decoded once), so a bad file is one DataError naming it and the fix before
any model work, as for PCam files (:mod:`reportgen.data.validate`). What a
team writes is in docs/data.md#image-folders.

The fingerprint hashes, per opened split: its name and size, every patch's
path, file size, label, slide id and mask path and size, and the file bytes
of its first, middle and last image.
"""

from __future__ import annotations

import hashlib
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reportgen.data.files import SPLITS, check_readable, find_file
from reportgen.data.patches_csv import PATCHES_CSV, PatchRow, read_patches_csv
from reportgen.data.reader import IndexedSplit, PatchBatch, PCamDataset
from reportgen.errors import DataError
from reportgen.metrics.agreement import POOL_CELL

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
#: Label of each class (PCam: 1 = tumour tissue in the centre region).
CLASS_LABELS = {"normal": 0, "tumour": 1}
#: Threads decoding images; Pillow releases the GIL while it decodes.
_DECODE_THREADS = min(4, os.cpu_count() or 1)
#: What a build needs each split for, said when its folder is missing.
_SPLIT_USES = {"train": "or pass --checkpoint: only training reads it",
               "valid": "or explain another split with --split", "test": "or explain another split with --split"}


def is_patch_folder(data_dir: Path) -> bool:
    """Whether ``data_dir`` is an image folder: a split folder and no PCam file."""
    if any(find_file(data_dir, split, part) for split in SPLITS for part in ("x", "y")):
        return False
    return any((data_dir / split).is_dir() for split in SPLITS)


def class_folder_names(class_folders: dict[str, str] | None) -> dict[str, str]:
    """Class -> folder name, the class names where ``class_folders`` names none."""
    given = dict(class_folders or {})
    return {name: given.get(name, name) for name in CLASS_LABELS}


# --------------------------------------------------------------------------- images


def _decoded(path: Path, pixels_of, what: str, fix: str) -> np.ndarray:
    """``pixels_of(image)`` of the image file ``path``; DataError naming it (as a ``what``) when it cannot be decoded."""
    from PIL import Image

    check_readable(path)
    try:
        with Image.open(path) as image:
            return pixels_of(image)
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as error:
        raise DataError(f"{path}: not a readable {what}, truncated or corrupt ({error}); {fix}") from error


def read_image(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB pixels of ``path``; DataError naming it when it cannot be decoded."""
    return _decoded(path, lambda image: np.asarray(image.convert("RGB"), dtype=np.uint8), "image",
                    "replace or remove it")


def read_mask(path: Path) -> np.ndarray:
    """(H, W) uint8 mask of ``path``, 1 where any channel is non-zero (tumour)."""
    pixels = _decoded(path, np.asarray, "mask image", "replace it")
    if pixels.ndim == 3:
        pixels = pixels.any(axis=2)
    return (pixels != 0).astype(np.uint8)


def _decode_all(read, paths: list[Path]) -> list:
    """``[read(path) for path in paths]``, in threads when there are many; the first failure in order is raised."""
    if _DECODE_THREADS < 2 or len(paths) < 16:
        return [read(path) for path in paths]
    with ThreadPoolExecutor(_DECODE_THREADS, thread_name_prefix="folder-decode") as pool:
        return list(pool.map(read, paths))


def _size_of(shape: tuple[int, ...]) -> str:
    """``"W x H"`` of an (H, W, ...) shape."""
    return f"{shape[1]}x{shape[0]}"


def _image_shape(path: Path) -> tuple[int, ...]:
    """(H, W, 3) of the decoded image (decoding it whole finds a truncated file)."""
    return read_image(path).shape


def _mask_shape(path: Path) -> tuple[int, ...]:
    return read_mask(path).shape


# --------------------------------------------------------------------------- splits


class FolderSplit(IndexedSplit):
    """One checked split of an image folder; decodes the asked images on each read.

    files : paths relative to the data folder (POSIX), sorted; index i is ``files[i]``.
    labels : (N,) int64, 1 for the tumour folder.
    slide_ids : (N,) object array from ``patches.csv``, or None.
    masks : mask path (relative) per patch, None for a normal patch without one; or None without masks.
    """

    def __init__(self, name: str, *, root: Path, files: list[str], labels: np.ndarray,
                 slide_ids: np.ndarray | None, masks: list[str | None] | None, patch_size: int) -> None:
        self.name = name
        self.root = root
        self.patch_size = patch_size
        self.files = files
        self.mask_files = masks
        self.has_masks = masks is not None
        self._labels = labels
        self._slide_ids = slide_ids

    def __repr__(self) -> str:
        return f"FolderSplit({self.name!r}, n={len(self)}, masks={self.has_masks})"

    def close(self) -> None:
        """Nothing stays open between reads."""

    def _read_checked(self, path: Path) -> np.ndarray:
        pixels = read_image(path)
        side = self.patch_size
        if pixels.shape != (side, side, 3):  # changed since the folder was opened
            raise DataError(f"{path}: image is {_size_of(pixels.shape)}, not {side}x{side}; the folder changed "
                            "after it was opened, run again")
        return pixels

    def _read_mask(self, relative: str | None) -> np.ndarray:
        if relative is None:
            return np.zeros((self.patch_size, self.patch_size), dtype=np.uint8)
        return read_mask(self.root / relative)

    def read(self, indices) -> PatchBatch:
        """Read patches by index, returned in the order asked.

        Returns
        -------
        PatchBatch with images (n, S, S, 3) uint8 (S = ``patch_size``), labels (n,) int64,
        masks (n, S, S) uint8 (1 = tumour) or None, indices (n,) int64.
        """
        wanted = self._index_array(indices)
        side = self.patch_size
        decoded = _decode_all(self._read_checked, [self.root / self.files[i] for i in wanted])
        images = np.stack(decoded) if decoded else np.zeros((0, side, side, 3), dtype=np.uint8)
        masks = None
        if self.mask_files is not None:
            masks = np.zeros((len(wanted), side, side), dtype=np.uint8)
            for row, index in enumerate(wanted):
                masks[row] = self._read_mask(self.mask_files[index])
        return PatchBatch(images=images, labels=self._labels[wanted], masks=masks, indices=wanted)


# --------------------------------------------------------------------------- checks


@dataclass(frozen=True)
class _Listed:
    """One split's image files (relative POSIX paths, sorted) and their labels."""

    files: list[str]
    labels: np.ndarray


def _list_split(data_dir: Path, split: str, folders: dict[str, str]) -> _Listed:
    split_dir = data_dir / split
    expected = " and ".join(f"{split}/{folder}/" for folder in folders.values())
    if not split_dir.is_dir():
        raise DataError(f"{split_dir}: split folder is missing; put the {split} patches in {expected} "
                        f"({_SPLIT_USES[split]})")
    by_folder = {folder: name for name, folder in folders.items()}
    for entry in sorted(split_dir.iterdir()):
        if not entry.name.startswith(".") and entry.name not in by_folder:
            raise DataError(f"{entry}: not a class folder of the {split} split (expected {expected}); move it out, or "
                            "name the class folders with class_folders in the configuration file (--config FILE)")
    files, labels = [], []
    for folder, name in by_folder.items():
        class_dir = split_dir / folder
        if not class_dir.is_dir():
            raise DataError(f"{class_dir}: class folder is missing; put the {split} split's {name} patches in it, or "
                            f'name the folder with class_folders = {{{name} = "..."}} in the configuration file (--config FILE)')
        found = []
        for entry in sorted(class_dir.iterdir()):
            if entry.name.startswith("."):
                continue  # .DS_Store and other hidden files
            if entry.is_dir():
                raise DataError(f"{entry}: a folder inside a class folder; put the images directly in {class_dir}")
            if entry.suffix.lower() not in IMAGE_SUFFIXES:
                raise DataError(f"{entry}: not an image file (reportgen reads {', '.join(IMAGE_SUFFIXES)}); "
                                f"remove it from {class_dir}")
            found.append(entry.relative_to(data_dir).as_posix())
        if not found:
            raise DataError(f"{class_dir}: class folder is empty; add the {split} split's {name} patches "
                            f"({', '.join(IMAGE_SUFFIXES)})")
        files += found
        labels += [CLASS_LABELS[name]] * len(found)
    order = sorted(range(len(files)), key=files.__getitem__)
    return _Listed([files[i] for i in order], np.asarray([labels[i] for i in order], dtype=np.int64))


#: The patch sides (pixels) an image folder may have, smallest and largest.
PATCH_SIDES = (32, 1024)


class _SizeCheck:
    """Every image of the data set has the first one's size, which must be square, within :data:`PATCH_SIDES`
    and a multiple of :data:`~reportgen.metrics.agreement.POOL_CELL`."""

    def __init__(self) -> None:
        self.first: tuple[Path, tuple[int, ...]] | None = None

    @property
    def side(self) -> int:
        """The side of the patches checked so far."""
        return self.first[1][0]

    def __call__(self, path: Path, shape: tuple[int, ...]) -> None:
        if shape[0] != shape[1]:
            raise DataError(f"{path}: image is {_size_of(shape)}; patches must be square, crop them to a square")
        if self.first is None:
            self.first = (path, shape)
            low, high = PATCH_SIDES
            if not low <= shape[0] <= high or shape[0] % POOL_CELL:
                raise DataError(f"{path}: patches are {_size_of(shape)}; reportgen reads square patches of {low} to "
                                f"{high} pixels, a multiple of {POOL_CELL} (96 and 224 are), crop or resize them")
        elif shape != self.first[1]:
            raise DataError(f"{path}: image is {_size_of(shape)} but {self.first[0]} is {_size_of(self.first[1])}; "
                            "every patch of a data set must have the same size")


def _split_rows(split: str, listed: _Listed, rows: dict[str, PatchRow] | None) -> list[PatchRow] | None:
    """The ``patches.csv`` row of every patch of the split, or None when it lists none of them."""
    if rows is None:
        return None
    found = [rows.get(file) for file in listed.files]
    missing = [file for file, row in zip(listed.files, found, strict=True) if row is None]
    if len(missing) == len(found):
        return None
    if missing:
        raise DataError(f"{PATCHES_CSV}: lists {len(found) - len(missing)} of the {len(found)} patches of {split}/ but "
                        f"not {missing[0]}; list every patch of a split (with its slide_id) or none of them")
    return found


def _check_masks(data_dir: Path, split: str, listed: _Listed, split_rows: list[PatchRow] | None,
                 side: int) -> list | None:
    """Each patch's mask path (None: a normal patch without one), checked; None when the split has no masks."""
    if split_rows is None or not any(row.mask for row in split_rows):
        return None
    masks = []
    for file, label, row in zip(listed.files, listed.labels, split_rows, strict=True):
        if row.mask is None and label == CLASS_LABELS["tumour"]:
            raise DataError(f"{PATCHES_CSV}: line {row.line}: tumour patch {file} has no mask while other patches of "
                            f"{split}/ have one; give it its mask (a normal patch may leave it empty: no tumour)")
        masks.append(row.mask)
    given = [mask for mask in masks if mask is not None]
    for mask, shape in zip(given, _decode_all(_mask_shape, [data_dir / mask for mask in given]), strict=True):
        if shape != (side, side):
            raise DataError(f"{data_dir / mask}: mask is {_size_of(shape)} but the patches are {side}x{side}; "
                            "a mask must have its patch's size")
    return masks


def _fingerprint_parts(data_dir: Path, split: FolderSplit) -> list:
    slides = split.slide_ids if split.slide_ids is not None else [None] * len(split)
    masks = split.mask_files if split.mask_files is not None else [None] * len(split)
    lines = []
    for file, label, slide, mask in zip(split.files, split.labels, slides, masks, strict=True):
        mask_size = None if mask is None else (data_dir / mask).stat().st_size
        lines.append(f"{file}\t{(data_dir / file).stat().st_size}\t{label}\t{slide}\t{mask}\t{mask_size}")
    sample = b"".join((data_dir / split.files[i]).read_bytes() for i in sorted({0, len(split) // 2, len(split) - 1}))
    return [split.name, len(split), hashlib.sha256("\n".join(lines).encode()).hexdigest(),
            hashlib.sha256(sample).hexdigest()]


def open_patch_folder(data_dir: str | Path, *, splits: tuple[str, ...] = ("train", "valid"),
                      class_folders: dict[str, str] | None = None) -> PCamDataset:
    """Open and check an image folder's ``splits`` (see the module docstring for the layout).

    Returns
    -------
    PCamDataset with ``source`` "folder" and a :class:`FolderSplit` per split;
    raises DataError with one line naming the file or folder for a missing
    split or class folder, an empty class folder, a file that is not a
    readable image, patches not square or of a side it does not take, a patch of
    another size than the first, a bad ``patches.csv`` or a mask of another size.
    """
    data_dir = Path(data_dir).expanduser()
    folders = class_folder_names(class_folders)
    # The layout first: a missing folder is the cause of the csv rows that name its files.
    listing = {name: _list_split(data_dir, name, folders) for name in splits}
    rows = read_patches_csv(data_dir)
    sizes = _SizeCheck()
    opened, parts = {}, ["folder"]
    for name, listed in listing.items():
        paths = [data_dir / file for file in listed.files]
        for path, shape in zip(paths, _decode_all(_image_shape, paths), strict=True):
            sizes(path, shape)
        split_rows = _split_rows(name, listed, rows)
        slide_ids = None if split_rows is None else np.asarray([row.slide_id for row in split_rows], dtype=object)
        opened[name] = FolderSplit(name, root=data_dir, files=listed.files, labels=listed.labels, slide_ids=slide_ids,
                                   masks=_check_masks(data_dir, name, listed, split_rows, sizes.side),
                                   patch_size=sizes.side)
        parts.extend(_fingerprint_parts(data_dir, opened[name]))
    fingerprint = hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:32]
    logger.debug("opened image folder %s: %s", data_dir, {name: len(split) for name, split in opened.items()})
    return PCamDataset(data_dir, opened, "folder", fingerprint)
