"""Reader for PatchCamelyon (Veeling et al., 2018) in its original HDF5 layout.

A data directory holds, per split, ``camelyonpatch_level_2_split_{split}_x.h5``
(dataset ``x`` (N, 96, 96, 3) uint8) and ``..._y.h5`` (dataset ``y``
(N, 1, 1, 1) uint8), each either plain or as the downloaded ``.h5.gz``.
Optional ``..._meta.csv`` files give the slide id (column ``wsi``). The
synthetic set (:mod:`reportgen.data.synth`) adds ``mask`` (N, 96, 96) uint8.

Everything is validated when the directory is opened, so a bad file fails in
the first second with one line naming it, not an hour into a run. Files stay
open once per process (the notebook reopened both files for every patch).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import logging
import os
import shutil
import struct
import tempfile
import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import h5py
import numpy as np
import torch
from h5py import h5z
from tqdm import tqdm

from reportgen.data.synth import DEMO_SIZES, GENERATOR_VERSION, PATCH_SIZE, SYNTHETIC_MARKER, write_synthetic_pcam
from reportgen.errors import ConfigError, DataError, unknown_name_error

logger = logging.getLogger(__name__)

PCAM_FILE = "camelyonpatch_level_2_split_{split}_{part}.h5"
META_FILE = "camelyonpatch_level_2_split_{split}_meta.csv"
SPLITS = ("train", "valid", "test")
IMAGE_SHAPE = (PATCH_SIZE, PATCH_SIZE, 3)

# Patches per contiguous read in iter_batches; 1024 RGB patches are 27 MiB.
BLOCK_SIZE = 1024
# HDF5 chunk cache per open file; the default 1 MiB is smaller than one PCam chunk.
_CHUNK_CACHE_BYTES = 64 * 2**20
_COPY_BYTES = 4 * 2**20
# Threads that inflate gzip chunks; zlib releases the GIL while it inflates.
_INFLATE_THREADS = min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
# Chunks inflated ahead of the one being copied out, per thread: bounds the memory of a large read.
_INFLATE_AHEAD = 2


def cache_root() -> Path:
    """``$REPORTGEN_CACHE`` if set, else ``~/.cache/reportgen``."""
    configured = os.environ.get("REPORTGEN_CACHE")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "reportgen"


# --------------------------------------------------------------------------- batches


@dataclass(frozen=True)
class PatchBatch:
    """Patches in the order they were asked for.

    images : (n, 96, 96, 3) uint8 RGB.
    labels : (n,) int64 in {0, 1}.
    masks : (n, 96, 96) uint8 (1 = tumour pixel), or None when the files have no masks.
    indices : (n,) int64 positions in the split.
    """

    images: np.ndarray
    labels: np.ndarray
    masks: np.ndarray | None
    indices: np.ndarray

    def __len__(self) -> int:
        return len(self.indices)


def as_float_tensor(images_uint8: np.ndarray) -> torch.Tensor:
    """Convert (n, H, W, 3) uint8 patches to a (n, 3, H, W) float32 tensor in [0, 1]."""
    images_uint8 = np.asarray(images_uint8)
    if images_uint8.dtype != np.uint8 or images_uint8.ndim != 4 or images_uint8.shape[-1] != 3:
        raise DataError(
            f"images have dtype {images_uint8.dtype} and shape {images_uint8.shape}; "
            "expected uint8 (n, H, W, 3) as read from the x dataset"
        )
    tensor = torch.from_numpy(np.ascontiguousarray(images_uint8)).permute(0, 3, 1, 2)
    return tensor.float().div_(255.0).contiguous()


# --------------------------------------------------------------------------- files


def _gzip_isize(path: Path) -> int:
    """Uncompressed size modulo 2**32, from the gzip trailer (RFC 1952)."""
    with open(path, "rb") as handle:
        magic = handle.read(2)
        if magic != b"\x1f\x8b":
            raise DataError(f"{path.name}: not a gzip file; re-download it or remove the .gz suffix if it is plain HDF5")
        handle.seek(-4, os.SEEK_END)
        return struct.unpack("<I", handle.read(4))[0]


def _decompress_once(gz_path: Path, cache_dir: Path) -> Path:
    """Decompress ``gz_path`` into ``cache_dir`` unless an up-to-date copy is there.

    The cache name carries a digest of the source path, size and mtime, so a
    replaced download gets a new copy. The copy is written under a temporary
    name and renamed into place only when the whole stream decompressed with a
    valid CRC and length, so a half-written copy is never used.
    """
    _check_readable(gz_path)
    stat = gz_path.stat()
    key = hashlib.sha256(f"{gz_path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    target = cache_dir / f"{key}-{gz_path.name[: -len('.gz')]}"
    if target.is_file():
        return target
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataError(f"cannot create cache directory {cache_dir}: {error.strerror}; pass a writable cache_dir") from error
    expected = _gzip_isize(gz_path)
    logger.info("decompressing %s into %s (once)", gz_path.name, cache_dir)
    handle, temp_name = tempfile.mkstemp(dir=cache_dir, prefix=f".partial-{target.name}.")
    written = 0
    try:
        with os.fdopen(handle, "wb") as out, gzip.open(gz_path, "rb") as source:
            while block := source.read(_COPY_BYTES):
                out.write(block)
                written += len(block)
        if written == 0 or written % 2**32 != expected:
            raise DataError(
                f"{gz_path.name}: decompressed {written} bytes but the gzip trailer says {expected}; "
                "the download is incomplete, download it again"
            )
        os.replace(temp_name, target)
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as error:
        raise DataError(
            f"{gz_path.name}: truncated or corrupt gzip stream ({type(error).__name__}: {error}); download it again"
        ) from error
    finally:
        if os.path.exists(temp_name):
            os.unlink(temp_name)
    return target


def _check_readable(path: Path) -> None:
    if not os.access(path, os.R_OK):
        raise DataError(f"{path}: file is not readable (permissions); run chmod +r on it or copy it somewhere readable")


def _open_h5(path: Path, shown_name: str) -> h5py.File:
    _check_readable(path)
    try:
        return h5py.File(path, "r", rdcc_nbytes=_CHUNK_CACHE_BYTES)
    except PermissionError as error:
        raise DataError(f"{shown_name}: file is not readable (permissions); run chmod +r on it") from error
    except OSError as error:
        raise DataError(f"{shown_name}: not a readable HDF5 file, truncated or corrupt ({error}); download it again") from error


def _find_file(data_dir: Path, split: str, part: str) -> Path | None:
    """The plain ``.h5`` if present, else the ``.h5.gz``, else None."""
    plain = data_dir / PCAM_FILE.format(split=split, part=part)
    if plain.is_file():
        return plain
    packed = plain.with_name(plain.name + ".gz")
    return packed if packed.is_file() else None


def _read_slide_ids(meta_path: Path, n_patches: int) -> np.ndarray:
    _check_readable(meta_path)
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


# --------------------------------------------------------------------------- splits


class PCamSplit:
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

    def __len__(self) -> int:
        return len(self._labels)

    def __repr__(self) -> str:
        return f"PCamSplit({self.name!r}, n={len(self)}, masks={self.has_masks})"

    @property
    def labels(self) -> np.ndarray:
        """(N,) int64 labels in {0, 1}, read once at open time."""
        return self._labels

    @property
    def slide_ids(self) -> np.ndarray | None:
        """(N,) object array of slide ids from the meta csv, or None without one."""
        return self._slide_ids

    def _datasets(self) -> dict[str, h5py.Dataset]:
        if self._file is None or self._pid != os.getpid():
            # After a fork the inherited handle belongs to the parent; open anew.
            self._file = _open_h5(self.x_path, self.x_source.name)
            self._pid = os.getpid()
            # Dataset objects are kept: HDF5's chunk cache lives and dies with them.
            self._open_datasets = {name: self._file[name] for name in ("x", "mask") if name in self._file}
            self._inflatable = {name: _whole_row_deflate(dataset) for name, dataset in self._open_datasets.items()}
        return self._open_datasets

    def close(self) -> None:
        """Close the HDF5 handle; the next read reopens it."""
        if self._file is not None and self._pid == os.getpid():
            self._file.close()
        self._file = None
        self._open_datasets = {}

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

    def block_order(self, *, indices=None, shuffle: bool = False, seed: int = 0, block_size: int = BLOCK_SIZE) -> list[np.ndarray]:
        """The visiting order of :meth:`iter_batches`, as a list of index blocks.

        With ``shuffle``, the sorted indices are cut into blocks of
        ``block_size`` neighbours, the blocks are visited in a random order and
        each block is permuted. This is not a uniform shuffle (a batch holds
        patches from one or two blocks), but every read is one contiguous span
        of the file; PCam's files are already in random order, so batches stay
        class-mixed.
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


