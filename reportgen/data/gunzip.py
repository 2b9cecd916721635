"""Decompression of downloaded ``.h5.gz`` files into a cache, once per download.

HDF5 cannot read a gzip stream, so a ``.h5.gz`` is inflated to a plain
``.h5`` the first time it is opened and the copy is reused afterwards.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import struct
import tempfile
import zlib
from pathlib import Path

from reportgen.cache import entry_lock
from reportgen.data.files import check_readable
from reportgen.errors import DataError

logger = logging.getLogger(__name__)

_COPY_BYTES = 4 * 2**20


def gzip_isize(path: Path) -> int:
    """Uncompressed size modulo 2**32, from the gzip trailer (RFC 1952)."""
    with open(path, "rb") as handle:
        magic = handle.read(2)
        if magic != b"\x1f\x8b":
            raise DataError(f"{path.name}: not a gzip file; re-download it or remove the .gz suffix if it is plain HDF5")
        handle.seek(-4, os.SEEK_END)
        return struct.unpack("<I", handle.read(4))[0]


def decompress_once(gz_path: Path, cache_dir: Path) -> Path:
    """Decompress ``gz_path`` into ``cache_dir`` unless an up-to-date copy is there.

    The cache name carries a digest of the source path, size and mtime, so a
    replaced download gets a new copy. The copy is written under a temporary
    name and renamed into place only when the whole stream decompressed with a
    valid CRC and length, so a half-written copy is never used; a second run
    that needs the same copy meanwhile waits for it (:func:`reportgen.cache.entry_lock`).
    """
    check_readable(gz_path)
    stat = gz_path.stat()
    key = hashlib.sha256(f"{gz_path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    target = cache_dir / f"{key}-{gz_path.name[: -len('.gz')]}"
    if target.is_file():
        return target
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataError(f"cannot create cache directory {cache_dir}: {error.strerror}; pass a writable cache_dir") from error
    # Two runs that start together on the same download decompress it once: the second waits and reuses it.
    with entry_lock(target, what=f"decompressing {gz_path.name}"):
        if target.is_file():
            return target
        _decompress(gz_path, target)
    return target


def _decompress(gz_path: Path, target: Path) -> None:
    """Inflate ``gz_path`` into ``target`` through a temporary file, checking the trailer's length."""
    cache_dir = target.parent
    expected = gzip_isize(gz_path)
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
