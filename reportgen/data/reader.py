"""Reading PatchCamelyon (Veeling et al., 2018): the opened directory, its splits, batches of patches.

:func:`open_pcam` checks every file of the asked splits up front
(:mod:`reportgen.data.validate`) and returns a :class:`PCamDataset`; its
:class:`PCamSplit` objects read patches by index without loading a whole
file. The synthetic set (:mod:`reportgen.data.synth`) adds ``mask``
(N, 96, 96) uint8. Files stay open once per process (the notebook reopened
both files for every patch).
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
from tqdm import tqdm

from reportgen.cache import default_cache_dir
from reportgen.data.files import PATCH_SIZE, SPLITS, open_h5
from reportgen.data.inflate import read_rows, whole_row_deflate
from reportgen.data.validate import check_split
from reportgen.errors import ConfigError, DataError, unknown_name_error

logger = logging.getLogger(__name__)

# Patches per contiguous read in iter_batches; 1024 RGB patches are 27 MiB.
BLOCK_SIZE = 1024


# --------------------------------------------------------------------------- batches


@dataclass(frozen=True)
class PatchBatch:
    """Patches in the order they were asked for.

    images : (n, S, S, 3) uint8 RGB, S the split's ``patch_size`` (96 for PCam).
    labels : (n,) int64 in {0, 1}.
    masks : (n, S, S) uint8 (1 = tumour pixel), or None when the files have no masks.
    indices : (n,) int64 positions in the split.
    """

    images: np.ndarray
    labels: np.ndarray
    masks: np.ndarray | None
    indices: np.ndarray

    def __len__(self) -> int:
        return len(self.indices)


def _take(batch: PatchBatch, where: slice) -> PatchBatch:
    return PatchBatch(
        images=batch.images[where],
        labels=batch.labels[where],
        masks=None if batch.masks is None else batch.masks[where],
        indices=batch.indices[where],
    )


def _concat(first: PatchBatch, second: PatchBatch) -> PatchBatch:
    return PatchBatch(
        images=np.concatenate([first.images, second.images]),
        labels=np.concatenate([first.labels, second.labels]),
        masks=None if first.masks is None else np.concatenate([first.masks, second.masks]),
        indices=np.concatenate([first.indices, second.indices]),
    )


# --------------------------------------------------------------------------- splits


class IndexedSplit:
    """What every split offers the pipeline: its patches by index, in blocks and in batches.

    A subclass sets ``name``, ``has_masks`` and the labels, and implements
    :meth:`read` and :meth:`close`; :meth:`block_order` and
    :meth:`iter_batches` are built on :meth:`read`.
    """

    name: str
    has_masks: bool
    #: Side of the split's square patches in pixels (96 for PCam).
    patch_size: int = PATCH_SIZE
    _labels: np.ndarray
    _slide_ids: np.ndarray | None

    def __len__(self) -> int:
        return len(self._labels)

    @property
    def labels(self) -> np.ndarray:
        """(N,) int64 labels in {0, 1}, read once at open time."""
        return self._labels

    @property
    def slide_ids(self) -> np.ndarray | None:
        """(N,) object array of slide ids, or None when the data give none."""
        return self._slide_ids

    def read(self, indices) -> PatchBatch:
        """The patches at ``indices`` ((n,) int array, any order, repeats allowed, or a slice), in that order."""
        raise NotImplementedError

    def close(self) -> None:
        """Release open files; the next read reopens them."""
        raise NotImplementedError

    def _index_array(self, indices) -> np.ndarray:
        if isinstance(indices, slice):
            return np.arange(*indices.indices(len(self)), dtype=np.int64)
        array = np.asarray(indices)
        if array.ndim != 1 or (array.size and not np.issubdtype(array.dtype, np.integer)):
            raise IndexError(f"indices must be a 1-D integer array or a slice, got dtype {array.dtype} shape {array.shape}")
        array = array.astype(np.int64)
        if array.size and (array.min() < 0 or array.max() >= len(self)):
            raise IndexError(f"index out of range for split {self.name!r} with {len(self)} patches")
        return array

    def block_order(self, *, indices=None, shuffle: bool = False, seed: int = 0, block_size: int = BLOCK_SIZE) -> list[np.ndarray]:
        """The visiting order of :meth:`iter_batches`, as a list of index blocks.

        With ``shuffle``, the sorted indices are cut into blocks of
        ``block_size`` neighbours, the blocks are visited in a random order and
        each block is permuted. This is not a uniform shuffle (a batch holds
        patches from one or two blocks), but every read of a PCam split is one
        contiguous span of the file; PCam's files are already in random order,
        so batches stay class-mixed.
        """
        order = np.arange(len(self), dtype=np.int64) if indices is None else np.sort(self._index_array(indices))
        blocks = [order[start : start + block_size] for start in range(0, len(order), block_size)]
        if shuffle:
            rng = np.random.default_rng(seed)
            blocks = [rng.permutation(blocks[b]) for b in rng.permutation(len(blocks))]
        return blocks

    def iter_batches(
        self,
        batch_size: int,
        *,
        indices=None,
        shuffle: bool = False,
        seed: int = 0,
        progress: bool = False,
    ) -> Iterator[PatchBatch]:
        """Yield :class:`PatchBatch` es covering every index exactly once.

        Parameters
        ----------
        batch_size : patches per batch; the last batch may be smaller.
        indices : (n,) int array restricting the pass, or None for the whole split (default).
        shuffle : visit blocks, and patches within blocks, in random order (default False);
            see :meth:`block_order` for the trade-off.
        seed : seed of the shuffle (default 0).
        progress : show a tqdm progress bar (default False).
        """
        if batch_size < 1:
            raise ConfigError(f"batch_size={batch_size}: must be at least 1")
        blocks = self.block_order(indices=indices, shuffle=shuffle, seed=seed)
        total = sum(len(block) for block in blocks)
        bar = tqdm(total=total, desc=f"reading {self.name}", unit="patch", disable=not progress)
        pending: PatchBatch | None = None
        try:
            for block in blocks:
                loaded = self.read(block)
                if pending is not None:
                    loaded = _concat(pending, loaded)
                start = 0
                while len(loaded) - start >= batch_size:
                    batch = _take(loaded, slice(start, start + batch_size))
                    start += batch_size
                    bar.update(len(batch))
                    yield batch
                pending = _take(loaded, slice(start, None)) if start < len(loaded) else None
            if pending is not None:
                bar.update(len(pending))
                yield pending
        finally:
            bar.close()


class PCamSplit(IndexedSplit):
    """One validated split; reads patches by index without loading the whole file.

    Use :meth:`read` for arbitrary indices and :meth:`iter_batches` for passes.
    The HDF5 files are opened lazily once per process and reopened after a
    fork (h5py handles must not be shared between processes, e.g. DataLoader
    workers). Reads touching several gzip chunks inflate them in threads
    (:func:`read_rows`); the arrays are exactly what h5py would return.
    """

    def __init__(
        self,
        name: str,
        *,
        x_path: Path,
        y_path: Path,
        x_source: Path,
        y_source: Path,
        labels: np.ndarray,
        has_masks: bool,
        chunk_rows: int,
        slide_ids: np.ndarray | None,
    ) -> None:
        self.name = name
        self.x_path, self.y_path = x_path, y_path
        self.x_source, self.y_source = x_source, y_source
        self.has_masks = has_masks
        self.chunk_rows = max(1, chunk_rows)
        self._labels = labels
        self._slide_ids = slide_ids
        self._file: h5py.File | None = None
        self._open_datasets: dict[str, h5py.Dataset] = {}
        self._inflatable: dict[str, bool] = {}
        self._pid: int | None = None

    def __repr__(self) -> str:
        return f"PCamSplit({self.name!r}, n={len(self)}, masks={self.has_masks})"

    def _datasets(self) -> dict[str, h5py.Dataset]:
        if self._file is None or self._pid != os.getpid():
            # After a fork the inherited handle belongs to the parent; open anew.
            self._file = open_h5(self.x_path, self.x_source.name)
            self._pid = os.getpid()
            # Dataset objects are kept: HDF5's chunk cache lives and dies with them.
            self._open_datasets = {name: self._file[name] for name in ("x", "mask") if name in self._file}
            self._inflatable = {name: whole_row_deflate(dataset) for name, dataset in self._open_datasets.items()}
        return self._open_datasets

    def close(self) -> None:
        """Close the HDF5 handle; the next read reopens it."""
        if self._file is not None and self._pid == os.getpid():
            self._file.close()
        self._file = None
        self._open_datasets = {}

    def read(self, indices) -> PatchBatch:
        """Read patches by index, returned in the order asked.

        Parameters
        ----------
        indices : (n,) int array (any order, repeats allowed) or a slice.

        Returns
        -------
        PatchBatch with images (n, 96, 96, 3) uint8, labels (n,) int64,
        masks (n, 96, 96) uint8 or None, indices (n,) int64.
        """
        wanted = self._index_array(indices)
        datasets = self._datasets()
        images = read_rows(datasets["x"], wanted, inflate=self._inflatable["x"])
        masks = read_rows(datasets["mask"], wanted, inflate=self._inflatable["mask"]) if self.has_masks else None
        return PatchBatch(images=images, labels=self._labels[wanted], masks=masks, indices=wanted)


# --------------------------------------------------------------------------- dataset


class PCamDataset:
    """The validated splits of one data directory.

    Attributes
    ----------
    root : the data directory.
    source : "synthetic" when the files carry the generator's marker, "folder"
        for an image folder (:mod:`reportgen.data.folder`), else "pcam".
    splits : split name -> :class:`PCamSplit` (:class:`~reportgen.data.folder.FolderSplit` for a folder).
    fingerprint : 16-byte hex digest (SHA-256, truncated) over, per split: its
        name, shape, the sizes of the (decompressed) x and y HDF5 files, whether
        masks exist, all labels, and the raw bytes of the first, middle and last
        image. Identical files give the same fingerprint wherever they live;
        it is a cheap identity check, not a whole-file hash of 7 GB. An image
        folder's fingerprint is described in :mod:`reportgen.data.folder`.
    """

    def __init__(self, root: Path, splits: dict[str, IndexedSplit], source: str, fingerprint: str) -> None:
        self.root = root
        self.splits = splits
        self.source = source
        self.fingerprint = fingerprint

    @property
    def patch_size(self) -> int:
        """Side of the data set's square patches in pixels: 96 for PCam, the images' own for an image folder
        (every split has the same, checked when the data were opened)."""
        return next(iter(self.splits.values())).patch_size

    def split(self, name: str) -> PCamSplit:
        """The split called ``name``; DataError naming it when it was not opened."""
        if name not in self.splits:
            raise DataError(
                f"{self.root}: split {name!r} was not opened (have: {', '.join(self.splits)}); "
                f"pass splits=(..., {name!r}) or add its files"
            )
        return self.splits[name]

    def close(self) -> None:
        for split in self.splits.values():
            split.close()

    def __enter__(self) -> PCamDataset:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        sizes = ", ".join(f"{name}={len(split)}" for name, split in self.splits.items())
        return f"PCamDataset({str(self.root)!r}, source={self.source!r}, {sizes})"


def open_pcam(
    data_dir: str | Path,
    *,
    splits: tuple[str, ...] = ("train", "valid"),
    cache_dir: str | Path | None = None,
    class_folders: dict[str, str] | None = None,
) -> PCamDataset:
    """Open and validate a PCam directory, or an image folder of patches.

    Parameters
    ----------
    data_dir : directory with the ``camelyonpatch_level_2_split_*`` files, or an
        image folder ``{train,valid,test}/{tumour,normal}/`` (:mod:`reportgen.data.folder`).
    splits : splits to open (default ("train", "valid")); each must be present.
    cache_dir : where ``.h5.gz`` files are decompressed once (default
        ``$REPORTGEN_CACHE/pcam-unzipped`` or ``~/.cache/reportgen/pcam-unzipped``).
    class_folders : an image folder's class folder names, ``{"tumour": ..., "normal": ...}``
        (default the class names); unused for PCam files.

    Returns
    -------
    PCamDataset; raises DataError with one line naming the file for any
    missing, unreadable, truncated or malformed file.
    """
    data_dir = Path(data_dir).expanduser()
    if not data_dir.is_dir():
        raise DataError(f"{data_dir}: data directory does not exist; pass the folder holding the PCam .h5 files")
    if isinstance(splits, str):
        splits = (splits,)
    for name in splits:
        if name not in SPLITS:
            raise unknown_name_error("split", name, list(SPLITS))
    if not splits:
        raise ConfigError("splits is empty; name at least one of: " + ", ".join(SPLITS))
    # Imported here: the folder module builds on this one's splits and batches.
    from reportgen.data.folder import is_patch_folder, open_patch_folder

    if is_patch_folder(data_dir):
        return open_patch_folder(data_dir, splits=splits, class_folders=class_folders)
    cache_dir = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir() / "pcam-unzipped"
    opened, synthetic_flags, parts = {}, [], []
    for name in splits:
        checked = check_split(data_dir, name, cache_dir)
        opened[name] = PCamSplit(
            name,
            x_path=checked.x_path,
            y_path=checked.y_path,
            x_source=checked.x_source,
            y_source=checked.y_source,
            labels=checked.labels,
            has_masks=checked.has_masks,
            chunk_rows=checked.chunk_rows,
            slide_ids=checked.slide_ids,
        )
        synthetic_flags.append(checked.synthetic)
        parts.extend(checked.fingerprint_parts)
    fingerprint = hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:32]
    source = "synthetic" if all(synthetic_flags) else "pcam"
    logger.debug("opened %s (%s): %s", data_dir, source, {name: len(split) for name, split in opened.items()})
    return PCamDataset(data_dir, opened, source, fingerprint)