# --------------------------------------------------------------------------- row reads


def _whole_row_deflate(dataset: h5py.Dataset) -> bool:
    """Whether each chunk of ``dataset`` holds whole rows compressed by gzip alone.

    Only then is a stored chunk one zlib stream (RFC 1950) of ``chunks``
    rows that can be inflated outside HDF5; any other layout or filter
    (shuffle, Fletcher-32, szip, uncompressed) is read through h5py.
    """
    if dataset.chunks is None or tuple(dataset.chunks[1:]) != tuple(dataset.shape[1:]):
        return False
    plist = dataset.id.get_create_plist()
    return plist.get_nfilters() == 1 and plist.get_filter(0)[0] == h5z.FILTER_DEFLATE


_pool: tuple[int, ThreadPoolExecutor] | None = None


def _inflate_pool() -> ThreadPoolExecutor | None:
    """This process's inflate threads (made anew after a fork); None on one CPU."""
    global _pool
    if _INFLATE_THREADS < 2:
        return None
    if _pool is None or _pool[0] != os.getpid():
        _pool = (os.getpid(), ThreadPoolExecutor(_INFLATE_THREADS, thread_name_prefix="pcam-inflate"))
    return _pool[1]


def _inflate(raw: bytes) -> bytes | None:
    """The inflated chunk, or None when the stream is damaged (HDF5 then reports it)."""
    try:
        return zlib.decompress(raw)
    except zlib.error:
        return None


