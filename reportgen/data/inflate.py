"""Row reads from chunked HDF5 datasets, with gzip chunks inflated in threads.

HDF5 decompresses a chunk under the GIL; zlib releases it. So where a
dataset's chunks are whole rows compressed by gzip alone, a read that touches
several chunks fetches the raw chunks and inflates them in a thread pool. The
arrays returned are exactly what h5py would return.
"""

from __future__ import annotations

import os
import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

import h5py
import numpy as np
from h5py import h5z

# Threads that inflate gzip chunks; zlib releases the GIL while it inflates.
_INFLATE_THREADS = min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
# Chunks inflated ahead of the one being copied out, per thread: bounds the memory of a large read.
_INFLATE_AHEAD = 2


def whole_row_deflate(dataset: h5py.Dataset) -> bool:
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
        (default False); only for datasets where :func:`whole_row_deflate`
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