def read_rows(dataset: h5py.Dataset, wanted: np.ndarray, *, inflate: bool = False) -> np.ndarray:
    """Rows ``wanted`` of ``dataset``, in the order asked; each chunk is decompressed once.

    Parameters
    ----------
    dataset : an h5py dataset whose first axis is the patch index.
    wanted : (n,) int64 rows in range, any order, repeats allowed.
    inflate : inflate gzip chunks with zlib in threads instead of through HDF5
        (default False); only for datasets where :func:`_whole_row_deflate`
        holds, and used when the read touches more than one chunk. HDF5
        decompresses a chunk under the GIL; zlib releases it, so chunks inflate
        in parallel.

    Returns
    -------
    (n,) + dataset.shape[1:] array of dataset.dtype, equal to
    ``np.stack([dataset[i] for i in wanted])``.
    """
    out = np.empty((len(wanted),) + dataset.shape[1:], dtype=dataset.dtype)
    if len(wanted) == 0:
        return out
    # HDF5 reads want increasing rows: visit them sorted, write each where it was asked.
    order = np.argsort(wanted, kind="stable")
    rows = wanted[order]
    chunk_rows = dataset.chunks[0] if dataset.chunks else 1
    chunk_ids = rows // chunk_rows
    if inflate and chunk_ids[0] != chunk_ids[-1]:
        _inflate_rows(dataset, rows, order, chunk_ids, out)
        return out
    # A run of consecutive rows is one read; scattered rows are read one span per
    # chunk they fall in, so a span never stretches over chunks nobody asked for.
    breaks = np.flatnonzero((np.diff(rows) > 1) & (np.diff(chunk_ids) > 0)) + 1
    for group in np.split(np.arange(len(rows)), breaks):
        start, stop = int(rows[group[0]]), int(rows[group[-1]]) + 1
        out[order[group]] = dataset[start:stop][rows[group] - start]
    return out


def _inflate_rows(dataset: h5py.Dataset, rows, order, chunk_ids, out: np.ndarray) -> None:
    """Fill ``out[order]`` with ``rows`` (sorted), inflating each chunk once in the pool.

    The raw chunks are read here (h5py holds its lock anyway); at most
    ``_INFLATE_AHEAD`` chunks per thread are in flight, so a read of a whole
    split never holds more than a few inflated chunks. A chunk that cannot be
    read raw (never written) or inflated (damaged) is read through h5py, which
    returns the fill value or raises HDF5's own error, as a plain read would.
    """
    chunk_shape = dataset.chunks
    chunk_rows = chunk_shape[0]
    chunk_bytes = int(np.prod(chunk_shape)) * dataset.dtype.itemsize
    pool = _inflate_pool()
    pending: deque = deque()

    def copy_out(group: np.ndarray, payload) -> None:
        first = int(chunk_ids[group[0]]) * chunk_rows
        data = payload.result() if isinstance(payload, Future) else payload
        if data is None or len(data) != chunk_bytes:
            block = dataset[first : min(first + chunk_rows, len(dataset))]
        else:
            block = np.frombuffer(data, dtype=dataset.dtype).reshape(chunk_shape)
        out[order[group]] = block[rows[group] - first]

    for group in np.split(np.arange(len(rows)), np.flatnonzero(np.diff(chunk_ids)) + 1):
        offset = (int(chunk_ids[group[0]]) * chunk_rows,) + (0,) * (dataset.ndim - 1)
        try:
            filter_mask, raw = dataset.id.read_direct_chunk(offset)
        except (OSError, RuntimeError, ValueError):
            payload = None
        else:
            if filter_mask & 1:
                payload = raw  # HDF5 stored this chunk without deflating it
            elif pool is None:
                payload = _inflate(raw)
            else:
                payload = pool.submit(_inflate, raw)
        pending.append((group, payload))
        if len(pending) > _INFLATE_THREADS * _INFLATE_AHEAD:
            copy_out(*pending.popleft())
    while pending:
        copy_out(*pending.popleft())


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


# --------------------------------------------------------------------------- validation


def _validate_split(data_dir: Path, split: str, cache_dir: Path) -> tuple[PCamSplit, bool, list]:
    """Open and check one split; returns the split, whether it is synthetic, and fingerprint parts."""
    sources = {part: _find_file(data_dir, split, part) for part in ("x", "y")}
    if sources["x"] is None or sources["y"] is None:
        expected = " and ".join(PCAM_FILE.format(split=split, part=part) for part in ("x", "y"))
        raise DataError(f"{data_dir}: split {split!r} is missing; expected {expected} (or .h5.gz); check the directory")
    paths = {
        part: _decompress_once(source, cache_dir) if source.name.endswith(".gz") else source
        for part, source in sources.items()
    }
    for part in ("x", "y"):
        if not sources[part].name.endswith(".gz"):
            _check_readable(paths[part])

    with _open_h5(paths["y"], sources["y"].name) as y_file:
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

    x_file = _open_h5(paths["x"], sources["x"].name)
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
    pcam_split = PCamSplit(
        split,
        x_path=paths["x"],
        y_path=paths["y"],
        x_source=sources["x"],
        y_source=sources["y"],
        labels=labels,
        has_masks=has_masks,
        chunk_rows=chunk_rows,
        slide_ids=slide_ids,
    )
    return pcam_split, synthetic, fingerprint_parts


class PCamDataset:
    """The validated splits of one data directory.

    Attributes
    ----------
    root : the data directory.
    source : "synthetic" when the files carry the generator's marker, else "pcam".
    splits : split name -> :class:`PCamSplit`.
    fingerprint : 16-byte hex digest (SHA-256, truncated) over, per split: its
        name, shape, the sizes of the (decompressed) x and y HDF5 files, whether
        masks exist, all labels, and the raw bytes of the first, middle and last
        image. Identical files give the same fingerprint wherever they live;
        it is a cheap identity check, not a whole-file hash of 7 GB.
    """

    def __init__(self, root: Path, splits: dict[str, PCamSplit], source: str, fingerprint: str) -> None:
        self.root = root
        self.splits = splits
        self.source = source
        self.fingerprint = fingerprint

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
) -> PCamDataset:
    """Open and validate a PCam directory.

    Parameters
    ----------
    data_dir : directory with the ``camelyonpatch_level_2_split_*`` files.
    splits : splits to open (default ("train", "valid")); each must be present.
    cache_dir : where ``.h5.gz`` files are decompressed once (default
        ``$REPORTGEN_CACHE/pcam-unzipped`` or ``~/.cache/reportgen/pcam-unzipped``).

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
    cache_dir = Path(cache_dir).expanduser() if cache_dir is not None else cache_root() / "pcam-unzipped"
    opened, synthetic_flags, parts = {}, [], []
    for name in splits:
        split, synthetic, fingerprint_parts = _validate_split(data_dir, name, cache_dir)
        opened[name] = split
        synthetic_flags.append(synthetic)
        parts.extend(fingerprint_parts)
    fingerprint = hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:32]
    source = "synthetic" if all(synthetic_flags) else "pcam"
    logger.info("opened %s (%s): %s", data_dir, source, {name: len(split) for name, split in opened.items()})
    return PCamDataset(data_dir, opened, source, fingerprint)


# --------------------------------------------------------------------------- demo data


def ensure_demo_data(cache_dir: str | Path | None = None, *, seed: int = 0, sizes: dict[str, int] | None = None) -> Path:
    """The synthetic demo set, generated on first use and reused afterwards.

    Parameters
    ----------
    cache_dir : parent directory (default ``$REPORTGEN_CACHE`` or ``~/.cache/reportgen``).
    seed : generator seed (default 0).
    sizes : patches per split (default ``DEMO_SIZES``); non-default sizes get their own directory.

    Returns
    -------
    ``cache_dir / synthetic-pcam-seed{seed}-v{GENERATOR_VERSION}`` (plus a size
    suffix for non-default sizes). It is generated in a temporary directory and
    renamed into place, so an interrupted run leaves nothing that looks complete.
    """
    sizes = dict(DEMO_SIZES if sizes is None else sizes)
    root = Path(cache_dir).expanduser() if cache_dir is not None else cache_root()
    name = f"synthetic-pcam-seed{seed}-v{GENERATOR_VERSION}"
    if sizes != DEMO_SIZES:
        name += "-" + "-".join(f"{sizes[split]}" for split in SPLITS)
    target = root / name
    if target.is_dir():
        return target
    root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=root, prefix=f".partial-{name}."))
    try:
        logger.info("generating synthetic demo data into %s", target)
        write_synthetic_pcam(scratch, seed=seed, n_train=sizes["train"], n_valid=sizes["valid"], n_test=sizes["test"])
        try:
            os.rename(scratch, target)
        except OSError:
            # Another process finished the same set first; theirs is identical.
            if not target.is_dir():
                raise
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)
    return target


# --------------------------------------------------------------------------- inspection


def inspect_data_dir(data_dir: str | Path, *, cache_dir: str | Path | None = None) -> dict:
    """Describe every split found in ``data_dir`` (what ``reportgen data inspect`` prints).

    Returns
    -------
    dict with ``root``, ``source``, ``fingerprint`` and ``splits``: split name ->
    {``n``, ``positives``, ``positive_share``, ``x_shape``, ``x_dtype``,
    ``y_shape``, ``y_dtype``, ``x_file``, ``y_file``, ``gzipped`` (.h5.gz
    download), ``compression`` (HDF5 filter of x, e.g. "gzip level 4"),
    ``chunks``, ``has_masks``, ``has_meta``, ``n_slides``}.
    """
    data_dir = Path(data_dir).expanduser()
    if not data_dir.is_dir():
        raise DataError(f"{data_dir}: data directory does not exist; pass the folder holding the PCam .h5 files")
    found = tuple(
        split for split in SPLITS if _find_file(data_dir, split, "x") is not None or _find_file(data_dir, split, "y") is not None
    )
    if not found:
        raise DataError(f"{data_dir}: no PCam files found; expected names like {PCAM_FILE.format(split='train', part='x')}")
    info: dict = {"root": str(data_dir), "splits": {}}
    with open_pcam(data_dir, splits=found, cache_dir=cache_dir) as dataset:
        info["source"] = dataset.source
        info["fingerprint"] = dataset.fingerprint
        for name, split in dataset.splits.items():
            with h5py.File(split.x_path, "r") as x_file, h5py.File(split.y_path, "r") as y_file:
                x, y = x_file["x"], y_file["y"]
                level = f" level {x.compression_opts}" if x.compression_opts is not None else ""
                info["splits"][name] = {
                    "n": len(split),
                    "positives": int(split.labels.sum()),
                    "positive_share": float(split.labels.mean()),
                    "x_shape": tuple(x.shape),
                    "x_dtype": str(x.dtype),
                    "y_shape": tuple(y.shape),
                    "y_dtype": str(y.dtype),
                    "x_file": split.x_source.name,
                    "y_file": split.y_source.name,
                    "gzipped": split.x_source.name.endswith(".gz") or split.y_source.name.endswith(".gz"),
                    "compression": f"{x.compression}{level}" if x.compression else "none",
                    "chunks": tuple(x.chunks) if x.chunks else None,
                    "has_masks": split.has_masks,
                    "has_meta": split.slide_ids is not None,
                    "n_slides": None if split.slide_ids is None else len(set(split.slide_ids)),
                }
    return info


def format_inspection(info: dict) -> str:
    """Human-readable lines for :func:`inspect_data_dir`'s result."""
    lines = [f"{info['root']}  source={info['source']}  fingerprint={info['fingerprint']}"]
    for name, split in info["splits"].items():
        slides = f", {split['n_slides']} slides" if split["has_meta"] else ""
        lines += [
            f"  {name}: {split['n']} patches, {split['positives']} positive ({split['positive_share']:.1%})",
            f"    x {split['x_shape']} {split['x_dtype']} in {split['x_file']}; y {split['y_shape']} {split['y_dtype']} in {split['y_file']}",
            f"    HDF5 compression {split['compression']}, chunks {split['chunks']}; "
            f"{'.h5.gz download' if split['gzipped'] else 'plain .h5'}",
            f"    masks: {'yes' if split['has_masks'] else 'no'}; meta csv: {'yes' + slides if split['has_meta'] else 'no'}",
        ]
    return "\n".join(lines)
